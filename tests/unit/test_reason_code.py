"""reason_code: every rule of the policy and of the groups gives exactly one code.

Each decision here is made by the real `policy.decide` (and `groups.move_together`),
so a change in their wording that would mislabel a decision fails here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from phased_updater.freeze import FreezeCalendar
from phased_updater.groups import Member, move_together
from phased_updater.model import (
    Action,
    CrashCheck,
    Decision,
    Halt,
    Pace,
    Problem,
    ProblemKind,
    Resume,
    Standing,
    State,
    StopRecord,
    Update,
)
from phased_updater.overrides import Override, Overrides
from phased_updater.policy import decide
from phased_updater.report.reason_code import ReasonCode, reason_code
from tests.unit.factories import PHASER, SRU_MEMBER, T0, binary, update

SIX_HOURS = timedelta(hours=6)
NOW = T0 + SIX_HOURS  # a Monday, 12:00 UTC
CRASH = Problem(ProblemKind.NEW_CRASH, "https://errors.ubuntu.com/problem/" + "abc0" * 10, "f()")
RATE = Problem(
    ProblemKind.INCREASED_RATE,
    "https://errors.ubuntu.com/?package=foo",
    evidence={"difference": 4.5, "previous_average": 1.0},
)
VERSION = "1.2-3ubuntu0.1"
PACE = Pace("normal", 10, SIX_HOURS, "boot")


def run(
    u: Update,
    check: CrashCheck | None = None,
    *,
    overrides: Overrides | None = None,
    halt: Halt | None = None,
    now: datetime = NOW,
    **kw: object,
) -> Decision:
    return decide(
        u,
        check or CrashCheck(),
        overrides or Overrides(),
        halt,
        now,
        10,
        SIX_HOURS,
        **kw,  # type: ignore[arg-type]
    )


def stopped(*problems: Problem, causes_recorded: bool = True) -> Standing:
    return Standing(StopRecord(T0 - SIX_HOURS, 40, problems, causes_recorded))


HALT = Halt("jammy", "foo", VERSION, "waiting for LP: #1", "Jane", T0)


def member(source: str, level: int, check: CrashCheck | None = None) -> Member:
    u = update(binary(source, level), source=source, version="1.0-1ubuntu0.1")
    return Member(u, replace(run(u, check), pace=PACE))


def group(*members: Member) -> list[Decision]:
    return move_together(PACE, members, NOW)


# Each rule, as the policy decides it, and the one code it must give.
CASES: dict[str, tuple[Decision, ReasonCode]] = {
    "rule 10: a step": (run(update(binary(percentage=30))), ReasonCode.CLEAN_STEP),
    "rule 10: the last step": (run(update(binary(percentage=95))), ReasonCode.COMPLETE),
    "rule 10: within the interval": (
        run(update(binary(percentage=30)), now=T0 + timedelta(hours=1)),
        ReasonCode.WAITING,
    ),
    "rule 11: a freeze window": (
        run(
            update(binary(percentage=30)),
            freeze=FreezeCalendar.parse(["Mon 00:00-Tue 00:00 no-steps"]),
        ),
        ReasonCode.FROZEN,
    ),
    "rule 8: a new crash": (
        run(update(binary(percentage=30)), CrashCheck((CRASH,))),
        ReasonCode.NEW_CRASH,
    ),
    "rule 8: a crash and a rate": (
        run(update(binary(percentage=30)), CrashCheck((RATE, CRASH))),
        ReasonCode.NEW_CRASH,
    ),
    "rule 8: an increased rate": (
        run(update(binary(percentage=30)), CrashCheck((RATE,))),
        ReasonCode.INCREASED_RATE,
    ),
    "rule 6: kept stopped": (
        run(update(binary(percentage=0)), CrashCheck((RATE,)), standing=stopped(RATE)),
        ReasonCode.INCREASED_RATE,
    ),
    "rule 6: causes not recorded": (
        run(update(binary(percentage=0)), standing=stopped(causes_recorded=False)),
        ReasonCode.STOP_NOT_RECORDED,
    ),
    "rule 4: a stop on Launchpad no run recorded": (
        run(
            update(binary(percentage=0, set_by=PHASER, previous=30)),
            phaser=PHASER,
        ),
        ReasonCode.STOP_NOT_RECORDED,
    ),
    "rule 6: every problem overridden": (
        run(
            update(binary(percentage=0), highest=40),
            CrashCheck((CRASH,)),
            overrides=Overrides([Override("foo", VERSION, CRASH.url)]),
            standing=stopped(CRASH),
        ),
        ReasonCode.RESUMED,
    ),
    "rule 3: resumed by a person": (
        run(
            update(binary(percentage=0), highest=40),
            standing=stopped(CRASH),
            resumed=Resume("Jane", "false positive", T0 + timedelta(hours=1)),
        ),
        ReasonCode.RESUMED,
    ),
    "rule 3: resumed back to 100": (
        run(
            update(binary(percentage=0), highest=100),
            standing=stopped(CRASH),
            resumed=Resume("Jane", "false positive", T0 + timedelta(hours=1)),
        ),
        ReasonCode.COMPLETE,
    ),
    "rule 1: a halt": (run(update(binary(percentage=30)), halt=HALT), ReasonCode.MANUAL_HALT),
    "rule 1: a halt kept": (run(update(binary(percentage=0)), halt=HALT), ReasonCode.MANUAL_HALT),
    "rule 2: a person's stop": (
        run(update(binary(percentage=0, set_by=SRU_MEMBER, previous=30)), phaser=PHASER),
        ReasonCode.PERSON_STOP,
    ),
    "rule 9: released at 0": (run(update(binary(percentage=0))), ReasonCode.RELEASED_AT_ZERO),
    "rule 7: nothing to compare with": (
        run(update(binary(percentage=30)), CrashCheck(no_comparison="no previous version")),
        ReasonCode.NO_COMPARISON,
    ),
    "rule 5: no answer": (
        run(update(binary(percentage=30)), CrashCheck(failure="HTTP 503")),
        ReasonCode.ERROR_TRACKER_FAILED,
    ),
    "rule 5: no answer while stopped": (
        run(update(binary(percentage=0)), CrashCheck(failure="HTTP 503"), standing=stopped(CRASH)),
        ReasonCode.ERROR_TRACKER_FAILED,
    ),
    "groups rule 1: a member stopped": (
        group(member("shim", 30), member("grub", 30, CrashCheck((CRASH,))))[0],
        ReasonCode.GROUP_HOLD,
    ),
    "groups rule 3: a member that may not step": (
        group(member("shim", 30), member("grub", 30, CrashCheck(failure="HTTP 503")))[0],
        ReasonCode.GROUP_WAIT,
    ),
    "groups rule 2: above the group's level": (
        group(member("shim", 40), member("grub", 20))[0],
        ReasonCode.GROUP_WAIT,
    ),
    "groups rule 2: the group steps": (
        group(member("shim", 30), member("grub", 30))[0],
        ReasonCode.CLEAN_STEP,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_each_rule_gives_its_code(case: str) -> None:
    decision, expected = CASES[case]
    assert reason_code(decision) is expected, decision.reason


def test_every_action_and_every_code_is_covered() -> None:
    decisions = [decision for decision, _ in CASES.values()]
    assert {d.action for d in decisions} == set(Action)
    assert {d.state for d in decisions} == set(State)
    # Every code but the one no decision has: the run could not make one.
    assert {code for _, code in CASES.values()} == set(ReasonCode) - {ReasonCode.NOT_EVALUATED}


def test_the_group_cases_are_what_they_say() -> None:
    """The group rules gave the actions the cases are named for (not the member's own)."""
    assert CASES["groups rule 1: a member stopped"][0].action is Action.GROUP_HOLD
    assert CASES["groups rule 2: above the group's level"][0].action is Action.WAIT
    assert CASES["groups rule 2: the group steps"][0].action is Action.ADVANCE
