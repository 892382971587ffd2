"""What the HTML report shows, as plain values: built from a `ReportInput`, no I/O.

Everything a template needs is computed here (links, labels, relative times, the
timeline, the collapsed decision log), so the template only lays it out and the
logic can be unit-tested without parsing HTML. Strings from outside (signatures,
names, versions, reasons) are kept as they are; the template's autoescaping makes
them inert, and `redact` removes addresses and credentials from free text.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

from phased_updater.duration import format_duration
from phased_updater.freeze import FreezeCalendar
from phased_updater.mail.outbox import Delivery
from phased_updater.model import Problem, State
from phased_updater.override_feedback import (
    SRU_TEAM,
    HowToOverride,
    OverridesReport,
    describe,
    place,
)
from phased_updater.overrides import UNCHECKED, Override, Overrides
from phased_updater.report import timeline
from phased_updater.report.anchors import update_anchor
from phased_updater.report.input import (
    Person,
    ReportInput,
    Upload,
    forecast_completion,
    offered_share,
    pace_of,
    percentage_after,
    same_decision,
    shown_level,
)
from phased_updater.speed import SpeedClass
from phased_updater.store import DecisionRecord
from phased_updater.text import redact

LAUNCHPAD_SOURCE = "https://launchpad.net/ubuntu/+source/{source}/{version}"
LAUNCHPAD_PERSON = "https://launchpad.net/~{name}"
# A stop (or halt) older than this folds into its own section under the fresh ones.
LONG_STOPPED = timedelta(days=14)
# Up to this many updates, a page carries every update's timeline and decision log, so
# it is whole as one file (mailed, attached, opened from disk): the common size, tens
# to low hundreds. Beyond it the page would grow by some 4 KB an update (9 MB at
# 2,000 with a year of history) and a browser would lay out every log; so each row
# keeps what the SRU team scans for and links to a page of its own with the rest,
# which the page's script shows in place (report/details.py).
INLINE_DETAILS_MAX = 300
# How the report names a problem's kind in a sentence.
KIND_WORDS = {
    "new-crash": "a new crash",
    "increased-rate": "a higher crash rate than the previous version's",
}
ERRORS_PACKAGE = "https://errors.ubuntu.com/?package={source}&period=month"

# The order of the sections: what needs a person first.
SECTION_TITLES = {
    "stopped": "Stopped",
    "stopped-long": f"Stopped more than {LONG_STOPPED.days} days ago",
    "held": "Held: nothing to compare its crashes with, waiting for a person",
    "unknown": "Unknown: the Error Tracker could not answer",
    "not-evaluated": "Not evaluated in this run: as the last run left them",
    "phasing": "Phasing",
    "complete": "Completed in the last 7 days",
}
STATE_SECTION = {
    "stopped": "stopped",
    "halted": "stopped",
    "held": "held",
    "unknown": "unknown",
    "phasing": "phasing",
    "complete": "complete",
}
ACTION_LABELS = {
    "advance": "stepped up",
    "wait": "waiting",
    "stop": "stopped",
    "keep-stopped": "still stopped",
    "resume": "resumed",
    "halt": "halted",
    "hold": "held for a person",
    "group-hold": "held with its group",
    "unknown": "unknown",
}


class DeliveryView(Protocol):
    """One queued email as the report shows it: never its recipients.

    outbox.Delivery has these fields; `status` is pending, sent, failed or skipped.
    """

    @property
    def series(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def queued_at(self) -> datetime: ...


@dataclass(frozen=True)
class Moment:
    """A point in time as the report writes it: absolute (UTC) and relative."""

    at: datetime
    relative: str  # "in 3h20m", "2d4h ago", "now"

    # Cached: a template asks for each several times, and a large report has thousands.
    @functools.cached_property
    def iso(self) -> str:
        return self.at.astimezone(UTC).isoformat(timespec="seconds")

    @functools.cached_property
    def text(self) -> str:
        return self.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class ProblemView:
    kind: str  # "new-crash" | "increased-rate"
    url: str | None  # only http(s) links survive
    signature: str | None
    overridden: bool
    difference: float | None
    previous_average: float | None
    previous_period_in_days: float | None
    # "acknowledged by ~name (raised it to 40% on Launchpad) at ...", shown like an override.
    acknowledged: str | None = None
    # When the Error Tracker last reported it, for a problem a stop keeps on record.
    last_reported: str | None = None
    # The override that covers it, when overridden: its row in the overrides panel.
    override_anchor: str | None = None
    override_origin: str | None = None

    @property
    def is_new_crash(self) -> bool:
        return self.kind == "new-crash"


@dataclass(frozen=True)
class DecisionView:
    """One decision of the log, or several identical ones in a row."""

    at: Moment
    last_at: Moment | None  # set when `count` > 1
    count: int
    action: str
    action_label: str
    state: str
    from_percentage: int
    to_percentage: int
    applied: bool
    reason: str
    error: str | None
    problems: tuple[ProblemView, ...]
    overrides_applied: tuple[str, ...]

    @property
    def not_written(self) -> bool:
        """A change decided but not written: a dry run (a failed write has an error)."""
        return not self.applied and self.error is None and self.changes

    @property
    def changes(self) -> bool:
        return self.from_percentage != self.to_percentage


@dataclass(frozen=True)
class MailNote:
    """One line of "who was mailed, and when" under a row."""

    text: str
    warn: bool  # someone could not be reached, or the message did not go


@dataclass(frozen=True)
class UpdateView:
    anchor: str
    series: str
    source: str
    version: str
    previous_version: str | None
    state: str
    action: str
    action_label: str
    percentage: int
    from_percentage: int
    highest_percentage: int
    would_change: bool  # a dry run decided a change it did not write
    applied: bool
    since: Moment
    next_step_at: Moment | None
    decided_at: Moment
    reason: str
    error: str | None
    problems: tuple[ProblemView, ...]
    overrides_applied: tuple[str, ...]
    launchpad_url: str
    errors_url: str
    share_offered: float
    expected_completion: Moment | None
    timeline: timeline.Timeline
    log: tuple[DecisionView, ...]
    decisions: int  # how many decisions the log stands for
    not_evaluated: str | None = None  # why this run could not evaluate it
    by: str | None = None  # the person behind the decision: who halted, stopped, raised, resumed
    speed: str | None = None  # its speed class, e.g. "slow: 1 point every 6h"
    group: str | None = None  # the phasing group it moves with
    # The group's other members in this report, e.g. "shim-signed 40% (stopped)".
    group_members: tuple[str, ...] = ()
    creator: Person | None = None  # who made the upload
    signer: Person | None = None  # who signed it: a sponsor when not the creator
    days_since_release: int = 0
    binaries: tuple[str, ...] = ()  # "libfoo1 (amd64, arm64)", what apt phases
    binary_names: tuple[str, ...] = ()  # for the search
    mail: tuple[MailNote, ...] = ()  # who was mailed about it and when, who was not
    override_request: str | None = None  # how to ask for an override, ending in a colon
    override_lines: tuple[str, ...] = ()  # the lines (or commands) that override its stop
    override_commands: tuple[str, ...] = ()  # the command too, where a repository takes lines
    resume_command: str | None = None  # how a person lifts its halt here
    previous_state: str | None = None  # its state before this run; None: new in this run
    changed: bool = False  # this run changed its state (or first decided on it)

    @property
    def sponsored(self) -> bool:
        return self.signer is not None and self.creator is not None and self.signer != self.creator

    @property
    def open_problems(self) -> int:
        return sum(1 for p in self.problems if not p.overridden)


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    updates: tuple[UpdateView, ...]
    collapsed: bool


@dataclass(frozen=True)
class DeliveryLine:
    anchor: str | None  # the update's row, when the report shows it
    series: str
    source: str
    version: str
    status: str
    attempts: int
    last_error: str | None
    queued_at: Moment


@dataclass(frozen=True)
class MailPanel:
    email_off: bool
    pending: tuple[DeliveryLine, ...]
    failed: tuple[DeliveryLine, ...]
    sent: int
    skipped: int


@dataclass(frozen=True)
class OverrideRow:
    """One override in force, in the overrides panel."""

    anchor: str
    source: str
    version: str
    thing: str
    thing_url: str | None  # the problem's page, for a URL
    where: str  # "<repository or file> line N"
    origin: str  # who added it, when and why; "" for a plain file


@dataclass(frozen=True)
class SourceLine:
    """One place the run read overrides from."""

    kind: str
    where: str
    branch: str | None
    path: str | None
    commit: str | None
    fetched: Moment | None
    failure: str | None  # the fetch failed: which copy is used, and why
    history_changed: str | None
    count: int


@dataclass(frozen=True)
class LineProblem:
    """A malformed, repeated or unmatched line."""

    kind: str  # "malformed", "duplicate" or "unmatched"
    where: str
    text: str
    message: str


@dataclass(frozen=True)
class OverridesPanel:
    sources: tuple[SourceLine, ...]
    rows: tuple[OverrideRow, ...]
    other: int  # overrides in force for no update this run saw
    problems: tuple[LineProblem, ...]
    request: str  # how to add an override here, ending in a colon
    steps: tuple[str, ...]  # the lines (or commands) that would override the current stops
    emergency: str | None  # the command too, when a repository takes the changes


@dataclass(frozen=True)
class OverrideLinks:
    """Finds the panel row of the override that covers a problem."""

    lookup: Overrides
    rows: dict[tuple[str, str, str], OverrideRow]

    def find(self, source: str, version: str, problem: Problem) -> OverrideRow | None:
        found = self.lookup.find(source, version, problem)
        return self.rows.get(found.key) if found is not None else None


def binaries_text(upload: Upload | None) -> tuple[str, ...]:
    """Each deb apt phases with its architectures (the upload holds no debug symbols)."""
    arches: dict[str, list[str]] = {}
    for binary in upload.binaries if upload else ():
        arches.setdefault(binary.name, []).append(binary.architecture)
    return tuple(f"{name} ({', '.join(sorted(set(a)))})" for name, a in sorted(arches.items()))


def _names(names: Sequence[str], cc: int) -> str:
    parts = list(names)
    if cc:
        parts.append(f"{cc} address{'es' if cc != 1 else ''} of the Cc list")
    if len(parts) > 1:
        return ", ".join(parts[:-1]) + " and " + parts[-1]
    # A message that went out had someone to go to: with no name recorded, the Cc list.
    return parts[0] if parts else "the Cc list"


def mail_notes(deliveries: Sequence[Delivery], now: datetime) -> tuple[MailNote, ...]:
    """Who was mailed about an update and when, and who could not be, and why."""
    notes = []
    for delivery in deliveries:
        # Relay errors and notes may quote a URL with a password: never on a public page.
        d = replace(
            delivery,
            last_error=redact(delivery.last_error) if delivery.last_error else None,
            notes=tuple(redact(note) for note in delivery.notes),
        )
        who = _names(d.to, d.cc)
        if d.status == "sent" and d.sent_at is not None:
            notes.append(MailNote(f"mailed {who} at {moment(d.sent_at, now).text}", False))
            if d.last_error:
                notes.append(MailNote(f"the relay refused some of them: {d.last_error}", True))
        elif d.status == "pending":
            why = f": {d.last_error}" if d.last_error else ""
            queued = moment(d.queued_at, now).text
            notes.append(MailNote(f"mail queued at {queued}, not sent yet{why}", True))
        elif d.status == "failed":
            notes.append(MailNote(f"mail to {who} refused by the relay: {d.last_error}", True))
        else:
            why = d.last_error or "nobody to send it to"
            notes.append(MailNote(f"not mailed: {why}", True))
        notes += [MailNote(f"not reached: {note}", True) for note in d.notes]
    return tuple(notes)


def resume_command(how: HowToOverride, series: str, source: str, version: str) -> str:
    """The command that lifts a stop here: the charm's action where overrides go through
    `juju run`, else the engine's own."""
    juju = re.match(r"(juju run \S+) add-override\b", how.command or "")
    values = [shlex.quote(v) for v in (series, source, version)]
    if juju:
        return (
            f"{juju.group(1)} resume series={values[0]} source={values[1]}"
            f' version={values[2]} by=YOUR-LAUNCHPAD-ID reason="WHY IT MAY PHASE AGAIN"'
        )
    return (
        f"phased-updater resume --series {values[0]} --source {values[1]}"
        f' --version {values[2]} --by YOUR-LAUNCHPAD-ID --reason "WHY IT MAY PHASE AGAIN"'
    )


