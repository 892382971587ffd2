"""`phased-updater forecast`: the schedule of an update from now to 100%."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from phased_updater.config import Settings, load_settings, parse_now
from phased_updater.debian import check_source_name
from phased_updater.duration import format_duration, parse_duration
from phased_updater.errors import UsageError
from phased_updater.forecast import ForecastStep, schedule
from phased_updater.freeze import FreezeCalendar
from phased_updater.model import Pace
from phased_updater.speed import DEFAULT_CLASS, MINIMUM_INTERVAL, SpeedClass

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

--class NAME, or --source PACKAGE (its class, or its phasing group's), takes the step
and interval of that speed class: the built-in ones (normal, medium 5, slow 1) and
those of the --config file's [classes], [sources] and [groups] tables. Freeze windows
(--freeze-windows, or the config's freeze_windows) hold the step they refuse until
they end: that step happens at the window's end, the next ones an interval apart.
"""

EPILOG = """\
examples:
  phased-updater forecast
  phased-updater forecast --step 1 --start 1 --fleet 2000000
  phased-updater forecast --interval 1d --now 2024-06-11T12:00:00Z
  phased-updater forecast --source grub2 --start 20
  phased-updater forecast --start 90 --freeze-windows 'Fri 00:00-Mon 12:00' \\
      --now 2025-03-13T18:00:00Z

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
        "--step", metavar="N", help=f"points per step, 1..100 (default {Settings.step})"
    )
    parser.add_argument(
        "--interval",
        metavar="DURATION",
        help="time between engine runs: 90m, 6h, 1d, 1h30m ..."
        f" (default {format_duration(Settings.interval)})",
    )
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--class",
        dest="speed_class",
        metavar="NAME",
        help="the step and interval of this speed class (normal, medium, slow, or the config's)",
    )
    pace.add_argument(
        "--source",
        metavar="PACKAGE",
        help="the step and interval of this source's class (or of its phasing group's)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="the engine's TOML config: its step, interval, classes, groups and freeze windows",
    )
    parser.add_argument(
        "--freeze-windows",
        dest="freeze_windows",
        metavar="WINDOW[,WINDOW...]",
        help="weekly UTC windows in which no update completes, e.g. 'Fri 00:00-Mon 12:00'"
        " (' no-steps': no step at all); default: the config's, else none",
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
    settings = load_settings(
        argparse.Namespace(config=args.config, freeze_windows=args.freeze_windows)
    )
    chosen = args.speed_class is not None or args.source is not None
    if chosen and (args.step is not None or args.interval is not None):
        which = "--class" if args.speed_class is not None else "--source"
        raise UsageError(f"--step and --interval: not with {which}, which gives both")
    step = settings.step if args.step is None else _parse_int(args.step, "--step", 1, 100)
    interval = settings.interval if args.interval is None else _parse_interval(args.interval)
    start_percent = _parse_int(args.start, "--start", 0, 100)
    fleet = None if args.fleet is None else _parse_int(args.fleet, "--fleet", 1, MAX_FLEET)
    now = clock() if args.now is None else parse_now(args.now)
    pace = _pace(args, replace(settings, step=step, interval=interval))
    freeze = settings.freeze_windows
    if chosen or freeze:
        for line in _preamble(pace, freeze, args.source, settings.interval):
            print(line)
    rows = schedule(start_percent, pace.step, pace.interval, now.astimezone(UTC), freeze)
    print(render_table(rows, start=now, fleet=fleet))
    if start_percent == 0:
        print(
            "note: 0% is how the engine stops an update after a regression; this "
            "forecast assumes phasing resumes now"
        )
    return 0


def _pace(args: argparse.Namespace, settings: Settings) -> Pace:
    classes = settings.speed_classes
    try:
        if args.speed_class is not None:
            return classes.pace(args.speed_class)
        if args.source is not None:
            return settings.groups.pace_of(check_source_name(args.source, "--source"), classes)
    except ValueError as error:
        if args.speed_class is None:
            raise UsageError(str(error)) from None
        raise UsageError(f"--class: {error}") from None
    return classes.pace(DEFAULT_CLASS)


def _preamble(
    pace: Pace, freeze: FreezeCalendar, source: str | None, default_interval: timedelta
) -> list[str]:
    """What the schedule is made of: the class, and the freeze windows."""
    speed = SpeedClass(pace.speed_class, pace.step, pace.interval).describe(default_interval)
    whose = ""
    if source is not None:
        whose = f" ({source}'s class" + (f", as group {pace.group})" if pace.group else ")")
    lines = [f"class {speed}{whose}"]
    for window in freeze.windows:
        held = "no step" if window.steps else "no update completes"
        lines.append(f"freeze window {window}: {held}")
    return lines


def render_table(rows: list[ForecastStep], *, start: datetime, fleet: int | None) -> str:
    """A plain aligned table, one line per step; times in UTC."""
    header = ["step", "at (UTC)", "after", "p-u-p", "offered"]
    if fleet is not None:
        header.append("machines")
    held = any(row.held_by is not None for row in rows)
    if held:
        header.append("note")
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
        if held:
            cells.append(f"held by freeze window {row.held_by}" if row.held_by else "")
        table.append(cells)
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    # Text columns (the timestamp, the note) align left, numbers right.
    left_aligned = {1, len(header) - 1} if held else {1}
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
