"""Times as text: durations people write (``6h``) and the timestamps of files and options.

Timestamps are ISO 8601 everywhere (``--now``, the state database, the JSON report,
the halts file): :func:`parse_timestamp` reads every one of them, a timestamp with no
offset being UTC, and :func:`format_timestamp` writes them, in UTC to the second.

Durations: ``90m``, ``6h``, ``1d``, ``1h30m``, ``2w``.

Grammar: one or more ``<digits><unit>`` parts with no spaces between them, where the
unit is ``w`` (week), ``d`` (day), ``h`` (hour), ``m`` (minute) or ``s`` (second).
Each unit appears at most once and units go from largest to smallest, so ``1h30m`` is
accepted but ``30m1h`` and ``1h1h`` are not: a typo such as ``1h30`` or ``6hm`` is far
more likely than a deliberate odd spelling, and rejecting it early beats running the
phaser on a surprising interval. Leading and trailing whitespace is ignored.

A duration must be positive and at most :data:`MAX_DURATION`; every interval this
project deals with (the phasing timer, Error Tracker windows, forecasts) is hours to
days, so anything beyond a year is a mistake, not a wish.

``format_duration`` writes the canonical form that ``parse_duration`` reads back.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta

MAX_DURATION = timedelta(days=366)

_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_UNIT_ORDER = "wdhms"
_PART = re.compile(r"([0-9]+)([a-zA-Z]+)")
# Upper bound on a single number, so a hostile "9999…9s" never reaches timedelta.
_MAX_DIGITS = 12


def parse_duration(text: str) -> timedelta:
    """Parse ``text`` such as ``6h`` or ``1h30m`` into a positive timedelta.

    Raises ValueError naming the value and the reason when the text is empty, not of
    the ``<integer><unit>`` form, uses an unknown unit, repeats a unit or puts units
    out of order, is zero or negative, or exceeds :data:`MAX_DURATION`.
    """
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"invalid duration {text!r}: empty")
    if stripped.startswith("-"):
        raise ValueError(f"invalid duration {text!r}: must be positive")

    total_seconds = 0
    position = 0
    previous_rank = -1
    while position < len(stripped):
        match = _PART.match(stripped, position)
        if match is None:
            raise ValueError(
                f"invalid duration {text!r}: expected <integer><unit> with a unit of "
                f"w, d, h, m or s (e.g. 6h, 1h30m) at {stripped[position:]!r}"
            )
        digits, unit = match.groups()
        if unit not in _UNIT_SECONDS:
            raise ValueError(
                f"invalid duration {text!r}: unknown unit {unit!r} (use w, d, h, m or s)"
            )
        rank = _UNIT_ORDER.index(unit)
        if rank <= previous_rank:
            raise ValueError(
                f"invalid duration {text!r}: units must appear once each, "
                "largest first (e.g. 1d6h, not 6h1d)"
            )
        if len(digits.lstrip("0")) > _MAX_DIGITS:
            raise ValueError(f"invalid duration {text!r}: longer than {_describe_max()}")
        previous_rank = rank
        total_seconds += int(digits) * _UNIT_SECONDS[unit]
        position = match.end()

    if total_seconds == 0:
        raise ValueError(f"invalid duration {text!r}: must be positive, not zero")
    if total_seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"invalid duration {text!r}: longer than {_describe_max()}")
    return timedelta(seconds=total_seconds)


def format_duration(duration: timedelta) -> str:
    """Write ``duration`` compactly, e.g. ``2d6h``, ``1h30m``, ``45s``, ``0s``.

    Uses days, hours, minutes and seconds (not weeks: ``9d`` reads more easily than
    ``1w2d`` in a report). Sub-second parts are rounded to the nearest second. A
    negative duration gets a leading ``-`` (parse_duration rejects those, but a
    report may still need to show "overdue by" values).
    """
    total = round(duration.total_seconds())
    sign = "-" if total < 0 else ""
    remaining = abs(total)
    parts: list[str] = []
    for unit in "dhms":
        size = _UNIT_SECONDS[unit]
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + ("".join(parts) or "0s")


def _describe_max() -> str:
    return f"the maximum of {MAX_DURATION.days}d"


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp (``Z`` or an offset; none means UTC), in UTC.

    Raises ValueError naming the value when it is not one.
    """
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r}: not an ISO 8601 timestamp (e.g. 2024-06-11T12:00:00Z)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# Cached: a report writes the same few thousand run times tens of thousands of times.
@functools.lru_cache(maxsize=16384)
def format_timestamp(moment: datetime) -> str:
    """``moment`` in UTC to the second, as `parse_timestamp` reads it back."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")