def _kinds(text: str) -> str:
    words = [KIND_WORDS.get(kind.strip(), kind.strip()) for kind in text.split(",")]
    return " and ".join(words)


@functools.lru_cache(maxsize=8192)  # the same reasons, thousands of times in a large report
def plain_reason(reason: str) -> str:
    """A recorded reason in words: "1 problem not overridden (increased-rate)" (as the
    history keeps it) reads "a higher crash rate than ..., not overridden"."""

    def words(found: re.Match[str]) -> str:
        count, kinds = int(found.group(1)), _kinds(found.group(2))
        if count == 1:
            return f"{kinds}, not overridden"
        return f"{kinds} ({count} problems, none overridden)"

    return re.sub(r"\b([0-9]+) problems? not overridden \(([a-z, -]+)\)", words, reason)


@dataclass(frozen=True)
class NeverDecided:
    """An update the run could not evaluate and no run ever decided on."""

    series: str
    source: str
    version: str
    error: str


@dataclass(frozen=True)
class ReportView:
    generated: Moment
    rendered: Moment
    rerendered: bool
    run: int
    dry_run: bool
    exit_status: int | None
    step: int
    interval: str
    counts: dict[str, int]
    series: tuple[str, ...]
    sections: tuple[Section, ...]
    mail: MailPanel | None
    # The run's failures, redacted, but those of an update shown as not evaluated.
    failures: tuple[str, ...] = ()
    never_decided: tuple[NeverDecided, ...] = ()  # not evaluated, and no state to show
    overrides: OverridesPanel | None = None
    freeze_windows: tuple[str, ...] = ()  # e.g. "Fri 00:00-Mon 12:00 (no update completes)"
    changed: int = 0  # updates whose state this run changed (or first decided on)
    # The run's interval: the page warns when it is more than two of these old.
    interval_seconds: int = 0
    # Whether each update's timeline and decision log are in the page itself; when
    # not (a large report), each row links to a page of its own (report/details.py).
    details_inline: bool = True

    @property
    def updates(self) -> tuple[UpdateView, ...]:
        """Every update the page shows, section by section."""
        return tuple(u for section in self.sections for u in section.updates)

    @property
    def incomplete(self) -> bool:
        """Whether the page opens with the warning that the run was incomplete."""
        return bool(self.failures or self.counts.get("not-evaluated"))

    @property
    def not_evaluated_link(self) -> str:
        """Where the "not evaluated" chip points: the section, if it has rows."""
        has_rows = any(s.id == "not-evaluated" for s in self.sections)
        return "#not-evaluated" if has_rows else "#incomplete"


