"""Reminders of an automatic stop left unresolved: when one is due, and what it says.

The release team asks that the uploaders of stopped updates be reminded well before a
point release ("nag the uploader"). While an automatic stop is in force (a decision in
state `stopped` whose standing carries the stop), its signer, creator and the Cc list
get a reminder every `every` (7 days by default): how long it has been stopped, what
is still not overridden, what to do, and the report link.

At most one per update per `every`, whatever the number of runs or restarts: a
reminder is due once `every` has passed since the stop and since the update's last
message in the outbox (its last reminder, or the stop's own mail, which a stop found on
Launchpad long after it was made gets only now), and its outbox key is the update's
next reminder number, so two runs can never queue the same one (the outbox's key is
unique). A halt or a
person's stop on Launchpad is a person's decision: it gets no reminder.

Pure: no I/O and no clock; `session` asks the outbox and queues.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from phased_updater.mail.message import (
    AT_ZERO,
    _paragraph,
    describe,
    report_link,
)
from phased_updater.model import Decision, Problem, State, StopRecord, Update
from phased_updater.override_feedback import SRU_TEAM, HowToOverride
from phased_updater.text import one_line

_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9.+~:_-]")


def update_prefix(series: str, source: str, version: str) -> str:
    """What every outbox key of an update starts with: its stop mails' and reminders'."""
    return f"{series}/{source}/{version}/"


def key_prefix(series: str, source: str, version: str) -> str:
    """What every reminder key of an update starts with (never a stop mail's key)."""
    return f"{update_prefix(series, source, version)}reminder/"


def stop_in_force(decision: Decision) -> StopRecord | None:
    """The automatic stop a decision leaves unresolved, if any."""
    stop = decision.standing.stop
    return stop if decision.state is State.STOPPED and stop is not None else None


def due(
    stopped_at: datetime, last_mailed: datetime | None, now: datetime, every: timedelta
) -> bool:
    """Whether a reminder is due: `every` since the stop and since the last message.

    `last_mailed`: when the update's last message (a reminder, or a stop's mail) was
    queued. `every` of zero turns reminders off. No slack: "at most one per `every`" is
    the promise, so a run a minute early waits for the next one.
    """
    if every <= timedelta(0):
        return False
    since = max(stopped_at, last_mailed) if last_mailed is not None else stopped_at
    return now - since >= every


def _days(duration: timedelta) -> str:
    days = duration.days
    if days < 1:
        hours = max(1, round(duration.total_seconds() / 3600))
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{days} day{'s' if days != 1 else ''}"


@dataclass(frozen=True)
class Reminder:
    """One reminder: the stop it is about, and which of the update's reminders it is."""

    series: str
    source: str
    version: str
    previous_version: str | None
    stopped_at: datetime
    stopped_from: int  # the level it was stopped from
    problems: tuple[Problem, ...]  # every problem on record, resolved ones marked
    every: timedelta
    number: int  # 1 for the update's first reminder
    now: datetime

    @classmethod
    def of(
        cls, update: Update, decision: Decision, *, every: timedelta, number: int, now: datetime
    ) -> Reminder | None:
        stop = stop_in_force(decision)
        if stop is None:
            return None
        return cls(
            series=update.series.name,
            source=update.source,
            version=update.version,
            previous_version=update.previous_version,
            stopped_at=stop.at,
            stopped_from=stop.from_percentage,
            problems=decision.problems,
            every=every,
            number=number,
            now=now,
        )

    @property
    def key(self) -> str:
        return f"{key_prefix(self.series, self.source, self.version)}{self.number}"

    @property
    def file_name(self) -> str:
        parts = (self.series, self.source, self.version, f"reminder-{self.number}")
        return "_".join(_FILE_UNSAFE.sub("-", part) for part in parts) + ".eml"

    @property
    def stopped_for(self) -> str:
        return _days(self.now - self.stopped_at)

    @property
    def remaining(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if not p.resolved)

    def subject(self) -> str:
        # No colon: the email package would fold the whole subject onto a line of its own.
        return one_line(
            f"Phasing of {self.source} {self.version} in {self.series}-updates still stopped"
            f" after {self.stopped_for}"
        )

    def body(self, report_url: str | None = None, how: HowToOverride | None = None) -> str:
        """The plain-text body (UTF-8) of the reminder; `how` as for the stop's message."""
        since = f"{self.stopped_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        lines = _paragraph(
            f"Phasing of {self.source} {self.version} in {self.series}-updates has been"
            f" stopped for {self.stopped_for}, since {since} (it was at {self.stopped_from}%)."
            " Its Phased-Update-Percentage is still 0."
            f" {AT_ZERO}"
        )
        remaining = self.remaining
        if remaining:
            lines += ["Still not overridden:", ""]
            for number, problem in enumerate(remaining, start=1):
                lines += _paragraph(describe(problem), "   ", f"{number}. ")[:-1]
                lines += [f"   {one_line(problem.url)}", ""]
            resolved = [p for p in self.problems if p.resolved]
            if resolved:
                lines += ["Overridden or acknowledged (these no longer hold it):", ""]
                for problem in resolved:
                    lines += _paragraph(describe(problem), "  ", "- ")[:-1]
                    lines += [f"  {one_line(problem.url)}", ""]
            them = "them" if len(remaining) > 1 else "it"
            how = how or HowToOverride()
            lines += _paragraph(
                f"Fix it in a follow-up upload or, if this update does not cause {them},"
                f" {how.request(SRU_TEAM)}"
            )
            lines += [f"    {one_line(how.step(self.source, self.version, p))}" for p in remaining]
            lines += [""]
            lines += _paragraph(
                f"Once every problem is overridden, phasing resumes at {self.stopped_from}%"
                " on the next run."
            )
        else:
            lines += _paragraph(
                "The problems that caused this stop were not recorded, and the Error"
                " Tracker reports none now, so only a person can resume it:"
            )
            lines += [
                f"  phased-updater resume --series {self.series} --source {self.source}"
                f" --version {self.version} --by NAME --reason TEXT",
                "",
            ]
        link = report_link(report_url, self.series, self.source, self.version)
        if link:
            lines += ["This update in the phasing report:", f"  {link}", ""]
        lines += ["-- "]
        lines += _paragraph(
            f"phased-updater sends a reminder every {_days(self.every)} while the stop"
            f" stays unresolved (reminder {self.number})."
        )
        return "\n".join(lines).rstrip("\n") + "\n"
