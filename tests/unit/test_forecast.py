"""The rollout forecast: schedule, shares, completion, and `phased-updater forecast`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phased_updater.cli import build_parser, main
from phased_updater.commands import forecast as forecast_command
from phased_updater.errors import UsageError
from phased_updater.forecast import (
    ForecastStep,
    expected_completion,
    schedule,
    share_offered,
    steps_to_completion,
)

NOW = datetime(2024, 6, 11, 12, 0, tzinfo=UTC)
SIX_HOURS = timedelta(hours=6)


@pytest.mark.parametrize(
    ("percent", "share"),
    [(0, 1 / 101), (10, 11 / 101), (50, 51 / 101), (99, 100 / 101), (100, 1.0), (None, 1.0)],
)
def test_share_offered_counts_the_draw_of_zero(percent: int | None, share: float) -> None:
    assert share_offered(percent) == pytest.approx(share)


@pytest.mark.parametrize("percent", [-1, 101])
def test_share_offered_rejects_impossible_percentages(percent: int) -> None:
    with pytest.raises(ValueError, match=f"invalid percent {percent}"):
        share_offered(percent)


def test_default_rollout_takes_54_hours_in_nine_steps() -> None:
    rows = schedule(10, 10, SIX_HOURS, NOW)
    assert [row.percent for row in rows] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert [row.at - NOW for row in rows] == [k * SIX_HOURS for k in range(10)]
    assert rows[-1] == ForecastStep(NOW + timedelta(hours=54), 100, 1.0)
    assert rows[0].share_offered == pytest.approx(11 / 101)
    assert expected_completion(10, 10, SIX_HOURS, NOW) == NOW + timedelta(hours=54)


def test_last_step_is_capped_at_100() -> None:
    rows = schedule(10, 30, timedelta(days=1), NOW)
    assert [row.percent for row in rows] == [10, 40, 70, 100]
    assert rows[-1].at == NOW + timedelta(days=3)


def test_slow_class_of_one_point_per_run() -> None:
    # Bootloaders move 1 point per run: 99 runs of 6 hours from 1%.
    assert expected_completion(1, 1, SIX_HOURS, NOW) == NOW + 99 * SIX_HOURS
    assert len(schedule(1, 1, SIX_HOURS, NOW)) == 100


def test_fully_phased_update_is_a_single_row() -> None:
    assert schedule(100, 10, SIX_HOURS, NOW) == [ForecastStep(NOW, 100, 1.0)]
    assert expected_completion(100, 10, SIX_HOURS, NOW) == NOW


@pytest.mark.parametrize(
    ("start_percent", "step", "interval", "message"),
    [
        (-1, 10, SIX_HOURS, "invalid start percent -1"),
        (101, 10, SIX_HOURS, "invalid start percent 101"),
        (10, 0, SIX_HOURS, "invalid step 0"),
        (10, 101, SIX_HOURS, "invalid step 101"),
        (10, 10, timedelta(0), "invalid interval"),
        (10, 10, -SIX_HOURS, "invalid interval"),
    ],
)
def test_schedule_rejects_bad_parameters(
    start_percent: int, step: int, interval: timedelta, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        schedule(start_percent, step, interval, NOW)
    with pytest.raises(ValueError, match=message):
        expected_completion(start_percent, step, interval, NOW)


@given(
    st.integers(min_value=0, max_value=100),
    st.integers(min_value=1, max_value=100),
    st.integers(min_value=60, max_value=7 * 86400).map(lambda s: timedelta(seconds=s)),
)
def test_schedule_shape(start_percent: int, step: int, interval: timedelta) -> None:
    rows = schedule(start_percent, step, interval, NOW)
    assert rows[0].at == NOW
    assert rows[0].percent == start_percent
    assert rows[-1].percent == 100
    assert rows[-1].share_offered == 1.0
    assert rows[-1].at == expected_completion(start_percent, step, interval, NOW)
    assert len(rows) == steps_to_completion(start_percent, step) + 1
    for earlier, later in pairwise(rows):
        assert later.at - earlier.at == interval
        assert 0 < later.percent - earlier.percent <= step
        assert later.share_offered > earlier.share_offered


# --- `phased-updater forecast` ------------------------------------------------------------


def test_forecast_prints_the_default_schedule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forecast", "--now", "2024-06-11T12:00:00Z"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["step", "at", "(UTC)", "after", "p-u-p", "offered"]
    assert lines[1].split() == ["0", "2024-06-11", "12:00", "0s", "10%", "10.9%"]
    assert lines[-1].split() == ["9", "2024-06-13", "18:00", "2d6h", "100%", "100.0%"]
    assert len(lines) == 11
    # Aligned: every row is as wide as the header.
    assert {len(line) for line in lines} == {len(lines[0])}


def test_forecast_fleet_adds_machine_counts(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["forecast", "--step", "45", "--start", "0", "--interval", "1d", "--fleet", "1010000"]
    args = build_parser().parse_args(argv)
    assert forecast_command.run(args, clock=lambda: NOW) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()[1:4]]
    assert rows == [
        ["0", "2024-06-11", "12:00", "0s", "0%", "1.0%", "10,000"],
        ["1", "2024-06-12", "12:00", "1d", "45%", "45.5%", "460,000"],
        ["2", "2024-06-13", "12:00", "2d", "90%", "90.1%", "910,000"],
    ]
    assert "2024-06-14 12:00" in out
    assert "1,010,000" in out
    assert "note: 0% is how the engine stops an update" in out


def test_forecast_converts_offsets_to_utc_and_reads_naive_times_as_utc(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["forecast", "--now", "2024-06-11T14:00:00+02:00", "--start", "90"]) == 0
    assert main(["forecast", "--now", "2024-06-11T12:00", "--start", "90"]) == 0
    first, second = capsys.readouterr().out.split("step")[1:]
    assert first == second
    assert "2024-06-11 12:00" in first
    assert "2024-06-11 18:00" in first


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--step", "0"], "--step '0': must be 1 to 100"),
        (["--step", "x"], "--step 'x': not a whole number"),
        (["--start", "101"], "--start '101': must be 0 to 100"),
        (["--fleet", "0"], "--fleet '0': must be 1 to"),
        (["--interval", "6"], "--interval: invalid duration '6'"),
        (["--interval", "30s"], "--interval '30s': must be at least 1m"),
        (["--now", "tomorrow"], "--now 'tomorrow': not an ISO 8601 timestamp"),
    ],
)
def test_forecast_rejects_bad_options(argv: list[str], message: str) -> None:
    args = build_parser().parse_args(["forecast", *argv])
    with pytest.raises(UsageError) as raised:
        forecast_command.run(args, clock=lambda: NOW)
    assert message in str(raised.value)


def test_forecast_bad_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forecast", "--step", "0", "--now", "2024-06-11T12:00:00Z"]) == 2
    assert "phased-updater forecast: --step '0'" in capsys.readouterr().err


# --- speed classes and freeze windows -----------------------------------------------------


def forecast_lines(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    args = build_parser().parse_args(["forecast", *argv])
    assert forecast_command.run(args, clock=lambda: NOW) == 0
    return capsys.readouterr().out.splitlines()


def test_forecast_of_a_class_uses_its_step(capsys: pytest.CaptureFixture[str]) -> None:
    lines = forecast_lines(capsys, "--class", "slow", "--start", "10")
    assert lines[0] == "class slow: 1 point every 6h"
    assert lines[-1].split()[:5] == ["90", "2024-07-04", "00:00", "22d12h", "100%"]


def test_forecast_of_a_source_uses_its_class_or_its_groups(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert forecast_lines(capsys, "--source", "grub2", "--start", "98")[0] == (
        "class slow: 1 point every 6h (grub2's class)"
    )
    config = tmp_path / "config.toml"
    config.write_text(
        'interval = "12h"\n[classes]\nglacial = { step = 2, interval = "1d" }\n'
        '[groups]\nfoo = { sources = ["libfoo", "foo-tools"], class = "glacial" }\n'
    )
    lines = forecast_lines(capsys, "--config", str(config), "--source", "libfoo", "--start", "96")
    assert lines[0] == "class glacial: 2 points every 1d (libfoo's class, as group foo)"
    assert [line.split()[4] for line in lines[2:]] == ["96%", "98%", "100%"]
    assert lines[-1].split()[1:3] == ["2024-06-13", "12:00"]
    # A source in no group and no class: the default class, at the config's interval.
    lines = forecast_lines(capsys, "--config", str(config), "--source", "hello", "--start", "90")
    assert lines[0] == "class normal: 10 points every 12h (hello's class)"


def test_forecast_through_the_weekend_freeze(capsys: pytest.CaptureFixture[str]) -> None:
    # Thursday 2024-06-13 18:00 at 90%: the step to 100% is due Friday 00:00.
    lines = forecast_lines(
        capsys,
        "--start",
        "90",
        "--now",
        "2024-06-13T18:00:00Z",
        "--freeze-windows",
        "Fri 00:00-Mon 12:00",
    )
    assert lines[:2] == [
        "class normal: 10 points every 6h",
        "freeze window Fri 00:00-Mon 12:00: no update completes",
    ]
    assert lines[2].split() == ["step", "at", "(UTC)", "after", "p-u-p", "offered", "note"]
    assert lines[4].split()[:5] == ["1", "2024-06-17", "12:00", "3d18h", "100%"]
    assert lines[4].endswith("held by freeze window Fri 00:00-Mon 12:00")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--class", "glacial"], "--class: unknown class 'glacial' (known: normal, medium, slow)"),
        (["--class", "slow", "--step", "3"], "--step and --interval: not with --class"),
        (["--source", "Bad!"], "--source 'Bad!' is not a valid Debian source package name"),
        (["--freeze-windows", "Fri 00:00-Fri 00:00"], "freeze_windows 'Fri 00:00-Fri 00:00'"),
    ],
)
def test_forecast_rejects_bad_classes_and_windows(argv: list[str], message: str) -> None:
    args = build_parser().parse_args(["forecast", *argv])
    with pytest.raises(UsageError) as raised:
        forecast_command.run(args, clock=lambda: NOW)
    assert message in str(raised.value)
