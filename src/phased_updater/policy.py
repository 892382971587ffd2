"""The phasing policy: facts + overrides + halts + time in, a Decision out. No I/O.

Rules, in order:
1. A person halted the update: it goes to 0 and stays there until a person resumes it.
2. The Error Tracker could not answer: nothing changes (`unknown`). No data is neither
   a pass nor a fail.
3. A problem that no override covers remains: the update stops at 0.
4. Otherwise, at 0 (stopped earlier, its problems since overridden): it resumes at the
   highest level it had reached.
5. Otherwise, once it has been at its level for the interval less a tenth, it moves one
   step up, capped at 100 (complete). The tenth of slack lets a timer that fires every
   interval step once per firing although the previous write landed a little after the
   previous firing. "At its level since" comes from Launchpad's own records, so a lost
   database or a second run in the same hour never steps twice.
6. Otherwise it waits.

Where an earlier run wrote only some binaries, the update's level is the highest of
them; applying the decision then brings every binary to the same level.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from phased_updater.duration import format_duration
from phased_updater.model import (
    FULLY_PHASED,
    Action,
    CrashCheck,
    Decision,
    Halt,
    Problem,
    State,
    Update,
)
from phased_updater.overrides import Overrides


def minimum_wait(interval: timedelta) -> timedelta:
    return interval - interval / 10


def writes_for(update: Update, decision: Decision) -> list[tuple[str, int]]:
    """The (binary self_link, percentage) writes that bring every deb to the target.

    Debug publications are never written: Launchpad rewrites a ddeb with its deb.
    """
    if decision.action is Action.UNKNOWN:
        return []
    return [
        (binary.self_link, decision.to_percentage)
        for binary in update.debs
        if binary.percentage != decision.to_percentage
    ]


def _mark_overrides(
    update: Update, problems: tuple[Problem, ...], overrides: Overrides
) -> tuple[tuple[Problem, ...], tuple[str, ...]]:
    marked: list[Problem] = []
    applied: list[str] = []
    for problem in problems:
        entry = overrides.match(update.source, update.version, problem)
        if entry is not None:
            applied.append(entry)
        marked.append(replace(problem, overridden=entry is not None))
    return tuple(marked), tuple(dict.fromkeys(applied))


def decide(
    update: Update,
    check: CrashCheck,
    overrides: Overrides,
    halt: Halt | None,
    now: datetime,
    step: int,
    interval: timedelta,
) -> Decision:
    level = update.percentage
    problems, applied = _mark_overrides(update, check.problems, overrides)

    def decision(action: Action, state: State, target: int, reason: str) -> Decision:
        next_step_at = None
        if state is State.PHASING and target == level and target < FULLY_PHASED:
            next_step_at = update.since + minimum_wait(interval)
        elif state is State.PHASING and target != level:
            next_step_at = now + minimum_wait(interval)
        return Decision(
            action=action,
            state=state,
            from_percentage=level,
            to_percentage=target,
            highest_percentage=max(update.highest_percentage, target),
            since=now if target != level else update.since,
            next_step_at=next_step_at,
            reason=reason,
            problems=problems,
            overrides_applied=applied,
        )

    if halt is not None:
        action = Action.HALT if level != 0 or not update.consistent else Action.KEEP_STOPPED
        return decision(action, State.HALTED, 0, f"halted by {halt.by}: {halt.reason}")

    if check.failure is not None:
        return decision(
            Action.UNKNOWN, State.UNKNOWN, level, f"Error Tracker failed: {check.failure}"
        )

    remaining = [p for p in problems if not p.overridden]
    if remaining:
        kinds = ", ".join(sorted({str(p.kind) for p in remaining}))
        reason = f"{len(remaining)} problem(s) not overridden ({kinds})"
        if level == 0 and update.consistent:
            return decision(Action.KEEP_STOPPED, State.STOPPED, 0, reason)
        return decision(Action.STOP, State.STOPPED, 0, reason)

    if level == 0:
        target = update.highest_percentage or min(step, FULLY_PHASED)
        if applied:
            reason = f"every problem is overridden ({len(applied)} override(s)); resuming"
        else:
            reason = "the Error Tracker no longer reports a problem; resuming"
        return decision(Action.RESUME, State.PHASING, target, reason)

    waited = now - update.since
    if waited >= minimum_wait(interval):
        target = min(level + step, FULLY_PHASED)
        state = State.COMPLETE if target == FULLY_PHASED else State.PHASING
        reason = f"no regressions; at {level}% for {format_duration(waited)}"
        return decision(Action.ADVANCE, state, target, reason)

    remaining_wait = format_duration(minimum_wait(interval) - waited)
    reason = f"no regressions; at {level}% for {format_duration(waited)}, {remaining_wait} to go"
    return decision(Action.WAIT, State.PHASING, level, reason)
