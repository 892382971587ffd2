"""The SRU team's overrides file: `source, version, thing` a line.

`thing` is an Error Tracker problem URL, the word `increased-rate`, or the word
`unchecked` (let an update with nothing to compare its crashes with phase without the
Error Tracker's checks: a new source, or a version the Error Tracker does not know).
Blank lines and `#` comments are allowed. A malformed line is reported with its line
number and skipped; the other lines still apply, so one typo never un-overrides
everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from phased_updater.debian import is_source_name, is_version
from phased_updater.model import Problem, ProblemKind

INCREASED_RATE = "increased-rate"
UNCHECKED = "unchecked"
# The words a line may give instead of a problem URL.
WORDS = (INCREASED_RATE, UNCHECKED)


@dataclass(frozen=True)
class Override:
    source: str
    version: str
    thing: str
    line: int = 0

    def to_csv(self) -> str:
        return f"{self.source}, {self.version}, {self.thing}"


@dataclass(frozen=True)
class OverrideError:
    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}: {self.text!r}"


def normalise_url(url: str) -> str:
    """Compare problem URLs without caring about http/https or a trailing slash."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/") or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.netloc.lower()}{path}{query}"


def parse_line(text: str) -> Override | str | None:
    """An Override, None for a blank or comment line, or the reason the line is malformed."""
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    fields = [field.strip() for field in stripped.split(",")]
    if len(fields) != 3:
        return f"expected 3 comma-separated fields (source, version, thing), found {len(fields)}"
    source, version, thing = fields
    if not is_source_name(source):
        return f"{source!r} is not a valid source package name"
    if not is_version(version):
        return f"{version!r} is not a valid Debian version"
    if thing not in WORDS:
        try:
            parts = urlsplit(thing)
        except ValueError as error:  # "https://[errors...": an unclosed IPv6 bracket
            return f"{thing!r} is not a URL ({error})"
        if parts.scheme not in ("http", "https") or not parts.netloc:
            words = " nor ".join(repr(word) for word in WORDS)
            return f"{thing!r} is neither an Error Tracker problem URL nor {words}"
    return Override(source, version, thing)


class Overrides:
    """A set of overrides, queried by the policy."""

    def __init__(self, items: Iterable[Override] = (), errors: Iterable[OverrideError] = ()):
        self.items = tuple(items)
        self.errors = tuple(errors)
        self._things: dict[tuple[str, str], set[str]] = {}
        for item in self.items:
            thing = item.thing if item.thing in WORDS else normalise_url(item.thing)
            self._things.setdefault((item.source, item.version), set()).add(thing)

    @classmethod
    def parse(cls, text: str) -> Overrides:
        items: list[Override] = []
        errors: list[OverrideError] = []
        for number, line in enumerate(text.splitlines(), start=1):
            result = parse_line(line)
            if isinstance(result, Override):
                items.append(Override(result.source, result.version, result.thing, number))
            elif isinstance(result, str):
                errors.append(OverrideError(number, line.strip(), result))
        return cls(items, errors)

    @classmethod
    def load(cls, path: Path | None) -> Overrides:
        if path is None:
            return cls()
        return cls.parse(path.read_text(encoding="utf-8", errors="replace"))

    def match(self, source: str, version: str, problem: Problem) -> str | None:
        """The override entry that covers `problem`, if any."""
        things = self._things.get((source, version), set())
        if problem.kind is ProblemKind.INCREASED_RATE and INCREASED_RATE in things:
            return INCREASED_RATE
        if normalise_url(problem.url) in things:
            return problem.url
        return None

    def unchecked(self, source: str, version: str) -> bool:
        """Whether a line lets this update phase without the Error Tracker's checks."""
        return UNCHECKED in self._things.get((source, version), set())


def problem_key(problem: Problem) -> str:
    """What names a problem across runs, as overrides and acknowledgements match it.

    The rate check has one problem per update, whatever its link; a crash is its
    problem URL, in any spelling of scheme or trailing slash.
    """
    if problem.kind is ProblemKind.INCREASED_RATE:
        return INCREASED_RATE
    return normalise_url(problem.url)
