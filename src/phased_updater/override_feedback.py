"""What a run says about its overrides: where they came from, and what is wrong with them.

Pure: no I/O and no clock. After a cycle, `OverridesReport.build` takes the overrides
read, the state of each source (a git fetch may have failed, or found the branch
rewritten) and the updates the run saw, and finds:

- malformed lines (with their number and reason) and duplicates, as read;
- overrides that match no update being phased or stopped, with a hint when a near
  version or name is phasing ("did you mean 1.2-1ubuntu0.2?"). The SRU team's file
  keeps every override it ever had, so a line is checked only while it may still be
  meant for a current update: one added within `RECENT` (an undated line always is)
  for an update no run of this installation ever decided on. The others are counted,
  not listed.

The report is kept in the run's summary (`to_json`), so the HTML and JSON report and
`phased-updater report` show it again without the sources. `HowToOverride` says how
to add an override in this deployment's own terms, for the report and the stop mail.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from phased_updater.duration import format_duration, format_timestamp
from phased_updater.model import Problem, ProblemKind
from phased_updater.overrides import (
    INCREASED_RATE,
    Duplicate,
    Origin,
    Override,
    OverrideError,
    Overrides,
    json_text,
    json_timestamp,
)

# The fields an `override_command` template may use.
COMMAND_FIELDS = ("source", "version", "problem")
# The team that reviews and adds overrides.
SRU_TEAM = "ubuntu-sru"
# An override added longer ago than this, for no update being phased, is not listed as
# matching none: it was meant for an update long gone (SRUs phase within weeks).
RECENT = timedelta(days=90)


def thing_for(problem: Problem) -> str:
    """The third field of the override that covers `problem`."""
    return INCREASED_RATE if problem.kind is ProblemKind.INCREASED_RATE else problem.url


@dataclass(frozen=True)
class HowToOverride:
    """How this deployment takes a new override.

    With a repository: a change proposed to its branch and file. Else with a command
    (the charm's `juju run ... add-override`): that command. Else: a line added to
    the local file.
    """

    repository: str | None = None  # credentials removed
    branch: str | None = None
    path: str | None = None
    command: str | None = None  # a template with {source}, {version}, {problem}
    file: str | None = None

    def request(self, team: str) -> str:
        """The sentence that introduces the lines or commands of `step`, ending in a colon."""
        if self.repository:
            return (
                f"propose a change to {self.path} on branch {self.branch} of"
                f" {self.repository} adding these lines (the SRU team, {team}, reviews"
                " and merges it):"
            )
        if self.command:
            return f"ask the SRU team ({team}) for an override. They would run:"
        return (
            f"ask the SRU team ({team}) for an override. They would add these lines to"
            " the overrides file:"
        )

    def step(self, source: str, version: str, problem: Problem | str) -> str:
        """The line to add, or the command to run, that overrides `problem` (or says
        `thing`, e.g. `unchecked`)."""
        thing = problem if isinstance(problem, str) else thing_for(problem)
        if self.command and not self.repository:
            values = (shlex.quote(value) for value in (source, version, thing))
            return self.command.format(**dict(zip(COMMAND_FIELDS, values, strict=True)))
        return Override(source, version, thing).to_csv()

    def command_example(self) -> str | None:
        """The command with placeholders for the values, e.g. for the report."""
        if not self.command:
            return None
        return self.command.format(source="SOURCE", version="VERSION", problem="PROBLEM-URL")

    def to_json(self) -> dict[str, str | None]:
        return {
            "repository": self.repository,
            "branch": self.branch,
            "path": self.path,
            "command": self.command,
            "file": self.file,
        }

    @classmethod
    def from_json(cls, data: object) -> HowToOverride:
        if not isinstance(data, dict):
            return cls()
        names = ("repository", "branch", "path", "command", "file")
        values = {name: data.get(name) for name in names}
        return cls(**{k: v if isinstance(v, str) else None for k, v in values.items()})


@dataclass(frozen=True)
class SourceStatus:
    """One place overrides were read from, as the run found it."""

    kind: str  # "git", "file" (the CSV) or "actions" (the charm's records)
    where: str  # the repository URL or file path, credentials removed
    branch: str | None = None
    path: str | None = None  # the file inside the repository
    commit: str | None = None  # the commit the overrides were read at
    fetched_at: datetime | None = None  # when that copy was fetched
    fetch_failed: str | None = None  # this run's fetch failed, so an earlier copy is used
    history_changed: str | None = None  # the branch was force-pushed or rewritten
    count: int = 0  # overrides read from it

    def failure(self, now: datetime) -> str | None:
        """The run's failure when the fetch failed: which copy is used instead, and why."""
        if self.fetch_failed is None:
            return None
        shown_age = ""
        if self.fetched_at is not None:
            minutes = round(max(now - self.fetched_at, timedelta(0)) / timedelta(minutes=1))
            shown_age = f", {format_duration(timedelta(minutes=minutes))} old"
        commit = (self.commit or "unknown")[:12]
        return f"overrides as of commit {commit}{shown_age}: fetch failed: {self.fetch_failed}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "where": self.where,
            "branch": self.branch,
            "path": self.path,
            "commit": self.commit,
            "fetched_at": format_timestamp(self.fetched_at) if self.fetched_at else None,
            "fetch_failed": self.fetch_failed,
            "history_changed": self.history_changed,
            "count": self.count,
        }

    @classmethod
    def from_json(cls, data: object) -> SourceStatus | None:
        if not isinstance(data, dict) or not all(
            isinstance(data.get(name), str) for name in ("kind", "where")
        ):
            return None
        count = data.get("count")
        return cls(
            kind=data["kind"],
            where=data["where"],
            branch=json_text(data, "branch"),
            path=json_text(data, "path"),
            commit=json_text(data, "commit"),
            fetched_at=json_timestamp(data, "fetched_at"),
            fetch_failed=json_text(data, "fetch_failed"),
            history_changed=json_text(data, "history_changed"),
            count=count if isinstance(count, int) and not isinstance(count, bool) else 0,
        )


