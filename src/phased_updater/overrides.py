"""The overrides: `source, version, problem` lines, wherever they come from.

`thing` takes one of the forms of `THING_FORMS`: an Error Tracker problem URL, an
Error Tracker bucket URL, the word `increased-rate`, or the word `unchecked` (let an
update with nothing to compare its crashes with phase without the Error Tracker's
checks: a new source, or a version the Error Tracker does not know). `thing_error` is
the one rule for what is accepted, here and in the charm's actions. Blank lines and `#` comments
are allowed. A malformed line is reported with its line number and skipped; the other
lines still apply, so one typo never un-overrides everything. A line that repeats an
earlier one (the same source, version and thing, wherever it was read) is reported as
a duplicate; the first one is in force.

Each override may carry its `Origin`: who added it, when and why (for a git branch,
the commit that introduced the line; for the charm's action, its `by` and `reason`).
The charm's actions are kept as a JSON file of records (`parse_records`); every other
file is the SRU team's CSV (`Overrides.parse`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from phased_updater.debian import is_source_name, is_version
from phased_updater.duration import format_timestamp, parse_timestamp
from phased_updater.model import Problem, ProblemKind

INCREASED_RATE = "increased-rate"
UNCHECKED = "unchecked"
# The words a line may give instead of a problem URL.
WORDS = (INCREASED_RATE, UNCHECKED)
_PROBLEM_PATH = re.compile(r"/problem/[0-9a-f]{40}/?")
_BUCKET_PATH = re.compile(r"/bucket/?")


def _split(thing: str) -> SplitResult | None:
    """The URL's parts; None for text urlsplit refuses ("https://[errors...": IPv6)."""
    try:
        return urlsplit(thing)
    except ValueError:
        return None


def _web_url(thing: str) -> SplitResult | None:
    parts = _split(thing)
    # A comma would split a line of the overrides file; whitespace would end it.
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return None if re.search(r"[\s,]", thing) else parts


def _is_problem_url(thing: str) -> bool:
    parts = _web_url(thing)
    return parts is not None and _PROBLEM_PATH.fullmatch(parts.path) is not None


def _is_bucket_url(thing: str) -> bool:
    parts = _web_url(thing)
    return (
        parts is not None
        and _BUCKET_PATH.fullmatch(parts.path) is not None
        and bool(parse_qs(parts.query).get("id"))
    )


@dataclass(frozen=True)
class ThingForm:
    """One accepted form of an override's third field."""

    description: str
    accepts: Callable[[str], bool]


# The accepted forms, in the order messages name them. A new token is one more row.
THING_FORMS: tuple[ThingForm, ...] = (
    ThingForm(
        "an Error Tracker problem URL (https://errors.ubuntu.com/problem/<sha1>)",
        _is_problem_url,
    ),
    ThingForm(
        "an Error Tracker bucket URL (https://errors.ubuntu.com/bucket/?id=...)",
        _is_bucket_url,
    ),
    ThingForm(f"the word {INCREASED_RATE}", lambda thing: thing == INCREASED_RATE),
    ThingForm(f"the word {UNCHECKED}", lambda thing: thing == UNCHECKED),
)


def thing_error(thing: str) -> str | None:
    """Why `thing` is not an override's third field; None when it is one.

    The same rule for every source of overrides: the files the engine reads and the
    charm's add-override action.
    """
    if any(form.accepts(thing) for form in THING_FORMS):
        return None
    try:
        urlsplit(thing)
    except ValueError as error:  # "https://[errors...": an unclosed IPv6 bracket
        return f"{thing!r} is not a URL ({error})"
    *others, last = (form.description for form in THING_FORMS)
    return f"{thing!r} is neither {', '.join(others)} nor {last}"


def json_text(data: dict[str, Any], name: str) -> str | None:
    """`data[name]` if it is a string: what a reader of a run's summary may trust."""
    value = data.get(name)
    return value if isinstance(value, str) else None