def relative(moment: datetime, now: datetime) -> str:
    """`moment` from `now`, to the two largest units: "in 3h20m", "2d4h ago"."""
    return _relative(round((moment - now).total_seconds() / 60) * 60)


@functools.lru_cache(maxsize=8192)  # runs are hours apart: few distinct offsets
def _relative(seconds: int) -> str:
    if seconds == 0:
        return "now"
    text = format_duration(timedelta(seconds=abs(seconds)))
    # format_duration writes e.g. "2d4h30m": keep the two largest units.
    parts = re.findall(r"[0-9]+[a-z]", text)
    short = "".join(parts[:2])
    return f"in {short}" if seconds > 0 else f"{short} ago"


# One Moment for each time: the 2,000 updates of a large report were decided in the
# same few thousand runs, and each Moment formats its times once. In UTC, as the
# report writes every time: the cache takes one instant at two offsets for the same.
@functools.lru_cache(maxsize=16384)
def moment(at: datetime, now: datetime) -> Moment:
    return Moment(at.astimezone(UTC), relative(at, now))


def launchpad_url(source: str, version: str) -> str:
    return LAUNCHPAD_SOURCE.format(
        source=quote(source, safe=""), version=quote(version, safe="+:~")
    )


def errors_url(source: str) -> str:
    return ERRORS_PACKAGE.format(source=quote(source, safe=""))


