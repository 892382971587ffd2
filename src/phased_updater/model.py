"""Plain facts read from Launchpad and the Error Tracker, and the decisions made on them.

Everything here is an immutable value: readers build them, the policy consumes them,
the store and the report serialise them. Nothing here performs I/O; the only import
from the engine is `duration`, for the one textual form of a timestamp.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from phased_updater.duration import format_timestamp as _timestamp
from phased_updater.duration import parse_timestamp as _parse

FULLY_PHASED = 100


class UpdateKey(NamedTuple):
    """Names one update everywhere: in the store, the report, halts and mail."""

    series: str
    source: str
    version: str

    def __str__(self) -> str:
        return f"{self.series} {self.source} {self.version}"


class State(enum.StrEnum):
    """Where an update stands after a run (the `state` of phased-updates.json)."""

    PHASING = "phasing"
    STOPPED = "stopped"
    COMPLETE = "complete"
    UNKNOWN = "unknown"
    HALTED = "halted"  # stopped by a person: `phased-updater halt`, or on Launchpad
    HELD = "held"  # nothing to compare its crashes with: waits for a person to let it phase


class Action(enum.StrEnum):
    """What a run decided to do to an update's percentage."""

    ADVANCE = "advance"  # one step up (to 100 means complete)
    WAIT = "wait"  # healthy, but not yet an interval at this level
    STOP = "stop"  # a problem remains: down to 0 (also: a stop found on Launchpad, recorded)
    KEEP_STOPPED = "keep-stopped"  # stopped, and not every problem of the stop is resolved
    RESUME = "resume"  # every problem resolved, or a person resumed it: back to its peak
    HALT = "halt"  # halted with `phased-updater halt`: to 0, never resumed by the engine
    HOLD = "hold"  # left as it is for a person: their stop on Launchpad, or nothing to compare
    # Healthy and phasing, but held at its level because a member of its phasing group
    # is stopped or halted (the state stays `phasing`): it moves again with the group.
    GROUP_HOLD = "group-hold"
    UNKNOWN = "unknown"  # the Error Tracker could not answer: nothing changes


class ProblemKind(enum.StrEnum):
    NEW_CRASH = "new-crash"
    INCREASED_RATE = "increased-rate"


@dataclass(frozen=True)
class Series:
    name: str
    version: str  # "22.04"
    self_link: str
    # Where its architectures are listed, as the listing of the series gave it: then
    # any client lists them in one request. Not part of what the series is.
    architectures_link: str | None = field(default=None, compare=False, repr=False)

    @property
    def release(self) -> str:
        """The Error Tracker's name for the series, e.g. "Ubuntu 22.04"."""
        return f"Ubuntu {self.version}"


@dataclass(frozen=True)
class BinaryPublication:
    """The newest active (Pending or Published) record of one binary on one architecture."""

    self_link: str
    name: str
    arch_link: str
    percentage: int  # Launchpad's None (fully phased) is stored as FULLY_PHASED
    is_debug: bool
    date_created: datetime
    # Who set this level, as Launchpad's record says: the account that ran
    # changeOverride (`creator_link`), or None for the copy to -updates itself.
    set_by: str | None = None
    # The level of the record this one replaced; None for the copy's own record.
    previous_percentage: int | None = None

    @property
    def changed_after_release(self) -> bool:
        return self.previous_percentage is not None

    @property
    def lowered(self) -> bool:
        return self.previous_percentage is not None and self.percentage < self.previous_percentage

    @property
    def raised(self) -> bool:
        return self.previous_percentage is not None and self.percentage > self.previous_percentage