def json_timestamp(data: dict[str, Any], name: str) -> datetime | None:
    """`data[name]` as a timestamp, None if it is missing or not one."""
    text = json_text(data, name)
    try:
        return parse_timestamp(text) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Origin:
    """Where an override came from: who added it, when and why.

    For a git branch: the commit that introduced the line, its author, author date
    and subject (`boundary` when the history fetched ends at that commit, so the line
    may be older). For the charm's action: its `by`, time and `reason`. For a plain
    file, only `where`.
    """

    kind: str  # "git", "action" or "file"
    where: str  # the repository or file it was read from, credentials removed
    by: str | None = None
    at: datetime | None = None
    reason: str | None = None
    commit: str | None = None
    boundary: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "where": self.where,
            "by": self.by,
            "at": format_timestamp(self.at) if self.at else None,
            "reason": self.reason,
            "commit": self.commit,
            "boundary": self.boundary,
        }

    @classmethod
    def from_json(cls, data: object) -> Origin | None:
        """None for anything but what `to_json` writes: readers never fail on it."""
        if not isinstance(data, dict) or not all(
            isinstance(data.get(name), str) for name in ("kind", "where")
        ):
            return None
        return cls(
            kind=data["kind"],
            where=data["where"],
            by=json_text(data, "by"),
            at=json_timestamp(data, "at"),
            reason=json_text(data, "reason"),
            commit=json_text(data, "commit"),
            boundary=data.get("boundary") is True,
        )


@dataclass(frozen=True)
class Override:
    source: str
    version: str
    thing: str
    line: int = 0  # its line in the file it was read from (an entry's number for records)
    origin: Origin | None = None

    def to_csv(self) -> str:
        return f"{self.source}, {self.version}, {self.thing}"

    @property
    def key(self) -> tuple[str, str, str]:
        """What two overrides share when they say the same thing."""
        return (self.source, self.version, thing_key(self.thing))


@dataclass(frozen=True)
class OverrideError:
    line: int
    text: str
    reason: str
    where: str = ""  # the file or repository, for a reader with several sources
    unit: str = "line"  # "entry" in a file of records

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.reason}: {self.text!r}"


@dataclass(frozen=True)
class Duplicate:
    """An override that repeats one read before it (the first one is in force)."""

    override: Override
    first: Override


def normalise_url(url: str) -> str:
    """Compare problem URLs without caring about http/https or a trailing slash."""
    parts = _split(url.strip())
    if parts is None:
        return url.strip()  # no URL: it can only equal itself
    path = parts.path.rstrip("/") or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.netloc.lower()}{path}{query}"


def thing_key(thing: str) -> str:
    """What names an override's thing, in any spelling of a URL's scheme or trailing slash."""
    return thing if thing in WORDS else normalise_url(thing)


def problem_key(problem: Problem) -> str:
    """What names a problem across runs, as overrides and acknowledgements match it.

    The rate check has one problem per update, whatever its link; a crash is its
    problem URL, in any spelling of scheme or trailing slash.
    """
    if problem.kind is ProblemKind.INCREASED_RATE:
        return INCREASED_RATE
    return normalise_url(problem.url)


def check_fields(source: str, version: str, thing: str) -> str | None:
    """Why (source, version, thing) is not an override; None when it is one."""
    if not is_source_name(source):
        return f"{source!r} is not a valid source package name"
    if not is_version(version):
        return f"{version!r} is not a valid Debian version"
    return thing_error(thing)


def parse_line(text: str) -> Override | str | None:
    """An Override, None for a blank or comment line, or the reason the line is malformed."""
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    fields = [field.strip() for field in stripped.split(",")]
    if len(fields) != 3:
        return f"expected 3 comma-separated fields (source, version, problem), found {len(fields)}"
    source, version, thing = fields
    problem = check_fields(source, version, thing)
    return problem if problem is not None else Override(source, version, thing)


