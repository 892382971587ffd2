"""The small percentage-over-time chart of one update, as SVG geometry.

Only numbers and our own labels leave this module; the template draws them, so
nothing here builds markup. The chart is a step line (a level holds until the next
decision changes it) with a marker where the update was stopped, halted or resumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from phased_updater.model import FULLY_PHASED

WIDTH = 240
HEIGHT = 56
PAD_X = 4
PAD_TOP = 6
PAD_BOTTOM = 6

# A chart spanning more than this writes the year on its axis.
YEAR_SHOWN_AFTER = timedelta(days=183)

# Actions that deserve a marker, and the marker's kind (a CSS class).
MARKED_ACTIONS = {"stop": "stop", "halt": "halt", "resume": "resume", "unknown": "unknown"}


@dataclass(frozen=True)
class LevelChange:
    """One decision as the chart sees it: the level before and after, and when."""

    at: datetime
    before: int
    after: int
    action: str
    label: str  # shown as the marker's tooltip


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    kind: str
    label: str


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    path: str  # an SVG path: the level over time
    area: str  # the same path closed along the bottom, for a light fill
    markers: tuple[Marker, ...]
    grid: tuple[float, ...]  # y of the 0%, 50% and 100% lines
    start: datetime
    end: datetime

    @property
    def axis_format(self) -> str:
        """How the axis writes its two dates: with the year once it spans half a year."""
        return "%b %d %Y" if self.end - self.start > YEAR_SHOWN_AFTER else "%b %d"


def _y(percentage: int) -> float:
    usable = HEIGHT - PAD_TOP - PAD_BOTTOM
    return round(PAD_TOP + usable * (1 - percentage / FULLY_PHASED), 1)


def build(changes: Sequence[LevelChange], start: datetime, end: datetime) -> Timeline:
    """The chart of `changes` (oldest first) between `start` and `end`.

    Linear in the number of decisions; consecutive decisions that leave the level
    unchanged add no point, so a year of "still stopped" is a single flat segment.
    """
    if changes:
        start = min(start, changes[0].at)
        end = max(end, changes[-1].at)
    span = (end - start).total_seconds() or 1.0
    usable = WIDTH - 2 * PAD_X

    def x(moment: datetime) -> float:
        return round(PAD_X + usable * (moment - start).total_seconds() / span, 1)

    points: list[tuple[float, float]] = []
    markers: list[Marker] = []
    level: int | None = None
    for change in changes:
        cx = x(change.at)
        if level is None:
            points.append((cx, _y(change.before)))
        elif change.before != level:
            # The level moved between runs (a person, or a partial write): show it.
            points.append((cx, _y(level)))
            points.append((cx, _y(change.before)))
        if change.after != change.before:
            points.append((cx, _y(change.before)))
            points.append((cx, _y(change.after)))
        level = change.after
        kind = MARKED_ACTIONS.get(change.action)
        if kind is not None:
            markers.append(Marker(cx, _y(change.after), kind, change.label))
    if level is not None:
        points.append((x(end), _y(level)))
    path = _path(points)
    area = f"{path} L{x(end)},{_y(0)} L{points[0][0]},{_y(0)} Z" if points else ""
    return Timeline(
        width=WIDTH,
        height=HEIGHT,
        path=path,
        area=area,
        markers=tuple(markers),
        grid=(_y(0), _y(50), _y(FULLY_PHASED)),
        start=start,
        end=end,
    )


def _path(points: list[tuple[float, float]]) -> str:
    # Drop points that repeat the previous one: they draw nothing.
    kept: list[tuple[float, float]] = []
    for point in points:
        if not kept or kept[-1] != point:
            kept.append(point)
    if not kept:
        return ""
    first, *rest = kept
    return f"M{first[0]},{first[1]}" + "".join(f" L{px},{py}" for px, py in rest)