@dataclass(frozen=True)
class Update:
    """One source publication in -updates whose binaries are phasing."""

    series: Series
    source: str
    version: str
    previous_version: str | None
    date_published: datetime
    self_link: str
    signer_link: str | None
    creator_link: str | None
    binaries: tuple[BinaryPublication, ...]
    # The highest percentage any non-debug binary of this publication ever had.
    highest_percentage: int

    @property
    def key(self) -> UpdateKey:
        return UpdateKey(self.series.name, self.source, self.version)

    @property
    def debs(self) -> tuple[BinaryPublication, ...]:
        return tuple(b for b in self.binaries if not b.is_debug)

    @property
    def percentage(self) -> int:
        """The level the update is at: the highest of the debs that carry a p-u-p.

        After a partial write that is the level it was moving to. A deb without one (a
        binary published late, or fully phased by hand) says nothing of the upload's
        level: it never makes the whole upload complete. Writing the decision brings it
        to the upload's level, as it brings every other deb, because apt phases a
        source's binaries together (one draw per source and version).
        """
        phasing = [b.percentage for b in self.debs if b.percentage < FULLY_PHASED]
        return max(phasing, default=FULLY_PHASED)

    @property
    def consistent(self) -> bool:
        return len({b.percentage for b in self.debs}) <= 1

    @property
    def since(self) -> datetime:
        """When the update reached its current level, as Launchpad recorded it."""
        level = self.percentage
        return min(
            (b.date_created for b in self.debs if b.percentage == level),
            default=self.date_published,
        )

    def to_json(self) -> dict[str, Any]:
        """Everything read from Launchpad, so that `from_json` gives back an equal value."""
        return {
            "series": {
                "name": self.series.name,
                "version": self.series.version,
                "self_link": self.series.self_link,
            },
            "source": self.source,
            "version": self.version,
            "previous_version": self.previous_version,
            "date_published": self.date_published.isoformat(),
            "self_link": self.self_link,
            "signer_link": self.signer_link,
            "creator_link": self.creator_link,
            "binaries": [
                {
                    "self_link": b.self_link,
                    "name": b.name,
                    "arch_link": b.arch_link,
                    "percentage": b.percentage,
                    "is_debug": b.is_debug,
                    "date_created": b.date_created.isoformat(),
                    "set_by": b.set_by,
                    "previous_percentage": b.previous_percentage,
                }
                for b in self.binaries
            ],
            "highest_percentage": self.highest_percentage,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Update:
        return cls(
            series=Series(**data["series"]),
            source=data["source"],
            version=data["version"],
            previous_version=data["previous_version"],
            date_published=_parse(data["date_published"]),
            self_link=data["self_link"],
            signer_link=data["signer_link"],
            creator_link=data["creator_link"],
            binaries=tuple(
                BinaryPublication(**{**b, "date_created": _parse(b["date_created"])})
                for b in data["binaries"]
            ),
            highest_percentage=data["highest_percentage"],
        )


def account_name(link: str) -> str:
    """ "~name" for a Launchpad person link (the reports name accounts this way)."""
    last = link.rstrip("/").rpartition("/")[2]
    return last if last.startswith("~") else f"~{last}"


@dataclass(frozen=True)
class Acknowledgement:
    """A person let an update phase despite a problem: it counts like an override."""

    by: str  # "~name" of who raised the level on Launchpad, or who ran `resume`
    at: datetime
    how: str  # e.g. "raised it to 40% on Launchpad", "resumed it: false positive"

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "at": _timestamp(self.at), "how": self.how}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Acknowledgement:
        return cls(by=str(data["by"]), at=_parse(str(data["at"])), how=str(data["how"]))


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    url: str
    signature: str | None = None  # the crash bucket's `function` text: untrusted
    evidence: dict[str, Any] = field(default_factory=dict)
    overridden: bool = False
    acknowledged: Acknowledgement | None = None
    # None: the Error Tracker reported it in this run. A time: a stop keeps it on
    # record, but the Error Tracker has not reported it since then.
    last_reported: datetime | None = None

    @property
    def resolved(self) -> bool:
        """Overridden, or acknowledged by a person: it no longer stops the update."""
        return self.overridden or self.acknowledged is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "url": self.url,
            "signature": self.signature,
            "evidence": dict(self.evidence),
            "overridden": self.overridden,
            "acknowledged": self.acknowledged.to_json() if self.acknowledged else None,
            "last_reported": _timestamp(self.last_reported) if self.last_reported else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Problem:
        acknowledged = data.get("acknowledged")
        last_reported = data.get("last_reported")
        return cls(
            kind=ProblemKind(data["kind"]),
            url=data["url"],
            signature=data.get("signature"),
            evidence=dict(data.get("evidence") or {}),
            overridden=bool(data.get("overridden")),
            acknowledged=(
                Acknowledgement.from_json(acknowledged) if isinstance(acknowledged, dict) else None
            ),
            last_reported=_parse(last_reported) if isinstance(last_reported, str) else None,
        )


@dataclass(frozen=True)
class CrashCheck:
    """The Error Tracker's verdict on an update: its problems, or why it has none to give.

    `failure`: the Error Tracker could not answer (a fault: try again next run).
    `no_comparison`: it answered, but there is nothing to compare the update with (no
    previous version in the series, or a version it does not know): an expected
    condition, not a fault.
    """

    problems: tuple[Problem, ...] = ()
    failure: str | None = None
    no_comparison: str | None = None


