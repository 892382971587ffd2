"""When an update will be fully phased, and how many machines have it on offer by then.

The model (pure; no clock is read here):

- The engine runs on a timer every ``interval``. It raises an update's p-u-p when the
  update has been at its level for at least ``interval`` less a tenth, so every run
  raises it, and step k lands at ``start + k * interval`` where ``start`` is when the
  update reached ``start_percent`` (the run that set it, or "now" for a new forecast).
- Each step adds ``step`` points, capped at 100 (fully phased). ``step`` and
  ``interval`` are those of the update's speed class.
- A freeze window (`freeze`) holds the step it refuses (the step to 100, or any step
  in a ``no-steps`` window) until the window ends: that step lands at the window's end,
  and the next ones an interval apart from there.
- No regression is assumed: the forecast is the best case.

A machine is offered the update at p% when apt's draw (0..100, uniform) is <= p, so
the share offered is (p + 1) / 101. Because a machine's draw is fixed per update, the
share at the current level is also the share offered "so far".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from phased_updater.freeze import FreezeCalendar, FreezeWindow

FULLY_PHASED = 100
_DRAW_OUTCOMES = FULLY_PHASED + 1  # draws are 0..100 inclusive


@dataclass(frozen=True)
class ForecastStep:
    """One row of a schedule: at ``at`` the p-u-p becomes ``percent``."""

    at: datetime
    percent: int
    share_offered: float
    # The freeze window that held this step until it ended, if one did.
    held_by: FreezeWindow | None = None


def share_offered(percent: int | None) -> float:
    """The share (0..1) of machines offered an update phased at ``percent``.

    None means Launchpad holds no p-u-p, i.e. the update is fully phased: 1.0. At 0%
    the share is 1/101, not 0: a machine that draws 0 still gets a stopped update.
    """
    if percent is None:
        return 1.0
    _check_percent(percent, "percent")
    return (percent + 1) / _DRAW_OUTCOMES


def steps_to_completion(start_percent: int, step: int) -> int:
    """How many engine runs take ``start_percent`` to 100 at ``step`` points each."""
    _check_percent(start_percent, "start percent")
    _check_step(step)
    return math.ceil((FULLY_PHASED - start_percent) / step)


def schedule(
    start_percent: int,
    step: int,
    interval: timedelta,
    start: datetime,
    freeze: FreezeCalendar | None = None,
) -> list[ForecastStep]:
    """The rollout from ``start_percent`` at ``start`` to 100%, one row per level.

    The first row is the current level at ``start``; without freeze windows row k
    (k >= 1) is at ``start + k * interval``; the last row is 100%. An update already at
    100% gives a single row.
    """
    _check_interval(interval)
    count = steps_to_completion(start_percent, step)
    rows = [ForecastStep(start, start_percent, share_offered(start_percent))]
    at = start
    for index in range(1, count + 1):
        percent = min(start_percent + index * step, FULLY_PHASED)
        due = at + interval
        at, held_by = due, None
        if freeze:
            completes = percent == FULLY_PHASED
            at = freeze.allowed_from(due, completes=completes)
            held_by = freeze.refusing(due, completes=completes) if at != due else None
        rows.append(ForecastStep(at, percent, share_offered(percent), held_by))
    return rows


def expected_completion(
    start_percent: int,
    step: int,
    interval: timedelta,
    start: datetime,
    freeze: FreezeCalendar | None = None,
) -> datetime:
    """When an update at ``start_percent`` since ``start`` reaches 100%, if nothing stops it."""
    if not freeze:
        _check_interval(interval)
        return start + steps_to_completion(start_percent, step) * interval
    return schedule(start_percent, step, interval, start, freeze)[-1].at


def _check_percent(percent: int, what: str) -> None:
    if not 0 <= percent <= FULLY_PHASED:
        raise ValueError(f"invalid {what} {percent}: must be 0 to {FULLY_PHASED}")


def _check_step(step: int) -> None:
    if not 1 <= step <= FULLY_PHASED:
        raise ValueError(f"invalid step {step}: must be 1 to {FULLY_PHASED}")


def _check_interval(interval: timedelta) -> None:
    if interval <= timedelta(0):
        raise ValueError(f"invalid interval {interval}: must be positive")
