"""`phased-updater forecast`: the schedule of an update from now to 100%."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from phased_updater.config import Settings, parse_now
from phased_updater.speed import MINIMUM_INTERVAL
from phased_updater.duration import format_duration, parse_duration
from phased_updater.errors import UsageError
from phased_updater.forecast import ForecastStep, schedule

Clock = Callable[[], datetime]

DEFAULT_START = 10  # the p-u-p an update gets when it is copied to -updates
MAX_FLEET = 10**12

DESCRIPTION = f"""\
Print when an update reaches each percentage until it is fully phased, assuming no
regression stops it, and the share of machines offered the update by then: (p+1)/101
at p%, because apt's draw runs from 0 to 100 inclusive, and 100% at completion.

The engine runs on a timer every --interval and raises the percentage by --step once
the update has been at its level for the interval less a tenth, so step k happens at
NOW + k * interval. Defaults match `phased-updater run`:
--step {Settings.step} --interval {format_duration(Settings.interval)} --start {DEFAULT_START}.
"""

EPILOG = """\
examples:
  phased-updater forecast
  phased-updater forecast --step 1 --start 1 --fleet 2000000
  phased-updater forecast --interval 1d --now 2024-06-11T12:00:00Z

exit status: 0 the schedule was printed; 2 bad usage.
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "forecast",
        help="print an update's schedule to 100%% and the share of machines offered it",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--step", metavar="N", default=str(Settings.step), help="points per step, 1..100"
    )
    parser.add_argument(
        "--interval",
        metavar="DURATION",
        default=format_duration(Settings.interval),
        help="time between engine runs: 90m, 6h, 1d, 1h30m ...",
    )
    parser.add_argument(
        "--start",
        metavar="PERCENT",
        default=str(DEFAULT_START),
        help="the update's percentage now, 0..100",
    )
    parser.add_argument(
        "--fleet", metavar="N", help="add a column of expected machine counts out of N"
    )
    parser.add_argument(
        "--now",
        metavar="TIMESTAMP",
        help="when the update reached --start, ISO 8601 (e.g. 2024-06-11T12:00:00Z; "
        "no offset means UTC); default: the current time",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """The sub-command's handler, on the real clock."""
    return run(args, clock=lambda: datetime.now(UTC))


def run(args: argparse.Namespace, *, clock: Clock) -> int:
    """Parse the options, then print the schedule table."""
    step = _parse_int(args.step, "--step", 1, 100)
    start_percent = _parse_int(args.start, "--start", 0, 100)
    interval = _parse_interval(args.interval)
    fleet = None if args.fleet is None else _parse_int(args.fleet, "--fleet", 1, MAX_FLEET)
    now = clock() if args.now is None else parse_now(args.now)
    rows = schedule(start_percent, step, interval, now.astimezone(UTC))
    print(render_table(rows, start=now, fleet=fleet))
    if start_percent == 0:
        print(
            "note: 0% is how the engine stops an update after a regression; this "
            "forecast assumes phasing resumes now"
        )
    return 0


def render_table(rows: list[ForecastStep], *, start: datetime, fleet: int | None) -> str:
    """A plain aligned table, one line per step; times in UTC."""
    header = ["step", "at (UTC)", "after", "p-u-p", "offered"]
    if fleet is not None:
        header.append("machines")
    table = [header]
    for index, row in enumerate(rows):
        cells = [
            str(index),
            row.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            format_duration(row.at - start),
            f"{row.percent}%",
            f"{row.share_offered * 100:.1f}%",
        ]
        if fleet is not None:
            cells.append(f"{round(fleet * row.share_offered):,}")
        table.append(cells)
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    # Text columns (the timestamp) align left, numbers right.
    left_aligned = {1}
    lines = []
    for line in table:
        cells = [
            cell.ljust(width) if column in left_aligned else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _parse_int(text: str, what: str, low: int, high: int) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise UsageError(f"{what} {text!r}: not a whole number") from None
    if not low <= value <= high:
        raise UsageError(f"{what} {text!r}: must be {low} to {high:,}")
    return value


def _parse_interval(text: str) -> timedelta:
    try:
        interval = parse_duration(text)
    except ValueError as error:
        raise UsageError(f"--interval: {error}") from None
    if interval < MINIMUM_INTERVAL:
        raise UsageError(
            f"--interval {text!r}: must be at least {format_duration(MINIMUM_INTERVAL)}"
        )
    return interval