@dataclass(frozen=True)
class Unmatched:
    """An override that matches no update being phased or stopped."""

    override: Override
    hint: str | None  # "did you mean 1.2-1ubuntu0.2?"


def place(override: Override) -> str:
    """Where an override was read: "<file or repository> line N"."""
    where = override.origin.where if override.origin else ""
    unit = "entry" if override.origin and override.origin.kind == "action" else "line"
    return f"{where} {unit} {override.line}".strip()


def describe(origin: Origin | None) -> str:
    """Who added an override, when and why, in a few words ("" when unknown)."""
    if origin is None or origin.kind not in ("git", "action"):
        return ""
    when = f" on {origin.at:%Y-%m-%d}" if origin.at else ""
    why = f": {origin.reason}" if origin.reason else ""
    if origin.kind == "git":
        commit = (origin.commit or "")[:12]
        at = "in or before" if origin.boundary else "in"
        return f"added {at} commit {commit} by {origin.by or 'unknown'}{when}{why}"
    return f"added by {origin.by or 'unknown'} with add-override{when}{why}"


def hint(override: Override, phasing: dict[str, set[str]]) -> str | None:
    """A near version of the same source, or a near name, among the updates phasing."""
    versions = phasing.get(override.source)
    if versions:
        [nearest] = difflib.get_close_matches(override.version, sorted(versions), n=1, cutoff=0)
        return f"did you mean {nearest}?"
    names = difflib.get_close_matches(override.source, sorted(phasing), n=1, cutoff=0.75)
    if not names:
        return None
    [name] = names
    [nearest] = difflib.get_close_matches(override.version, sorted(phasing[name]), n=1, cutoff=0)
    return f"did you mean {name} {nearest}?"


def _override_json(override: Override) -> dict[str, Any]:
    return {
        "source": override.source,
        "version": override.version,
        "problem": override.thing,
        "line": override.line,
        "origin": override.origin.to_json() if override.origin else None,
    }


def _override_from_json(data: object) -> Override | None:
    if not isinstance(data, dict):
        return None
    # "problem" since report schema 7, as the file's third field is called everywhere;
    # runs recorded before it said "thing".
    values = [data.get("source"), data.get("version"), data.get("problem", data.get("thing"))]
    line = data.get("line")
    if not all(isinstance(value, str) for value in values) or not isinstance(line, int):
        return None
    source, version, thing = (str(value) for value in values)
    return Override(source, version, thing, line, Origin.from_json(data.get("origin")))


def _error_json(error: OverrideError) -> dict[str, Any]:
    return {
        "where": error.where,
        "line": error.line,
        "unit": error.unit,
        "text": error.text,
        "reason": error.reason,
    }


def _error_from_json(data: object) -> OverrideError | None:
    if not isinstance(data, dict):
        return None
    where, text, reason, unit = (data.get(name) for name in ("where", "text", "reason", "unit"))
    line = data.get("line")
    if not all(isinstance(value, str) for value in (where, text, reason, unit)):
        return None
    if not isinstance(line, int):
        return None
    return OverrideError(line, str(text), str(reason), str(where), str(unit))


