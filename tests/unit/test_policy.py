from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from phased_updater.model import (
    Action,
    CrashCheck,
    Decision,
    Halt,
    Problem,
    ProblemKind,
    Standing,
    State,
    StopRecord,
    Update,
)
from phased_updater.overrides import Overrides
from phased_updater.policy import decide, minimum_wait
from tests.unit.factories import T0, binary, update

SIX_HOURS = timedelta(hours=6)
CRASH = Problem(ProblemKind.NEW_CRASH, "https://errors.ubuntu.com/problem/" + "abc0" * 10, "main()")
RATE = Problem(
    ProblemKind.INCREASED_RATE,
    "https://errors.ubuntu.com/?package=foo",
    evidence={"difference": 4.5, "previous_average": 1.0},
)
NONE = Overrides()
HEALTHY = CrashCheck()


def run(
    u: Update,
    check: CrashCheck = HEALTHY,
    overrides: Overrides = NONE,
    halt: Halt | None = None,
    now: datetime = T0 + SIX_HOURS,
    step: int = 10,
) -> Decision:
    return decide(u, check, overrides, halt, now, step, SIX_HOURS)


def test_healthy_update_advances_one_step_after_an_interval() -> None:
    d = run(update(binary(percentage=30)))
    assert (d.action, d.state, d.from_percentage, d.to_percentage) == (
        Action.ADVANCE,
        State.PHASING,
        30,
        40,
    )
    assert d.since == T0 + SIX_HOURS
    assert d.next_step_at == T0 + SIX_HOURS + minimum_wait(SIX_HOURS)


def test_the_interval_allows_a_tenth_of_slack() -> None:
    just_enough = T0 + SIX_HOURS - SIX_HOURS / 10
    assert run(update(binary(percentage=30)), now=just_enough).action is Action.ADVANCE
    too_early = just_enough - timedelta(seconds=1)
    d = run(update(binary(percentage=30)), now=too_early)
    assert (d.action, d.to_percentage) == (Action.WAIT, 30)
    assert d.next_step_at == just_enough


def test_advancing_is_capped_at_100_which_completes() -> None:
    d = run(update(binary(percentage=95)))
    assert (d.action, d.state, d.to_percentage) == (Action.ADVANCE, State.COMPLETE, 100)
    assert d.next_step_at is None


@pytest.mark.parametrize("step", [1, 5, 10, 100])
def test_step_size_is_configurable(step: int) -> None:
    assert run(update(binary(percentage=0 + 10)), step=step).to_percentage == min(10 + step, 100)


def test_a_new_crash_stops_the_update() -> None:
    d = run(update(binary(percentage=30)), CrashCheck((CRASH,)))
    assert (d.action, d.state, d.to_percentage) == (Action.STOP, State.STOPPED, 0)
    assert d.problems == (CRASH,)
    assert d.highest_percentage == 30


def test_an_increased_rate_stops_the_update() -> None:
    d = run(update(binary(percentage=50)), CrashCheck((RATE,)))
    assert (d.action, d.to_percentage) == (Action.STOP, 0)
    assert "increased-rate" in d.reason


def test_a_stop_happens_even_inside_the_interval() -> None:
    d = run(update(binary(percentage=30)), CrashCheck((CRASH,)), now=T0 + timedelta(minutes=5))
    assert d.action is Action.STOP


def test_a_stopped_update_with_problems_stays_stopped() -> None:
    d = run(update(binary(percentage=0), highest=40), CrashCheck((CRASH,)))
    assert (d.action, d.state, d.to_percentage) == (Action.KEEP_STOPPED, State.STOPPED, 0)
    assert not d.changes_percentage


def test_overriding_by_url_resumes_at_the_highest_level() -> None:
    overrides = Overrides.parse(f"foo, 1.2-3ubuntu0.1, {CRASH.url}\n")
    stopped = Standing(StopRecord(T0, 40, (replace(CRASH, last_reported=T0),)))
    d = decide(
        update(binary(percentage=0), highest=40),
        CrashCheck((CRASH,)),
        overrides,
        None,
        T0 + SIX_HOURS,
        10,
        SIX_HOURS,
        standing=stopped,
    )
    assert (d.action, d.state, d.to_percentage) == (Action.RESUME, State.PHASING, 40)
    assert d.problems[0].overridden
    assert d.overrides_applied == (CRASH.url,)


def test_increased_rate_is_overridden_by_the_word() -> None:
    overrides = Overrides.parse("foo, 1.2-3ubuntu0.1, increased-rate\n")
    d = run(update(binary(percentage=20)), CrashCheck((RATE,)), overrides)
    assert d.action is Action.ADVANCE
    assert d.problems[0].overridden


def test_an_override_for_another_version_does_not_apply() -> None:
    overrides = Overrides.parse(f"foo, 1.2-3ubuntu0.2, {CRASH.url}\n")
    d = run(update(binary(percentage=20)), CrashCheck((CRASH,)), overrides)
    assert d.action is Action.STOP


def test_one_override_does_not_cover_another_problem() -> None:
    overrides = Overrides.parse(f"foo, 1.2-3ubuntu0.1, {CRASH.url}\n")
    d = run(update(binary(percentage=20)), CrashCheck((CRASH, RATE)), overrides)
    assert d.action is Action.STOP
    assert [p.overridden for p in d.problems] == [True, False]


def test_an_error_tracker_failure_neither_advances_nor_stops() -> None:
    d = run(update(binary(percentage=30), binary("bar", 20)), CrashCheck(failure="HTTP 500"))
    assert (d.action, d.state) == (Action.UNKNOWN, State.UNKNOWN)
    assert d.to_percentage == d.from_percentage == 30
    assert "HTTP 500" in d.reason


def test_a_partial_advance_is_converged_without_another_step() -> None:
    written = binary("foo", 40, created=T0 + timedelta(hours=5))
    left_behind = binary("libfoo1", 30, created=T0 - SIX_HOURS)
    d = run(update(written, left_behind))
    assert (d.action, d.from_percentage, d.to_percentage) == (Action.WAIT, 40, 40)


def test_a_partial_stop_is_completed() -> None:
    d = run(update(binary("foo", 0), binary("libfoo1", 30)), CrashCheck((CRASH,)))
    assert (d.action, d.to_percentage) == (Action.STOP, 0)


def test_debug_binaries_do_not_count_towards_the_level() -> None:
    d = run(update(binary("foo", 30), binary("foo-dbgsym", 80, debug=True)))
    assert (d.from_percentage, d.to_percentage) == (30, 40)


def test_a_halt_stops_and_is_never_resumed_by_the_engine() -> None:
    halt = Halt("jammy", "foo", "1.2-3ubuntu0.1", "breaks boot", "sru-member", T0)
    d = run(update(binary(percentage=30)), halt=halt)
    assert (d.action, d.state, d.to_percentage) == (Action.HALT, State.HALTED, 0)
    again = run(update(binary(percentage=0), highest=30), halt=halt)
    assert (again.action, again.state, again.to_percentage) == (
        Action.KEEP_STOPPED,
        State.HALTED,
        0,
    )
    assert "sru-member" in again.reason


def test_an_update_released_at_0_with_no_stop_on_record_is_held_for_a_person() -> None:
    d = run(update(binary(percentage=0), highest=60))
    assert (d.action, d.state, d.to_percentage) == (Action.HOLD, State.HALTED, 0)
    assert "held for a person" in d.reason
