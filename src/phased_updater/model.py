"""Plain facts read from Launchpad and the Error Tracker, and the decisions made on them.

Everything here is an immutable value: readers build them, the policy consumes them,
the store and the report serialise them. Nothing here performs I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

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
    HALTED = "halted"


class Action(enum.StrEnum):
    """What a run decided to do to an update's percentage."""

    ADVANCE = "advance"  # one step up (to 100 means complete)
    WAIT = "wait"  # healthy, but not yet an interval at this level
    STOP = "stop"  # a problem remains: down to 0
    KEEP_STOPPED = "keep-stopped"  # already at 0 and a problem remains
    RESUME = "resume"  # at 0, every problem overridden: back to the highest level reached
    HALT = "halt"  # a person halted it: to 0, never resumed by the engine
    UNKNOWN = "unknown"  # the Error Tracker could not answer: nothing changes


class ProblemKind(enum.StrEnum):
    NEW_CRASH = "new-crash"
    INCREASED_RATE = "increased-rate"


@dataclass(frozen=True)
class Series:
    name: str
    version: str  # "22.04"
    self_link: str

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
        """The level the update is at; after a partial write, the level it was moving to."""
        return max((b.percentage for b in self.debs), default=FULLY_PHASED)

    @property
    def consistent(self) -> bool:
        return len({b.percentage for b in self.debs}) <= 1

    @property
    def since(self) -> datetime:
        """When the update reached its current level, as Launchpad recorded it."""
        level = self.percentage
        return min(b.date_created for b in self.debs if b.percentage == level)

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
            date_published=datetime.fromisoformat(data["date_published"]),
            self_link=data["self_link"],
            signer_link=data["signer_link"],
            creator_link=data["creator_link"],
            binaries=tuple(
                BinaryPublication(
                    **{**b, "date_created": datetime.fromisoformat(b["date_created"])}
                )
                for b in data["binaries"]
            ),
            highest_percentage=data["highest_percentage"],
        )


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    url: str
    signature: str | None = None  # the crash bucket's `function` text: untrusted
    evidence: dict[str, Any] = field(default_factory=dict)
    overridden: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "url": self.url,
            "signature": self.signature,
            "evidence": dict(self.evidence),
            "overridden": self.overridden,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Problem:
        return cls(
            kind=ProblemKind(data["kind"]),
            url=data["url"],
            signature=data.get("signature"),
            evidence=dict(data.get("evidence") or {}),
            overridden=bool(data.get("overridden")),
        )


@dataclass(frozen=True)
class CrashCheck:
    """The Error Tracker's verdict on an update: its problems, or why it has none to give."""

    problems: tuple[Problem, ...] = ()
    failure: str | None = None


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

    @property
    def changes_percentage(self) -> bool:
        return self.to_percentage != self.from_percentage
