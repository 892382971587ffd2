"""Action parameters, validated on arrival (ActionEvent.load_params raises ValueError)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from peer_data import Override

from phased_updater.debian import is_series_name, is_source_name, is_version
from phased_updater.overrides import INCREASED_RATE

_PROBLEM_PATH = re.compile(r"/problem/[0-9a-f]{40}/?")
_BUCKET_PATH = re.compile(r"/bucket/?")
MAX_REASON = 500


def check_package(package: str) -> None:
    if not is_source_name(package):
        raise ValueError(
            f"package {package!r} is not a Debian source package name "
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
    if problem == INCREASED_RATE:
        return
    parts = urlsplit(problem)
    # A comma would split the overrides file's line; whitespace would end it.
    well_formed = (
        parts.scheme in ("http", "https")
        and bool(parts.netloc)
        and not re.search(r"[\s,]", problem)
    )
    is_problem = well_formed and _PROBLEM_PATH.fullmatch(parts.path) is not None
    is_bucket = (
        well_formed
        and _BUCKET_PATH.fullmatch(parts.path) is not None
        and bool(parse_qs(parts.query).get("id"))
    )
    if not (is_problem or is_bucket):
        raise ValueError(
            f"problem {problem!r} is neither an Error Tracker problem URL "
            "(https://errors.ubuntu.com/problem/<sha1> or "
            "https://errors.ubuntu.com/bucket/?id=...) "
            f"nor {INCREASED_RATE!r}"
        )


def check_line(name: str, text: str, *, required: bool) -> None:
    if required and not text.strip():
        raise ValueError(f"{name} must not be empty")
    if "\n" in text or "\r" in text or len(text) > MAX_REASON:
        raise ValueError(f"{name} must be one line of at most {MAX_REASON} characters")


@dataclass(frozen=True)
class OverrideParams:
    package: str
    version: str
    problem: str

    def __post_init__(self) -> None:
        check_package(self.package)
        check_version(self.version)
        check_problem(self.problem)

    def override(self) -> Override:
        return Override(self.package, self.version, self.problem)


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
    package: str
    version: str
    series: str
    reason: str
    by: str = ""

    def __post_init__(self) -> None:
        check_package(self.package)
        check_version(self.version)
        check_series(self.series)
        check_line("reason", self.reason, required=True)
        check_line("by", self.by, required=False)


@dataclass(frozen=True)
class ResumeParams:
    package: str
    version: str
    series: str
    by: str
    reason: str

    def __post_init__(self) -> None:
        check_package(self.package)
        check_version(self.version)
        check_series(self.series)
        check_line("by", self.by, required=True)
        check_line("reason", self.reason, required=True)

    def key(self) -> tuple[str, str, str]:
        return (self.series, self.package, self.version)