def web_link(url: str) -> str | None:
    """The URL if it is a plain http(s) link, so that no `javascript:` ever gets an href."""
    return url if re.match(r"https?://[^\s]+\Z", url) else None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def problem_view(problem: Problem, override: OverrideRow | None = None) -> ProblemView:
    evidence = problem.evidence or {}
    ack = problem.acknowledged
    return ProblemView(
        override_anchor=override.anchor if override else None,
        override_origin=(override.origin or override.where) if override else None,
        kind=str(problem.kind),
        url=web_link(problem.url),
        signature=problem.signature,
        overridden=problem.overridden,
        difference=_number(evidence.get("difference")),
        previous_average=_number(evidence.get("previous_average")),
        previous_period_in_days=_number(evidence.get("previous_period_in_days")),
        acknowledged=(
            redact(f"acknowledged by {ack.by} ({ack.how}) at {ack.at:%Y-%m-%d %H:%M} UTC")
            if ack is not None
            else None
        ),
        last_reported=(
            f"{problem.last_reported:%Y-%m-%d %H:%M} UTC" if problem.last_reported else None
        ),
    )


def decision_log(history: Sequence[DecisionRecord], now: datetime) -> tuple[DecisionView, ...]:
    """Every decision, newest first; identical decisions in a row become one line."""
    groups: list[list[DecisionRecord]] = []
    for record in history:
        if groups and same_decision(groups[-1][-1], record):
            groups[-1].append(record)
        else:
            groups.append([record])
    views = []
    for group in reversed(groups):
        first, last = group[0], group[-1]
        count = sum(record.repeats for record in group)
        views.append(
            DecisionView(
                at=moment(first.at, now),
                # Set whenever the line stands for several runs, even in the same second.
                last_at=moment(last.until, now) if count > 1 else None,
                count=count,
                action=first.action,
                action_label=ACTION_LABELS.get(first.action, first.action),
                state=first.state,
                from_percentage=first.from_percentage,
                to_percentage=first.to_percentage,
                applied=first.applied,
                reason=plain_reason(redact(first.reason)),
                error=redact(first.error) if first.error else None,
                problems=tuple(problem_view(p) for p in first.problems),
                overrides_applied=tuple(redact(o) for o in first.overrides_applied),
            )
        )
    return tuple(views)