@dataclass(frozen=True)
class StopRecord:
    """An automatic stop in force, as the history keeps it from run to run.

    `problems` are every problem on record for it: those that caused it and those
    found while it held, each with when the Error Tracker last reported it. The stop
    holds until each is resolved (overridden or acknowledged by a person). A stop
    found on Launchpad that no run recorded has `causes_recorded` False when the
    Error Tracker reports nothing now: only a person can lift it then.
    """

    at: datetime
    from_percentage: int
    problems: tuple[Problem, ...] = ()
    causes_recorded: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "at": _timestamp(self.at),
            "from": self.from_percentage,
            "problems": [p.to_json() for p in self.problems],
            "causes_recorded": self.causes_recorded,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StopRecord:
        return cls(
            at=_parse(str(data["at"])),
            from_percentage=int(data["from"]),
            problems=tuple(Problem.from_json(p) for p in data.get("problems", [])),
            causes_recorded=bool(data.get("causes_recorded", True)),
        )


@dataclass(frozen=True)
class Standing:
    """What a decision leaves the next one: the stop in force, and what people acknowledged.

    Acknowledgements are keyed like overrides (see `overrides.problem_key`).
    """

    stop: StopRecord | None = None
    acknowledged: tuple[tuple[str, Acknowledgement], ...] = ()

    def acknowledgement(self, key: str) -> Acknowledgement | None:
        return next((a for k, a in self.acknowledged if k == key), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "stop": self.stop.to_json() if self.stop else None,
            "acknowledged": [{"problem": k, **a.to_json()} for k, a in self.acknowledged],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Standing:
        stop = data.get("stop")
        return cls(
            stop=StopRecord.from_json(stop) if isinstance(stop, dict) else None,
            acknowledged=tuple(
                (str(item["problem"]), Acknowledgement.from_json(item))
                for item in data.get("acknowledged", [])
            ),
        )


@dataclass(frozen=True)
class Resume:
    """`phased-updater resume`: a person lifted whatever stop the update was in."""

    by: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class Halt:
    """A person stopped this update by hand; only a person resumes it."""

    series: str
    source: str
    version: str
    reason: str
    by: str
    at: datetime

    @property
    def key(self) -> UpdateKey:
        return UpdateKey(self.series, self.source, self.version)


@dataclass(frozen=True)
class NotEvaluated:
    """An update a run could not evaluate, and why: it keeps the percentage it had."""

    series: str
    source: str
    version: str
    error: str

    @property
    def key(self) -> UpdateKey:
        return UpdateKey(self.series, self.source, self.version)

    def to_json(self) -> dict[str, str]:
        return {
            "series": self.series,
            "source": self.source,
            "version": self.version,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: object) -> NotEvaluated | None:
        """None for anything but what `to_json` writes: readers never fail on it."""
        if not isinstance(data, dict):
            return None
        values = [data.get(name) for name in ("series", "source", "version", "error")]
        if not all(isinstance(value, str) for value in values):
            return None
        series, source, version, error = (str(value) for value in values)
        return cls(series, source, version, error)


@dataclass(frozen=True)
class Pace:
    """How fast an update phases: its speed class's step and interval, and its group.

    A member of a phasing group phases at the group's class (see `groups`).
    """

    speed_class: str  # "normal", "medium", "slow", or a class of the config's own
    step: int
    interval: timedelta
    group: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "class": self.speed_class,
            "step": self.step,
            "interval_seconds": int(self.interval.total_seconds()),
            "group": self.group,
        }

    @classmethod
    def from_json(cls, data: object) -> Pace | None:
        """None for anything but what `to_json` writes: readers never fail on it."""
        if not isinstance(data, dict):
            return None
        name, step, seconds = data.get("class"), data.get("step"), data.get("interval_seconds")
        group = data.get("group")
        if not isinstance(name, str) or not isinstance(step, int) or not isinstance(seconds, int):
            return None
        interval = timedelta(seconds=seconds)
        return cls(name, step, interval, group if isinstance(group, str) else None)


@dataclass(frozen=True)
class Decision:
    """What the policy decided for one update, with everything needed to explain it."""

    action: Action
    state: State
    from_percentage: int
    to_percentage: int
    highest_percentage: int
    since: datetime
    next_step_at: datetime | None
    reason: str
    problems: tuple[Problem, ...] = ()
    overrides_applied: tuple[str, ...] = ()
    # The stop in force and the acknowledgements, for the next run's decision.
    standing: Standing = field(default_factory=Standing)
    # The person behind a decision the phaser did not make on its own: who halted,
    # stopped, raised or resumed it ("~name", or `resume --by`); None otherwise.
    by: str | None = None
    # The speed class (and phasing group) it was decided at; None for a decision made
    # outside a cycle (`phased-updater halt`).
    pace: Pace | None = None

    @property
    def changes_percentage(self) -> bool:
        return self.to_percentage != self.from_percentage
