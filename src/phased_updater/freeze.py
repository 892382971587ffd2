"""The calendar rule: weekly UTC freeze windows in which no update completes.

A window is a weekday and time to a weekday and time, in UTC, e.g.
``Fri 00:00-Mon 12:00`` (Ubuntu's proposal: nothing reaches 100% while nobody
watches, as SRUs are not released on Fridays). During a window no update is taken to
100%: it stays at its level, and completes at the first run after the window ends.
A window written with ``no-steps`` (``Sat 00:00-Sun 23:59 no-steps``) holds every
step, not only the last one; ``no-completion`` is the default and may be written.
Windows are half-open: one that ends at Mon 12:00 lets the Mon 12:00 run complete.

Windows may wrap around the end of the week (Friday to Monday); they must not overlap,
and together they must leave some of the week free. Pure: the time is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from phased_updater.errors import EntryError

WEEK = 7 * 86400
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
NO_COMPLETION = "no-completion"
NO_STEPS = "no-steps"
_WINDOW = re.compile(
    r"\s*(?P<start_day>[A-Za-z]+)\s+(?P<start>[0-9]{1,2}:[0-9]{2})\s*-\s*"
    r"(?P<end_day>[A-Za-z]+)\s+(?P<end>[0-9]{1,2}:[0-9]{2})(?:\s+(?P<kind>[a-z-]+))?\s*"
)


def _day(text: str) -> int:
    lowered = text.lower()
    for number, (short, full) in enumerate(zip(DAYS, _FULL_DAYS, strict=True)):
        if lowered in (short.lower(), full):
            return number
    raise ValueError(f"{text!r} is not a weekday (Mon, Tue, ... Sun)")


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise ValueError(f"{text!r} is not a time from 00:00 to 24:00")
    return value


def _week_text(seconds: int) -> str:
    day, rest = divmod(seconds % WEEK, 86400)
    return f"{DAYS[day]} {rest // 3600:02d}:{rest % 3600 // 60:02d}"


def week_moment(moment: datetime) -> str:
    """e.g. "Mon 12:00": a moment's weekday and time in UTC (not the locale's names)."""
    utc = moment.astimezone(UTC)
    return f"{DAYS[utc.weekday()]} {utc:%H:%M}"


def week_seconds(moment: datetime) -> float:
    """Seconds since Monday 00:00 UTC of `moment`'s week."""
    utc = moment.astimezone(UTC)
    return (
        utc.weekday() * 86400
        + utc.hour * 3600
        + utc.minute * 60
        + utc.second
        + (utc.microsecond / 1e6)
    )


@dataclass(frozen=True)
class FreezeWindow:
    start: int  # seconds since Monday 00:00 UTC
    end: int
    steps: bool = False  # True: no step at all in the window, not only no completion

    @classmethod
    def parse(cls, text: str) -> FreezeWindow:
        """``DAY HH:MM-DAY HH:MM [no-completion|no-steps]``; EntryError naming the text."""
        match = _WINDOW.fullmatch(text)
        if match is None:
            raise EntryError(
                text,
                f"expected DAY HH:MM-DAY HH:MM, optionally followed by {NO_COMPLETION} or"
                f" {NO_STEPS} (e.g. Fri 00:00-Mon 12:00)",
            )
        kind = match.group("kind") or NO_COMPLETION
        if kind not in (NO_COMPLETION, NO_STEPS):
            raise EntryError(text, f"{kind!r} is neither {NO_COMPLETION} nor {NO_STEPS}")
        try:
            start = _day(match.group("start_day")) * 86400 + _minutes(match.group("start")) * 60
            end = _day(match.group("end_day")) * 86400 + _minutes(match.group("end")) * 60
        except ValueError as error:
            raise EntryError(text, str(error)) from None
        window = cls(start % WEEK, end % WEEK, kind == NO_STEPS)
        if window.start == window.end:
            raise EntryError(text, "the window is empty (it ends where it starts)")
        return window

    @property
    def duration(self) -> int:
        return (self.end - self.start) % WEEK

    @property
    def end_text(self) -> str:
        """e.g. "Mon 12:00 UTC"."""
        return f"{_week_text(self.end)} UTC"

    def __str__(self) -> str:
        text = f"{_week_text(self.start)}-{_week_text(self.end)}"
        return f"{text} {NO_STEPS}" if self.steps else text

    def _offset(self, moment: datetime) -> float:
        return (week_seconds(moment) - self.start) % WEEK

    def contains(self, moment: datetime) -> bool:
        return self._offset(moment) < self.duration

    def ends_after(self, moment: datetime) -> datetime:
        """When the occurrence of this window that contains `moment` ends."""
        remaining = self.duration - self._offset(moment)
        return moment + timedelta(seconds=remaining)

    def refuses(self, completes: bool) -> bool:
        """Whether the window holds a step (one that `completes`, or any)."""
        return completes or self.steps

    def overlaps(self, other: FreezeWindow) -> bool:
        return (other.start - self.start) % WEEK < self.duration or (
            self.start - other.start
        ) % WEEK < other.duration


@dataclass(frozen=True)
class FreezeCalendar:
    """The freeze windows in force; empty (the engine's default) freezes nothing."""

    windows: tuple[FreezeWindow, ...] = ()

    def __post_init__(self) -> None:
        for index, window in enumerate(self.windows):
            for other in self.windows[index + 1 :]:
                if window.overlaps(other):
                    raise EntryError(str(other), f"overlaps {window}: windows must not overlap")
        if sum(w.duration for w in self.windows) >= WEEK:
            raise EntryError(
                ", ".join(self.texts()),
                "together the windows cover the whole week: nothing could ever complete",
            )

    @classmethod
    def parse(cls, texts: Iterable[str]) -> FreezeCalendar:
        return cls(tuple(FreezeWindow.parse(text) for text in texts))

    @classmethod
    def lenient(cls, texts: Sequence[object]) -> FreezeCalendar:
        """What a report reads back from the database: no windows if any is not valid."""
        try:
            return cls.parse(str(text) for text in texts)
        except ValueError:
            return cls()

    def texts(self) -> tuple[str, ...]:
        return tuple(str(w) for w in self.windows)

    def __bool__(self) -> bool:
        return bool(self.windows)

    def refusing(self, moment: datetime, *, completes: bool) -> FreezeWindow | None:
        """The window that holds at `moment` a step (one that `completes`, or any)."""
        return next((w for w in self.windows if w.contains(moment) and w.refuses(completes)), None)

    def allowed_from(self, moment: datetime, *, completes: bool) -> datetime:
        """The earliest time from `moment` on when such a step is allowed.

        Windows may follow each other (one ends where the next starts): the step waits
        through all of them.
        """
        for _ in range(len(self.windows) + 1):
            window = self.refusing(moment, completes=completes)
            if window is None:
                return moment
            moment = window.ends_after(moment)
        return moment  # unreachable: the windows leave some of the week free