def _changes(history: Sequence[DecisionRecord]) -> list[timeline.LevelChange]:
    return [
        timeline.LevelChange(
            at=record.at,
            before=shown_level(record.from_percentage),
            after=percentage_after(record, dry_run=False),
            action=record.action,
            # Only a marker shows it: a year of "still stopped" needs none.
            label=(
                f"{record.at.astimezone(UTC):%Y-%m-%d %H:%M} "
                f"{ACTION_LABELS.get(record.action, record.action)}: "
                f"{record.from_percentage}% to {record.to_percentage}%"
            )
            if record.action in timeline.MARKED_ACTIONS
            else "",
        )
        for record in history
    ]


def update_view(
    record: DecisionRecord,
    history: Sequence[DecisionRecord],
    report: ReportInput,
    *,
    dry_run: bool,
    links: OverrideLinks | None = None,
) -> UpdateView:
    now = report.now
    run = report.run
    percentage = percentage_after(record, dry_run)
    pace = pace_of(record, history)
    completion = forecast_completion(record, percentage, run, pace)
    chart_start = min(record.date_published, history[0].at if history else record.at)
    how = report.overrides.how_to if report.overrides is not None else HowToOverride()
    stopped_on = [p for p in record.problems if not p.overridden]
    is_stop = record.state == State.STOPPED and bool(stopped_on)
    upload = report.uploads.get(record.key)
    previous_state = report.state_before(record.key)
    in_run = record.run_id == run.id
    return UpdateView(
        anchor=update_anchor(record.series, record.source, record.version),
        series=record.series,
        source=record.source,
        version=record.version,
        previous_version=record.previous_version,
        state=record.state,
        action=record.action,
        action_label=ACTION_LABELS.get(record.action, record.action),
        percentage=percentage,
        from_percentage=record.from_percentage,
        highest_percentage=record.highest_percentage,
        would_change=dry_run
        and not record.applied
        and record.to_percentage != record.from_percentage,
        applied=record.applied,
        since=moment(record.since, now),
        next_step_at=moment(record.next_step_at, now) if record.next_step_at else None,
        decided_at=moment(record.until, now),  # the last of the identical ones it stands for
        reason=plain_reason(redact(record.reason)),
        error=redact(record.error) if record.error else None,
        problems=tuple(
            problem_view(
                p,
                links.find(record.source, record.version, p) if links and p.overridden else None,
            )
            for p in record.problems
        ),
        overrides_applied=tuple(redact(o) for o in record.overrides_applied),
        launchpad_url=launchpad_url(record.source, record.version),
        errors_url=errors_url(record.source),
        share_offered=offered_share(record, percentage),
        expected_completion=moment(completion, now) if completion else None,
        timeline=timeline.build(_changes(history), chart_start, max(now, record.at)),
        log=decision_log(history, now),
        decisions=sum(record.repeats for record in history),
        by=redact(record.by) if record.by else None,
        speed=(
            SpeedClass(pace.speed_class, pace.step, pace.interval).describe(run.interval)
            if pace
            else None
        ),
        group=pace.group if pace else None,
        creator=upload.creator if upload else None,
        signer=upload.signer if upload else None,
        days_since_release=max((now - record.date_published).days, 0),
        binaries=binaries_text(upload),
        binary_names=tuple(sorted({b.name for b in upload.binaries})) if upload else (),
        mail=mail_notes(report.deliveries.get(record.key, ()), now),
        override_request=redact(how.request(SRU_TEAM)) if is_stop else None,
        override_lines=tuple(
            dict.fromkeys(redact(how.step(record.source, record.version, p)) for p in stopped_on)
        )
        if is_stop
        else (),
        override_commands=tuple(
            dict.fromkeys(
                redact(HowToOverride(command=how.command).step(record.source, record.version, p))
                for p in stopped_on
            )
        )
        if is_stop and how.repository and how.command
        else (),
        resume_command=(
            resume_command(how, record.series, record.source, record.version)
            if record.state in (State.HALTED, State.HELD)
            else None
        ),
        previous_state=previous_state,
        changed=in_run and previous_state != record.state,
    )