class Overrides:
    """A set of overrides, queried by the policy.

    `items` are the overrides in force (the first of each set of duplicates);
    `read` is every override read, in order; `duplicates` the repeats.
    """

    def __init__(self, items: Iterable[Override] = (), errors: Iterable[OverrideError] = ()):
        self.read = tuple(items)
        self.errors = tuple(errors)
        first: dict[tuple[str, str, str], Override] = {}
        duplicates: list[Duplicate] = []
        for item in self.read:
            earlier = first.setdefault(item.key, item)
            if earlier is not item:
                duplicates.append(Duplicate(item, earlier))
        self.items = tuple(first.values())
        self.duplicates = tuple(duplicates)
        self._by_key = first

    @classmethod
    def parse(
        cls,
        text: str,
        where: str = "",
        origin_of: Callable[[int], Origin | None] = lambda _line: None,
    ) -> Overrides:
        """The SRU team's CSV; `origin_of(line number)` says where each line came from
        (by default: the file `where`, nothing more)."""
        items: list[Override] = []
        errors: list[OverrideError] = []
        for number, line in enumerate(text.splitlines(), start=1):
            result = parse_line(line)
            if isinstance(result, Override):
                origin = origin_of(number) or (Origin("file", where) if where else None)
                items.append(Override(result.source, result.version, result.thing, number, origin))
            elif isinstance(result, str):
                errors.append(OverrideError(number, line.strip(), result, where))
        return cls(items, errors)

    @classmethod
    def load(cls, path: Path | None) -> Overrides:
        """A local file: the records of the charm's actions (`.json`) or the CSV."""
        if path is None:
            return cls()
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".json":
            return parse_records(text, str(path))
        return cls.parse(text, str(path))

    @classmethod
    def combine(cls, parts: Iterable[Overrides]) -> Overrides:
        """Several sources applied together; a repeat across sources is a duplicate."""
        parts = list(parts)
        return cls(
            [item for part in parts for item in part.read],
            [error for part in parts for error in part.errors],
        )

    def find(self, source: str, version: str, problem: Problem) -> Override | None:
        """The override in force that covers `problem`, if any."""
        return self._by_key.get((source, version, problem_key(problem)))

    def match(self, source: str, version: str, problem: Problem) -> str | None:
        """The override entry that covers `problem`, if any."""
        found = self.find(source, version, problem)
        if found is None:
            return None
        return INCREASED_RATE if found.thing == INCREASED_RATE else problem.url

    def unchecked(self, source: str, version: str) -> bool:
        """Whether a line lets this update phase without the Error Tracker's checks."""
        return (source, version, UNCHECKED) in self._by_key


RECORD_FIELDS = ("source", "version", "problem", "by", "reason", "at")


def parse_records(text: str, where: str) -> Overrides:
    """The charm's overrides: `{"overrides": [{source, version, problem, by, reason, at}]}`.

    A document that is not that shape raises ValueError (the charm wrote something
    else: a configuration problem); an entry with a bad field is reported like a
    malformed line, by its number, and skipped.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error})") from None
    entries = document.get("overrides") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError('expected {"overrides": [...]}')
    items: list[Override] = []
    errors: list[OverrideError] = []
    for number, entry in enumerate(entries, start=1):
        fields = entry if isinstance(entry, dict) else {}
        values = {name: fields.get(name, "") for name in RECORD_FIELDS}
        shown = ", ".join(str(values[name]) for name in ("source", "version", "problem"))
        if not all(isinstance(value, str) for value in values.values()):
            reason = f"expected the text fields {', '.join(RECORD_FIELDS)}"
            errors.append(OverrideError(number, shown, reason, where, "entry"))
            continue
        problem = check_fields(values["source"], values["version"], values["problem"])
        if problem is not None:
            errors.append(OverrideError(number, shown, problem, where, "entry"))
            continue
        try:
            at = parse_timestamp(values["at"]) if values["at"] else None
        except ValueError:
            at = None
        origin = Origin(
            "action", where, by=values["by"] or None, at=at, reason=values["reason"] or None
        )
        items.append(
            Override(values["source"], values["version"], values["problem"], number, origin)
        )
    return Overrides(items, errors)
