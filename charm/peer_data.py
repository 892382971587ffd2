"""Overrides and manual halts, kept in the peer relation's application databag.

Only the leader writes them (from actions); every unit renders them into the engine's
files. The databag outlives any one unit, so a new leader inherits them. An override
keeps who added it, why and when (`by`, `reason`, `at`); one added by an earlier
revision of the charm, before they were asked for, has them empty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, replace
from typing import Any

from phased_updater.duration import parse_timestamp
from phased_updater.override_feedback import describe
from phased_updater.overrides import Origin, thing_key
from phased_updater.overrides import Override as OverrideLine

OVERRIDES_KEY = "overrides"
HALTS_KEY = "halts"
# The leader's unit name, written by the leader when it differs: its change wakes every
# other unit (peer relation-changed), which then drops what only the leader publishes.
LEADER_KEY = "leader-unit"


class PeerDataError(ValueError):
    """The databag holds something this charm did not write."""


@dataclass(frozen=True)
class Override:
    source: str
    version: str
    problem: str
    by: str = ""
    reason: str = ""
    at: str = ""

    def to_json(self) -> dict[str, str]:
        # The engine's records (overrides.parse_records) have these field names.
        return {
            "source": self.source,
            "version": self.version,
            "problem": self.problem,
            "by": self.by,
            "reason": self.reason,
            "at": self.at,
        }

    def line(self) -> str:
        """As a line of the SRU team's overrides file (and of list-overrides)."""
        return OverrideLine(self.source, self.version, self.problem).to_csv()

    def described(self) -> str:
        """The line with who added it, when and why, worded as the report words it."""
        try:
            at = parse_timestamp(self.at) if self.at else None
        except ValueError:
            at = None
        origin = Origin("action", "", by=self.by or None, at=at, reason=self.reason or None)
        return f"{self.line()} ({describe(origin)})"

    @property
    def key(self) -> tuple[str, str, str]:
        """Two records with the same key are the same override, whoever added them."""
        return (self.source, self.version, thing_key(self.problem))


@dataclass(frozen=True)
class Halt:
    series: str
    source: str
    version: str
    reason: str
    by: str
    at: str

    def key(self) -> tuple[str, str, str]:
        return (self.series, self.source, self.version)

    def to_json(self) -> dict[str, str]:
        # The engine's halts.json field names.
        return {
            "series": self.series,
            "source": self.source,
            "version": self.version,
            "reason": self.reason,
            "by": self.by,
            "at": self.at,
        }


def _records(
    databag: Mapping[str, str], key: str, fields: tuple[str, ...], optional: tuple[str, ...] = ()
) -> list[dict[str, str]]:
    raw = databag.get(key, "[]")
    try:
        items: Any = json.loads(raw)
    except json.JSONDecodeError as error:
        raise PeerDataError(f"peer data {key!r} is not JSON: {error}") from error
    if not isinstance(items, list):
        raise PeerDataError(f"peer data {key!r} is not a list")
    records = []
    for item in items:
        if (
            not isinstance(item, dict)
            or any(not isinstance(item.get(name), str) for name in fields)
            or any(not isinstance(item.get(name, ""), str) for name in optional)
        ):
            raise PeerDataError(f"peer data {key!r} has a malformed entry: {item!r}")
        records.append({name: item.get(name, "") for name in (*fields, *optional)})
    return records


@dataclass(frozen=True)
class PeerRecords:
    overrides: tuple[Override, ...] = ()
    halts: tuple[Halt, ...] = ()

    @classmethod
    def load(cls, databag: Mapping[str, str]) -> PeerRecords:
        overrides = _records(
            databag, OVERRIDES_KEY, ("source", "version", "problem"), ("by", "reason", "at")
        )
        halts = _records(databag, HALTS_KEY, ("series", "source", "version", "reason", "by", "at"))
        return cls(
            overrides=tuple(Override(**item) for item in overrides),
            halts=tuple(Halt(**item) for item in halts),
        )

    def save(self, databag: MutableMapping[str, str]) -> None:
        databag[OVERRIDES_KEY] = json.dumps([item.to_json() for item in self.overrides])
        databag[HALTS_KEY] = json.dumps([item.to_json() for item in self.halts])

    def find_override(self, override: Override) -> Override | None:
        """The record of the same override (same source, version and problem), if any."""
        return next((o for o in self.overrides if o.key == override.key), None)

    def with_override(self, override: Override) -> PeerRecords:
        if self.find_override(override) is not None:
            return self
        return replace(self, overrides=(*self.overrides, override))

    def without_override(self, override: Override) -> PeerRecords:
        return replace(self, overrides=tuple(o for o in self.overrides if o.key != override.key))

    def find_halt(self, key: tuple[str, str, str]) -> Halt | None:
        return next((halt for halt in self.halts if halt.key() == key), None)

    def with_halt(self, halt: Halt) -> PeerRecords:
        """Adds `halt`, replacing an earlier halt of the same update (new reason, new time)."""
        others = tuple(h for h in self.halts if h.key() != halt.key())
        return replace(self, halts=(*others, halt))

    def without_halt(self, key: tuple[str, str, str]) -> PeerRecords:
        return replace(self, halts=tuple(h for h in self.halts if h.key() != key))
