"""`reason_code`: the policy's decision as one word of a small enum, for tools.

The `reason` of phased-updates.json is for people; a tool (a dashboard, a bot that
pings the uploader) needs the same answer as one of a few fixed words. Each decision
maps to exactly one, by the policy's own rules (policy.py's docstring numbers them,
groups.py's add two): the action and state say most, the problems that are still
open say why a stop is in force, and for the three cases that share an action and a
state (a person's stop and an update released at 0; waiting, frozen or waiting for a
group) the reason's own fixed wording decides. tests/unit/test_reason_code.py runs
every rule through `policy.decide` and `groups.move_together`, so a rewording there
fails a test instead of the report.

The codes are documented in docs/report-schema.md; they are only ever added.
"""

from __future__ import annotations

import enum

from phased_updater.model import Action, Decision, ProblemKind, State


class ReasonCode(enum.StrEnum):
    CLEAN_STEP = "clean-step"  # rule 10: no regressions, one step up
    COMPLETE = "complete"  # fully phased (a step, or a resume, to 100%)
    WAITING = "waiting"  # rule 10: healthy, its interval has not passed yet
    FROZEN = "frozen"  # rule 11: healthy, a freeze window holds its step
    GROUP_WAIT = "group-wait"  # groups rule 2-3: healthy, waits for a member of its group
    GROUP_HOLD = "group-hold"  # groups rule 1: held, a member of its group is stopped
    NEW_CRASH = "new-crash"  # rules 6 and 8: stopped, a new crash nobody resolved
    INCREASED_RATE = "increased-rate"  # rules 6 and 8: stopped, a higher crash rate
    STOP_NOT_RECORDED = "stop-not-recorded"  # rules 4 and 6: stopped, causes unknown
    RESUMED = "resumed"  # rules 3 and 6: every problem resolved, or a person resumed it
    MANUAL_HALT = "manual-halt"  # rule 1: `phased-updater halt`
    PERSON_STOP = "person-stop"  # rule 2: a person lowered it on Launchpad
    RELEASED_AT_ZERO = "released-at-zero"  # rule 9: at 0% with no stop: for a person
    NO_COMPARISON = "no-comparison"  # rule 7: nothing to compare its crashes with
    ERROR_TRACKER_FAILED = "error-tracker-failed"  # rule 5: no answer, nothing changes
    NOT_EVALUATED = "not-evaluated"  # the run could not read or decide on it


# The fixed wording policy.py and groups.py give the cases an action does not tell apart.
_PERSON_STOP = "stopped by "  # rule 2: "stopped by ~name on Launchpad at ..."
_GROUP = "for its group "  # "waits for its group boot: ...", "waits at 40% for its group"
_FROZEN = "(freeze window "  # rule 11: "completes after Mon 12:00 UTC (freeze window ...)"


def reason_code(decision: Decision) -> ReasonCode:
    """The one code for a decision (a DecisionRecord is one)."""
    reason = decision.reason
    match decision.action:
        case Action.HALT:
            return ReasonCode.MANUAL_HALT
        case Action.HOLD if decision.state is State.HELD:
            return ReasonCode.NO_COMPARISON
        case Action.HOLD:
            if reason.startswith(_PERSON_STOP):
                return ReasonCode.PERSON_STOP
            return ReasonCode.RELEASED_AT_ZERO
        case Action.UNKNOWN:
            return ReasonCode.ERROR_TRACKER_FAILED
        case Action.GROUP_HOLD:
            return ReasonCode.GROUP_HOLD
        case Action.STOP | Action.KEEP_STOPPED:
            if decision.state is State.HALTED:
                return ReasonCode.MANUAL_HALT  # kept at 0 by a halt
            return _stop_cause(decision)
        case Action.RESUME:
            return ReasonCode.COMPLETE if decision.state is State.COMPLETE else ReasonCode.RESUMED
        case Action.ADVANCE:
            return (
                ReasonCode.COMPLETE if decision.state is State.COMPLETE else ReasonCode.CLEAN_STEP
            )
        case Action.WAIT:
            if decision.state is State.COMPLETE:
                return ReasonCode.COMPLETE
            if _GROUP in reason:
                return ReasonCode.GROUP_WAIT
            if _FROZEN in reason:
                return ReasonCode.FROZEN
            if decision.to_percentage == decision.from_percentage and reason.startswith(
                ("resumed by ", "every problem of the stop is resolved")
            ):
                return ReasonCode.RESUMED
            return ReasonCode.WAITING
    raise ValueError(f"action {decision.action!r} has no reason code")  # pragma: no cover


def _stop_cause(decision: Decision) -> ReasonCode:
    """A new crash outweighs a rate: it is the one a person looks at first."""
    kinds = {p.kind for p in decision.problems if not p.resolved}
    if ProblemKind.NEW_CRASH in kinds:
        return ReasonCode.NEW_CRASH
    if ProblemKind.INCREASED_RATE in kinds:
        return ReasonCode.INCREASED_RATE
    return ReasonCode.STOP_NOT_RECORDED
