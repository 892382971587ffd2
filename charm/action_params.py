"""Action parameters, validated on arrival (ActionEvent.load_params raises ValueError)."""

from __future__ import annotations

from dataclasses import dataclass

from peer_data import Override

from phased_updater.debian import is_series_name, is_source_name, is_version
from phased_updater.overrides import thing_error

MAX_REASON = 500


def check_source(source: str) -> None:
    if not is_source_name(source):
        raise ValueError(
            f"source {source!r} is not a Debian source package name "
            "(lower-case letters, digits, '+', '-', '.'; at least two characters)"
        )


def check_version(version: str) -> None:
    if not is_version(version):
        raise ValueError(
            f"version {version!r} is not a Debian version ([epoch:]upstream[-revision])"
        )


def check_series(series: str) -> None:
    if not is_series_name(series):
        raise ValueError(f"series {series!r} is not a series name such as noble")


def check_problem(problem: str) -> None:
    """The engine's rule (`overrides.thing_error`), so both accept the same overrides."""
    reason = thing_error(problem)
    if reason is not None:
        raise ValueError(f"problem {reason}")


def check_line(name: str, text: str, *, required: bool) -> None:
    if required and not text.strip():
        raise ValueError(f"{name} must not be empty")
    if "\n" in text or "\r" in text or len(text) > MAX_REASON:
        raise ValueError(f"{name} must be one line of at most {MAX_REASON} characters")


@dataclass(frozen=True)
class OverrideParams:
    """add-override and remove-override: the override, who changes it and why."""

    source: str
    version: str
    problem: str
    # Required by actions.yaml; the defaults make a missing one a clear failure.
    by: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        check_source(self.source)
        check_version(self.version)
        check_problem(self.problem)
        check_line("by", self.by, required=True)
        check_line("reason", self.reason, required=True)

    def override(self, at: str) -> Override:
        """The record add-override keeps: `at` is when it was added."""
        return Override(
            self.source, self.version, self.problem, self.by.strip(), self.reason.strip(), at
        )


@dataclass(frozen=True)
class RunNowParams:
    dry_run: bool = False


MAX_JOURNAL_LINES = 500


@dataclass(frozen=True)
class ShowLastRunParams:
    lines: int = 20

    def __post_init__(self) -> None:
        if not 1 <= self.lines <= MAX_JOURNAL_LINES:
            raise ValueError(f"lines {self.lines!r} must be between 1 and {MAX_JOURNAL_LINES}")


@dataclass(frozen=True)
class HaltParams:
    source: str
    version: str
    series: str
    reason: str
    by: str = ""

    def __post_init__(self) -> None:
        check_source(self.source)
        check_version(self.version)
        check_series(self.series)
        check_line("reason", self.reason, required=True)
        check_line("by", self.by, required=False)


@dataclass(frozen=True)
class ResumeParams:
    source: str
    version: str
    series: str
    by: str
    reason: str

    def __post_init__(self) -> None:
        check_source(self.source)
        check_version(self.version)
        check_series(self.series)
        check_line("by", self.by, required=True)
        check_line("reason", self.reason, required=True)

    def key(self) -> tuple[str, str, str]:
        return (self.series, self.source, self.version)