def _with_group_members(updates: dict[str, list[UpdateView]]) -> None:
    """Name each group member's fellow members (same series and group) in its view."""
    members: dict[tuple[str, str], list[UpdateView]] = {}
    for group in updates.values():
        for view in group:
            if view.group is not None:
                members.setdefault((view.series, view.group), []).append(view)
    for name, group in updates.items():
        updates[name] = [
            replace(
                view,
                group_members=tuple(
                    f"{other.source} {other.percentage}% ({other.state})"
                    for other in sorted(members[(view.series, view.group)], key=_section_order)
                    if other is not view
                ),
            )
            if view.group is not None
            else view
            for view in group
        ]


def _section_order(update: UpdateView) -> tuple[str, str, str]:
    return (update.series, update.source, update.version)


def mail_panel(
    deliveries: Sequence[DeliveryView], email_off: bool, now: datetime, shown: set[str]
) -> MailPanel:
    def line(delivery: DeliveryView) -> DeliveryLine:
        target = update_anchor(delivery.series, delivery.source, delivery.version)
        return DeliveryLine(
            anchor=target if target in shown else None,
            series=delivery.series,
            source=delivery.source,
            version=delivery.version,
            status=delivery.status,
            attempts=delivery.attempts,
            last_error=redact(delivery.last_error) if delivery.last_error else None,
            queued_at=moment(delivery.queued_at, now),
        )

    ordered = sorted(deliveries, key=lambda d: d.queued_at)
    return MailPanel(
        email_off=email_off,
        pending=tuple(line(d) for d in ordered if d.status == "pending"),
        failed=tuple(line(d) for d in ordered if d.status == "failed"),
        sent=sum(1 for d in ordered if d.status == "sent"),
        skipped=sum(1 for d in ordered if d.status == "skipped"),
    )


