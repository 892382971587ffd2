"""Phasing groups: related sources whose updates move together within a series.

Ubuntu's "phased update groups" spec (Discourse, 2022): sources such as shim-signed
and grub2-signed, or a library and its main user, should always carry the same
percentage, because machines that get one but not the other fail to upgrade. A group
is a name, its sources and, optionally, a speed class (by default the slowest class
of its sources). Within a series, the updates of a group's sources that are phasing
at the same time are its members, and `move_together` applies the group rules to
their decisions, each made first on its own by `policy.decide` at the group's pace:

1. A member that is stopped or halted holds every other member at its level (not at
   0): action `group-hold`, state `phasing`, reason "held: shim-signed stopped". A
   member whose stop is resolved resumes as usual (back to its peak) and rejoins.
2. Otherwise the group's level is its lowest member's; it steps only when every
   member that would move may step (its own decision is to advance), by the group's
   class. Members below the new level rise to it together; a member above it is never
   lowered, and waits until the others catch up.
3. A member that may not step (within its interval, a freeze window, the Error
   Tracker unanswered, held for a person, resuming in this run, not evaluated) makes
   the others wait, and their reason names it.

Pure: the members' facts and decisions in, their decisions out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from phased_updater.debian import is_source_name
from phased_updater.errors import EntryError
from phased_updater.model import FULLY_PHASED, Action, Decision, Pace, State, Update
from phased_updater.policy import minimum_wait
from phased_updater.speed import SpeedClass, SpeedClasses

_GROUP_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]{0,63}")


@dataclass(frozen=True)
class Group:
    name: str
    sources: tuple[str, ...]
    speed_class: str | None = None  # None: the slowest class of its sources


def parse_groups(value: Any) -> tuple[Group, ...]:
    """The `[groups]` table: NAME = ["a", "b"] or NAME = {sources = [...], class = "slow"}."""
    if not isinstance(value, Mapping):
        raise EntryError("groups", "expected a table of NAME = {sources = [...]}")
    found = []
    for name, spec in value.items():
        where = f"groups.{name}"
        if not isinstance(name, str) or _GROUP_NAME.fullmatch(name) is None:
            raise EntryError(where, "a group name is lower-case letters, digits, '+', '-', '.'")
        speed_class, listed = None, spec
        if isinstance(spec, Mapping):
            unknown = sorted(set(spec) - {"sources", "class"})
            if unknown:
                raise EntryError(where, f"unknown key(s) {', '.join(map(str, unknown))}")
            speed_class = spec.get("class")
            if speed_class is not None and not isinstance(speed_class, str):
                raise EntryError(f"{where}.class", f"{speed_class!r} is not the name of a class")
            listed = spec.get("sources")
        if not isinstance(listed, list) or not all(isinstance(s, str) for s in listed):
            raise EntryError(where, "expected a list of source package names")
        for source in listed:
            if not is_source_name(source):
                raise EntryError(where, f"{source!r} is not a Debian source package name")
        sources = tuple(dict.fromkeys(listed))
        if len(sources) < 2:
            raise EntryError(where, "a group needs at least two sources")
        found.append(Group(name, sources, speed_class))
    return tuple(found)


def _rate(speed: SpeedClass, classes: SpeedClasses) -> float:
    """Points per second: the lower, the slower."""
    return speed.step / (speed.interval or classes.interval).total_seconds()


@dataclass(frozen=True)
class Groups:
    """Every group in force; a source is in one group at most."""

    groups: tuple[Group, ...] = ()

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for group in self.groups:
            for source in group.sources:
                if source in seen:
                    raise EntryError(
                        f"groups.{group.name}",
                        f"{source} is already in group {seen[source]}: a source is in one"
                        " group at most",
                    )
                seen[source] = group.name

    def check(self, classes: SpeedClasses) -> None:
        """Every class a group names exists; EntryError naming the group otherwise."""
        for group in self.groups:
            if group.speed_class is not None and group.speed_class not in classes.by_name:
                known = ", ".join(classes.by_name)
                raise EntryError(
                    f"groups.{group.name}.class",
                    f"unknown class {group.speed_class!r} (known: {known})",
                )

    def group_of(self, source: str) -> Group | None:
        return next((g for g in self.groups if source in g.sources), None)

    def class_of(self, group: Group, classes: SpeedClasses) -> str:
        if group.speed_class is not None:
            return group.speed_class
        speeds = [classes.named(classes.class_of(source)) for source in group.sources]
        return min(speeds, key=lambda s: (_rate(s, classes), s.name)).name

    def pace_of(self, source: str, classes: SpeedClasses) -> Pace:
        """A source's pace: its group's class if it is in a group, else its own class."""
        group = self.group_of(source)
        if group is None:
            return classes.pace_of(source)
        return classes.pace(self.class_of(group, classes), group.name)


@dataclass(frozen=True)
class Member:
    """One update of a group phasing in the series, with its own decision."""

    update: Update
    decision: Decision

    @property
    def source(self) -> str:
        return self.update.source

    @property
    def level(self) -> int:
        """Where it stands after its own decision, for the group: a resume's target."""
        d = self.decision
        return d.to_percentage if d.action is Action.RESUME else d.from_percentage