def _items(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class OverridesReport:
    """The overrides of one run, as its summary keeps them and the report shows them."""

    sources: tuple[SourceStatus, ...] = ()
    in_force: tuple[Override, ...] = ()  # overrides of the updates the run saw
    other: int = 0  # overrides in force for no update the run saw, and not listed below
    malformed: tuple[OverrideError, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    unmatched: tuple[Unmatched, ...] = ()
    how_to: HowToOverride = HowToOverride()

    @classmethod
    def build(
        cls,
        overrides: Overrides,
        sources: Iterable[SourceStatus],
        updates: Iterable[tuple[str, str]],
        decided: Collection[tuple[str, str]],
        recent_since: datetime,
        how_to: HowToOverride,
    ) -> OverridesReport:
        """`updates`: (source, version) of every update the run decided on or could not
        evaluate; `decided`: every one any run of this installation decided on."""
        current = set(updates)
        phasing: dict[str, set[str]] = {}
        for source, version in current:
            phasing.setdefault(source, set()).add(version)
        in_force, unmatched, other = [], [], 0
        for item in overrides.items:
            key = (item.source, item.version)
            if key in current:
                in_force.append(item)
                continue
            at = item.origin.at if item.origin else None
            if key in decided or (at is not None and at < recent_since):
                other += 1  # meant for an update that is done, or long gone
                continue
            unmatched.append(Unmatched(item, hint(item, phasing)))
        return cls(
            sources=tuple(sources),
            in_force=tuple(in_force),
            other=other,
            malformed=overrides.errors,
            duplicates=overrides.duplicates,
            unmatched=tuple(unmatched),
            how_to=how_to,
        )

    @property
    def lookup(self) -> Overrides:
        """The overrides in force, to find the one that covers a problem."""
        return Overrides(self.in_force)

    def warnings(self) -> list[str]:
        """One line per problem with a line or a source, for the run's log."""
        lines = [
            f"overrides: {source.where}: {source.history_changed}"
            for source in self.sources
            if source.history_changed
        ]
        lines += [
            f"overrides: {error.where} {error} ({error.unit} skipped)".replace("  ", " ")
            for error in self.malformed
        ]
        lines += [
            f"overrides: {place(d.override)}: {d.override.to_csv()} repeats {place(d.first)}"
            for d in self.duplicates
        ]
        lines += [
            f"overrides: {place(u.override)}: {u.override.to_csv()} matches no update being"
            f" phased or stopped{'; ' + u.hint if u.hint else ''}"
            for u in self.unmatched
        ]
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "sources": [source.to_json() for source in self.sources],
            "in_force": [_override_json(item) for item in self.in_force],
            "other": self.other,
            "malformed": [_error_json(error) for error in self.malformed],
            "duplicates": [
                {"override": _override_json(d.override), "first": _override_json(d.first)}
                for d in self.duplicates
            ],
            "unmatched": [
                {"override": _override_json(u.override), "hint": u.hint} for u in self.unmatched
            ],
            "how_to": self.how_to.to_json(),
        }

    @classmethod
    def from_json(cls, data: object) -> OverridesReport | None:
        """None for a run recorded before overrides were kept: readers never fail on it."""
        if not isinstance(data, dict):
            return None
        duplicates = []
        for entry in _items(data, "duplicates"):
            pair = entry if isinstance(entry, dict) else {}
            repeat, first = (_override_from_json(pair.get(k)) for k in ("override", "first"))
            if repeat is not None and first is not None:
                duplicates.append(Duplicate(repeat, first))
        unmatched = []
        for entry in _items(data, "unmatched"):
            found = entry if isinstance(entry, dict) else {}
            item = _override_from_json(found.get("override"))
            if item is not None:
                shown = found.get("hint")
                unmatched.append(Unmatched(item, shown if isinstance(shown, str) else None))
        other = data.get("other")
        return cls(
            sources=tuple(
                s for s in map(SourceStatus.from_json, _items(data, "sources")) if s is not None
            ),
            in_force=tuple(
                o for o in map(_override_from_json, _items(data, "in_force")) if o is not None
            ),
            other=other if isinstance(other, int) and not isinstance(other, bool) else 0,
            malformed=tuple(
                e for e in map(_error_from_json, _items(data, "malformed")) if e is not None
            ),
            duplicates=tuple(duplicates),
            unmatched=tuple(unmatched),
            how_to=HowToOverride.from_json(data.get("how_to")),
        )