def _row(number: int, item: Override) -> OverrideRow:
    return OverrideRow(
        anchor=f"override-{number}",
        source=item.source,
        version=item.version,
        thing=redact(item.thing),
        thing_url=web_link(item.thing),
        where=redact(place(item)),
        origin=redact(describe(item.origin)),
    )


def overrides_panel(
    overrides: OverridesReport,
    records: Sequence[DecisionRecord],
    run_at: datetime,
    now: datetime,
) -> tuple[OverridesPanel, OverrideLinks]:
    """The panel, and the links from each overridden problem to its row.

    `run_at`: when the run read the overrides (how old a copy was then); `now`: what
    the page's relative times are measured from.
    """
    rows = tuple(_row(number, item) for number, item in enumerate(overrides.in_force, 1))
    sources = tuple(
        SourceLine(
            kind=source.kind,
            where=redact(source.where),
            branch=source.branch,
            path=source.path,
            commit=source.commit,
            fetched=moment(source.fetched_at, now) if source.fetched_at else None,
            failure=redact(text) if (text := source.failure(run_at)) else None,
            history_changed=source.history_changed,
            count=source.count,
        )
        for source in overrides.sources
    )
    problems = [
        LineProblem("malformed", redact(f"{e.where} {e.unit} {e.line}".strip()), e.text, e.reason)
        for e in overrides.malformed
    ]
    problems += [
        LineProblem(
            "duplicate",
            redact(place(d.override)),
            d.override.to_csv(),
            f"repeats {redact(place(d.first))}",
        )
        for d in overrides.duplicates
    ]
    problems += [
        LineProblem(
            "unmatched",
            redact(place(u.override)),
            u.override.to_csv(),
            "matches no update being phased or stopped" + (f"; {u.hint}" if u.hint else ""),
        )
        for u in overrides.unmatched
    ]
    how = overrides.how_to
    steps = [
        redact(how.step(record.source, record.version, problem))
        for record in records
        if record.state == State.STOPPED
        for problem in record.problems
        if not problem.overridden
    ]
    # A held update has nothing to compare its crashes with: `unchecked` lets it phase.
    steps += [
        redact(how.step(record.source, record.version, UNCHECKED))
        for record in records
        if record.state == State.HELD
    ]
    emergency = how.command_example() if how.repository and how.command else None
    panel = OverridesPanel(
        sources=sources,
        rows=rows,
        other=overrides.other,
        problems=tuple(problems),
        request=redact(how.request(SRU_TEAM)),
        steps=tuple(dict.fromkeys(steps)),
        emergency=emergency,
    )
    by_key = {item.key: row for item, row in zip(overrides.in_force, rows, strict=True)}
    return panel, OverrideLinks(overrides.lookup, by_key)