_STOPS = (State.STOPPED, State.HALTED)
_HEALTHY = (Action.ADVANCE, Action.WAIT)


def _stopped(member: Member) -> str:
    decision = member.decision
    if decision.state is State.STOPPED:
        return f"{member.source} stopped"
    return f"{member.source} halted" + (f" by {decision.by}" if decision.by else "")


def _not_ready(member: Member) -> str:
    """Why a member that would move may not step in this run."""
    decision = member.decision
    match decision.action:
        case Action.WAIT:
            return f"{member.source} ({decision.reason})"
        case Action.RESUME:
            return f"{member.source} resumes to {decision.to_percentage}% in this run"
        case Action.UNKNOWN:
            return f"{member.source} could not be checked ({decision.reason})"
        case Action.HOLD:
            return f"{member.source} is held for a person"
    return f"{member.source} ({decision.action})"


def _at_level(
    member: Member, action: Action, reason: str, next_step_at: datetime | None
) -> Decision:
    update, decision = member.update, member.decision
    level = decision.from_percentage
    return replace(
        decision,
        action=action,
        state=State.PHASING,
        to_percentage=level,
        highest_percentage=max(update.highest_percentage, level),
        since=update.since,
        next_step_at=next_step_at,
        reason=reason,
    )


def move_together(
    pace: Pace,
    members: Sequence[Member],
    now: datetime,
    unavailable: Sequence[tuple[str, str]] = (),
) -> list[Decision]:
    """The members' decisions under the group rules, in the order given.

    `pace` is the group's (every member was decided at it); `unavailable` names the
    members this run could not read, with why: they may not step, so nobody does.
    """
    if len(members) + len(unavailable) < 2:
        return [m.decision for m in members]
    name = pace.group or "?"

    # 1. A stopped or halted member holds the others at their level.
    stopped = [m for m in members if m.decision.state in _STOPS]
    if stopped:
        held = "held: " + ", ".join(_stopped(m) for m in stopped)
        reason = f"{held} (group {name} moves together: it steps again once the stop is resolved)"
        return [
            _at_level(m, Action.GROUP_HOLD, reason, None)
            if m.decision.state not in _STOPS and m.decision.action in _HEALTHY
            else m.decision
            for m in members
        ]

    # 2. The group's level is the lowest member's; it steps when every mover may.
    low = min(m.level for m in members)
    target = min(low + pace.step, FULLY_PHASED)
    movers = [m for m in members if m.level < target]
    waiting = [_not_ready(m) for m in movers if m.decision.action is not Action.ADVANCE]
    waiting += [f"{source} was not evaluated in this run ({why})" for source, why in unavailable]
    if waiting:
        # 3. Someone may not step: nobody does, and each says for whom it waits.
        moments = [
            m.decision.next_step_at
            for m in movers
            if m.decision.action is Action.WAIT and m.decision.next_step_at is not None
        ]
        others = [m for m in movers if m.decision.action not in (Action.ADVANCE, Action.WAIT)]
        later = max(moments) if moments and not others and not unavailable else None
        reason = f"no regressions; waits for its group {name}: {'; '.join(waiting)}"
        return [
            _at_level(m, Action.WAIT, reason, later)
            if m.decision.action is Action.ADVANCE
            else m.decision
            for m in members
        ]
    lowest = ", ".join(m.source for m in members if m.level == low)
    moving = {id(m) for m in movers}
    decisions = []
    for m in members:
        decision = m.decision
        if id(m) in moving:
            state = State.COMPLETE if target == FULLY_PHASED else State.PHASING
            decisions.append(
                replace(
                    decision,
                    state=state,
                    to_percentage=target,
                    highest_percentage=max(
                        m.update.highest_percentage, decision.from_percentage, target
                    ),
                    next_step_at=None if target == FULLY_PHASED else decision.next_step_at,
                    reason=f"{decision.reason}; moves with its group {name} to {target}%",
                )
            )
        elif decision.action is Action.ADVANCE:
            reason = (
                f"no regressions; waits at {decision.from_percentage}% for its group {name} to"
                f" catch up ({lowest} at {low}%, moving to {target}%)"
            )
            decisions.append(_at_level(m, Action.WAIT, reason, now + minimum_wait(pace.interval)))
        else:
            decisions.append(decision)
    return decisions
