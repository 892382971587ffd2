"""The timeline's geometry: a step line with markers, linear in the decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from phased_updater.report import timeline
from phased_updater.report.timeline import LevelChange

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def change(hours: int, before: int, after: int, action: str = "advance") -> LevelChange:
    return LevelChange(T0 + hours * HOUR, before, after, action, f"{action} at {hours}h")


def test_a_step_line_from_start_to_end() -> None:
    chart = timeline.build([change(0, 10, 10, "wait"), change(6, 10, 20)], T0, T0 + 12 * HOUR)
    # x: 4 .. 236 over 12h; y: 0% at 50, 100% at 6.
    assert chart.path == "M4.0,45.6 L120.0,45.6 L120.0,41.2 L236.0,41.2"
    assert chart.markers == ()
    assert chart.grid == (50.0, 28.0, 6.0)


def test_stops_and_resumes_are_marked() -> None:
    changes = [
        change(0, 30, 0, "stop"),
        change(6, 0, 0, "keep-stopped"),
        change(12, 0, 30, "resume"),
    ]
    chart = timeline.build(changes, T0, T0 + 12 * HOUR)
    assert [(m.kind, m.y, m.label) for m in chart.markers] == [
        ("stop", 50.0, "stop at 0h"),
        ("resume", 36.8, "resume at 12h"),
    ]


def test_a_year_of_identical_decisions_is_one_segment() -> None:
    changes = [change(6 * i, 0, 0, "keep-stopped") for i in range(1460)]
    chart = timeline.build(changes, T0, changes[-1].at)
    assert chart.path == "M4.0,50.0 L236.0,50.0"


def test_a_level_changed_between_runs_is_drawn() -> None:
    chart = timeline.build([change(0, 10, 20), change(6, 50, 60)], T0, T0 + 6 * HOUR)
    assert "L236.0,41.2 L236.0,28.0 L236.0,23.6" in chart.path


def test_no_decisions_no_line() -> None:
    chart = timeline.build([], T0, T0)
    assert (chart.path, chart.area, chart.markers) == ("", "", ())


def test_the_window_widens_to_the_decisions() -> None:
    chart = timeline.build([change(-24, 10, 20)], T0, T0)
    assert chart.start == T0 - 24 * HOUR
    assert chart.path.startswith("M4.0,")