def build(
    report: ReportInput,
    *,
    deliveries: Sequence[DeliveryView] | None = None,
    email_off: bool = False,
    inline_limit: int = INLINE_DETAILS_MAX,
) -> ReportView:
    """The whole page. Without `deliveries` and with email on, no mail panel is shown.

    With more than `inline_limit` updates, their details are not inline (see
    INLINE_DETAILS_MAX).
    """
    run = report.run
    panel, links = (
        overrides_panel(report.overrides, report.records, run.started, report.now)
        if report.overrides is not None
        else (None, None)
    )
    updates: dict[str, list[UpdateView]] = {name: [] for name in SECTION_TITLES}
    for record in report.records:
        view = update_view(
            record,
            report.history.get(record.key, [record]),
            report,
            dry_run=run.dry_run,
            links=links,
        )
        section = STATE_SECTION.get(view.state, "unknown")
        if section == "stopped" and report.now - record.since > LONG_STOPPED:
            section = "stopped-long"
        updates[section].append(view)
    for record in report.recently_completed():
        view = update_view(
            record,
            report.history.get(record.key, [record]),
            report,
            dry_run=False,
        )
        updates["complete"].append(view)
    never_decided = []
    for item in report.not_evaluated:
        what, last, error = item.what, item.last, redact(item.what.error)
        if last is None:
            never_decided.append(NeverDecided(what.series, what.source, what.version, error))
            continue
        view = update_view(last, item.history, report, dry_run=False)
        updates["not-evaluated"].append(replace(view, not_evaluated=error))

    _with_group_members(updates)

    # Not-evaluated updates count under their last state too: a stop stays counted as a
    # stop when Launchpad cannot be read.
    counts = Counter(u.state for group in updates.values() for u in group)
    counts["not-evaluated"] = len(updates["not-evaluated"]) + len(never_decided)
    sections = tuple(
        Section(
            id=name,
            title=title,
            # Completed: newest first; the others by series, then name.
            updates=tuple(
                updates[name] if name == "complete" else sorted(updates[name], key=_section_order)
            ),
            collapsed=name in ("complete", "stopped-long"),
        )
        for name, title in SECTION_TITLES.items()
        # Shown only when they have rows (an incomplete run, a held update, a long
        # stop): an empty one would be noise.
        if name not in ("not-evaluated", "held", "stopped-long") or updates[name]
    )
    shown = {u.anchor for group in updates.values() for u in group}
    return ReportView(
        details_inline=len(shown) <= inline_limit,
        generated=moment(report.generated, report.now),
        rendered=moment(report.now, report.now),
        rerendered=abs(report.now - report.generated) > timedelta(minutes=1),
        run=run.id,
        dry_run=run.dry_run,
        exit_status=run.exit_status,
        step=run.step,
        interval=format_duration(run.interval),
        counts={
            state: counts.get(state, 0)
            for state in (*SECTION_TITLES, "halted")
            if state != "stopped-long"  # a section, not a state: counted as stopped
        },
        changed=sum(1 for group in updates.values() for u in group if u.changed),
        interval_seconds=int(run.interval.total_seconds()),
        series=tuple(sorted({u.series for group in updates.values() for u in group})),
        sections=sections,
        mail=(
            mail_panel(deliveries or (), email_off, report.now, shown)
            if deliveries is not None or email_off
            else None
        ),
        failures=tuple(report.run_failures),
        never_decided=tuple(never_decided),
        overrides=panel,
        freeze_windows=tuple(
            f"{w} ({'no step' if w.steps else 'no update completes'})"
            for w in FreezeCalendar.lenient(run.freeze_windows).windows
        ),
    )
