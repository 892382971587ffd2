"""Freeze windows: parsing, and the policy and forecast holding what they refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from phased_updater.errors import EntryError
from phased_updater.forecast import expected_completion, schedule
from phased_updater.freeze import FreezeCalendar, FreezeWindow
from phased_updater.model import (
    Action,
    CrashCheck,
    Decision,
    Problem,
    ProblemKind,
    Standing,
    State,
    StopRecord,
    Update,
)
from phased_updater.overrides import Overrides
from phased_updater.policy import decide
from tests.unit.factories import binary, update

SIX_HOURS = timedelta(hours=6)
# A week of March 2025: Monday the 10th to Sunday the 16th.
THURSDAY_18 = datetime(2025, 3, 13, 18, 0, tzinfo=UTC)
FRIDAY_00 = datetime(2025, 3, 14, 0, 0, tzinfo=UTC)
MONDAY_12 = datetime(2025, 3, 17, 12, 0, tzinfo=UTC)
WEEKEND = FreezeCalendar.parse(["Fri 00:00-Mon 12:00"])
CRASH = Problem(ProblemKind.NEW_CRASH, "https://errors.ubuntu.com/problem/" + "ab" * 20, "main()")


def run(u: Update, now: datetime, freeze: FreezeCalendar = WEEKEND, **kw: object) -> Decision:
    return decide(u, CrashCheck(), Overrides(), None, now, 10, SIX_HOURS, freeze=freeze, **kw)  # type: ignore[arg-type]


def at(level: int, since: datetime) -> Update:
    return update(binary(percentage=level, created=since))


# -- the windows themselves ------------------------------------------------------------------


def test_a_window_wraps_around_the_end_of_the_week_and_is_half_open() -> None:
    window = FreezeWindow.parse("Fri 00:00-Mon 12:00")
    assert str(window) == "Fri 00:00-Mon 12:00"
    assert not window.contains(FRIDAY_00 - timedelta(seconds=1))
    assert window.contains(FRIDAY_00)
    assert window.contains(datetime(2025, 3, 16, 23, 59, tzinfo=UTC))  # Sunday
    assert window.contains(MONDAY_12 - timedelta(seconds=1))
    assert not window.contains(MONDAY_12)  # the Monday 12:00 run is outside
    assert window.ends_after(datetime(2025, 3, 15, 9, 30, tzinfo=UTC)) == MONDAY_12


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("friday 00:00 - monday 12:00", "Fri 00:00-Mon 12:00"),
        ("Sat 0:00-Sun 24:00 no-steps", "Sat 00:00-Mon 00:00 no-steps"),
        ("Wed 22:00-Thu 02:00 no-completion", "Wed 22:00-Thu 02:00"),
    ],
)
def test_window_spellings(text: str, shown: str) -> None:
    assert str(FreezeWindow.parse(text)) == shown


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Fri 25:00-Mon 12:00", "'25:00' is not a time from 00:00 to 24:00"),
        ("Fri 10:61-Mon 12:00", "'10:61' is not a time"),
        ("Frid 00:00-Mon 12:00", "'Frid' is not a weekday"),
        ("Fri 00:00-Fri 00:00", "the window is empty"),
        ("Fri 00:00 to Mon 12:00", "expected DAY HH:MM-DAY HH:MM"),
        ("Fri 00:00-Mon 12:00 no-step", "'no-step' is neither no-completion nor no-steps"),
    ],
)
def test_a_bad_window_is_named(text: str, reason: str) -> None:
    with pytest.raises(EntryError) as raised:
        FreezeWindow.parse(text)
    assert (raised.value.entry, reason in raised.value.reason) == (text, True)


def test_overlapping_windows_are_refused() -> None:
    with pytest.raises(EntryError, match="Sun 00:00-Sun 01:00: overlaps Fri 00:00-Mon 12:00"):
        FreezeCalendar.parse(["Fri 00:00-Mon 12:00", "Sun 00:00-Sun 01:00"])
    with pytest.raises(EntryError, match="overlaps"):
        FreezeCalendar.parse(["Mon 00:00-Tue 00:00", "Sun 12:00-Mon 01:00"])
    # Windows that only touch do not overlap.
    assert len(FreezeCalendar.parse(["Fri 00:00-Sat 00:00", "Sat 00:00-Mon 12:00"]).windows) == 2


def test_windows_covering_the_whole_week_are_refused() -> None:
    with pytest.raises(EntryError, match="cover the whole week"):
        FreezeCalendar.parse(["Mon 00:00-Fri 00:00", "Fri 00:00-Mon 00:00"])


# -- the policy ------------------------------------------------------------------------------


def test_the_engine_default_freezes_nothing() -> None:
    d = run(at(90, THURSDAY_18), FRIDAY_00, FreezeCalendar())
    assert (d.action, d.state, d.to_percentage) == (Action.ADVANCE, State.COMPLETE, 100)


def test_a_window_starting_while_an_update_is_at_90_holds_its_completion() -> None:
    # At 90% since Thursday 18:00: due at Friday 00:00, when the window starts.
    held = run(at(90, THURSDAY_18), FRIDAY_00)
    assert (held.action, held.state, held.to_percentage) == (Action.WAIT, State.PHASING, 90)
    assert "completes after Mon 12:00 UTC" in held.reason
    assert "freeze window Fri 00:00-Mon 12:00" in held.reason
    assert held.next_step_at == MONDAY_12
    assert held.since == THURSDAY_18  # it stays at its level: no write
    for later in (FRIDAY_00 + SIX_HOURS, MONDAY_12 - timedelta(minutes=1)):
        assert run(at(90, THURSDAY_18), later).action is Action.WAIT
    done = run(at(90, THURSDAY_18), MONDAY_12)
    assert (done.action, done.state, done.to_percentage) == (Action.ADVANCE, State.COMPLETE, 100)


def test_a_completion_due_before_the_window_is_taken() -> None:
    d = run(at(90, THURSDAY_18 - SIX_HOURS), THURSDAY_18)
    assert (d.action, d.to_percentage) == (Action.ADVANCE, 100)


def test_ordinary_steps_go_on_in_a_window_that_only_holds_completion() -> None:
    d = run(at(40, FRIDAY_00), FRIDAY_00 + SIX_HOURS)
    assert (d.action, d.to_percentage) == (Action.ADVANCE, 50)


def test_a_no_steps_window_holds_every_step() -> None:
    freeze = FreezeCalendar.parse(["Sat 00:00-Sun 12:00 no-steps"])
    saturday = datetime(2025, 3, 15, 6, 0, tzinfo=UTC)
    d = run(at(40, saturday - SIX_HOURS), saturday, freeze)
    assert (d.action, d.to_percentage) == (Action.WAIT, 40)
    assert "steps after Sun 12:00 UTC" in d.reason
    assert d.next_step_at == datetime(2025, 3, 16, 12, 0, tzinfo=UTC)


def test_a_wait_whose_next_step_falls_in_a_window_says_when_the_window_ends() -> None:
    d = run(at(90, THURSDAY_18 + timedelta(hours=3)), THURSDAY_18 + timedelta(hours=4))
    assert (d.action, d.next_step_at) == (Action.WAIT, MONDAY_12)
    normal = run(at(40, THURSDAY_18 + timedelta(hours=3)), THURSDAY_18 + timedelta(hours=4))
    assert normal.next_step_at == THURSDAY_18 + timedelta(hours=3) + SIX_HOURS * 0.9


def test_windows_that_follow_each_other_hold_through_both() -> None:
    freeze = FreezeCalendar.parse(["Fri 00:00-Sat 00:00 no-steps", "Sat 00:00-Mon 12:00"])
    d = run(at(90, THURSDAY_18), FRIDAY_00, freeze)
    assert d.next_step_at == MONDAY_12


def test_a_window_never_holds_a_stop() -> None:
    u = at(90, THURSDAY_18)
    d = decide(u, CrashCheck((CRASH,)), Overrides(), None, FRIDAY_00, 10, SIX_HOURS, freeze=WEEKEND)
    assert (d.action, d.to_percentage) == (Action.STOP, 0)


def test_a_resume_to_100_waits_for_the_window_but_a_resume_below_does_not() -> None:
    overrides = Overrides.parse(f"foo, 1.2-3ubuntu0.1, {CRASH.url}\n")
    stopped = Standing(StopRecord(THURSDAY_18, 60, (CRASH,)))
    for peak, action in ((60, Action.RESUME), (100, Action.WAIT)):
        u = update(binary(percentage=0, created=THURSDAY_18), highest=peak)
        d = decide(
            u,
            CrashCheck((CRASH,)),
            overrides,
            None,
            FRIDAY_00,
            10,
            SIX_HOURS,
            standing=stopped,
            freeze=WEEKEND,
        )
        assert d.action is action, peak


# -- the forecast ----------------------------------------------------------------------------


def test_the_forecast_waits_for_the_window_to_complete() -> None:
    rows = schedule(90, 10, SIX_HOURS, THURSDAY_18, WEEKEND)
    assert [(r.at, r.percent) for r in rows] == [(THURSDAY_18, 90), (MONDAY_12, 100)]
    assert str(rows[1].held_by) == "Fri 00:00-Mon 12:00"
    assert expected_completion(90, 10, SIX_HOURS, THURSDAY_18, WEEKEND) == MONDAY_12
    # Ordinary steps go on through the weekend; only the last one waits.
    slow = schedule(95, 1, SIX_HOURS, THURSDAY_18, WEEKEND)
    assert [r.percent for r in slow if r.at < MONDAY_12] == [95, 96, 97, 98, 99]
    assert slow[-1].at == MONDAY_12


def test_the_forecast_through_a_no_steps_window_shifts_every_later_step() -> None:
    freeze = FreezeCalendar.parse(["Fri 00:00-Mon 00:00 no-steps"])
    rows = schedule(50, 10, SIX_HOURS, THURSDAY_18, freeze)
    monday = datetime(2025, 3, 17, 0, 0, tzinfo=UTC)
    assert [r.at for r in rows[:4]] == [
        THURSDAY_18,
        monday,
        monday + SIX_HOURS,
        monday + 2 * SIX_HOURS,
    ]
