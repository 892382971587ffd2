"""What a report of one run is made of, read from the state database once.

`ReportInput.load` reads the run's decisions and the history of every update active
in the report's window (two queries; an update the run could not evaluate whose
latest decision is older costs one more, for its own history). The JSON document
(`document.py`) and the HTML view (`view.py`) are both built from it, so the page
reads the database no more than the JSON does, and neither imports the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from phased_updater.duration import parse_timestamp
from phased_updater.forecast import expected_completion, share_offered
from phased_updater.freeze import FreezeCalendar
from phased_updater.model import FULLY_PHASED, NotEvaluated, Pace, State, Update, UpdateKey
from phased_updater.override_feedback import OverridesReport
from phased_updater.store import DecisionRecord, RunRecord, Store
from phased_updater.text import redact

# How far back the report lists the updates that finished phasing.
RECENTLY_COMPLETED = timedelta(days=7)


def same_decision(a: DecisionRecord, b: DecisionRecord) -> bool:
    """Whether two decisions on an update say the same (the store folds such runs)."""
    return (
        a.action == b.action
        and a.state == b.state
        and a.from_percentage == b.from_percentage
        and a.to_percentage == b.to_percentage
        and a.applied == b.applied
        and a.reason == b.reason
        and a.error == b.error
        and a.problems == b.problems
        and a.overrides_applied == b.overrides_applied
    )


def fold(history: list[DecisionRecord]) -> list[DecisionRecord]:
    """`Store.history` as `Store.all_history` gives it: identical decisions in a row as one."""
    folded: list[DecisionRecord] = []
    for record in history:
        if folded and same_decision(folded[-1], record):
            first = folded[-1]
            folded[-1] = replace(
                first, repeats=first.repeats + record.repeats, last_at=record.until
            )
        else:
            folded.append(record)
    return folded


@dataclass(frozen=True)
class Binary:
    """One binary publication of an update, as apt phases it."""

    name: str
    architecture: str  # "amd64", from the publication's architecture link
    percentage: int
    debug: bool


@dataclass(frozen=True)
class Upload:
    """Who made an update and what it is made of, as a run last read it from Launchpad."""

    signer: str | None  # a Launchpad person link, as Launchpad gives it
    creator: str | None
    binaries: tuple[Binary, ...]


@dataclass(frozen=True)
class Delivery:
    """One message of the mail outbox about an update, without any address."""

    status: str  # pending, sent, failed or skipped
    queued_at: datetime
    sent_at: datetime | None
    to: tuple[str, ...]  # the display names it was (or is to be) sent to
    cc: int  # how many addresses of the Cc list
    notes: tuple[str, ...]  # who was left out and why
    last_error: str | None


def uploads(store: Store, keys: Iterable[UpdateKey]) -> dict[UpdateKey, Upload]:
    """What the last read of each update said of its people and binaries (if kept).

    One query for the whole table: it holds only recent reads (runs prune it), and
    one query per update would make a report of 2,000 updates 2,000 queries.
    """
    wanted = set(keys)
    found = {}
    for row in store.query("SELECT series, source, version, update_json FROM last_reads"):
        key = UpdateKey(row["series"], row["source"], row["version"])
        if key not in wanted:
            continue
        update = Update.from_json(json.loads(row["update_json"]))
        found[key] = Upload(
            signer=update.signer_link,
            creator=update.creator_link,
            binaries=tuple(
                Binary(b.name, b.arch_link.rstrip("/").rpartition("/")[2], b.percentage, b.is_debug)
                for b in update.binaries
            ),
        )
    return found


def deliveries(store: Store, keys: Iterable[UpdateKey]) -> dict[UpdateKey, tuple[Delivery, ...]]:
    """The outbox's messages about each update, oldest first; names only, never addresses.

    Read here rather than through `mail.outbox.deliveries`, which drops the recipients
    altogether: the report names who was mailed (a Cc entry has no name: it is counted).
    """
    wanted = set(keys)
    found: dict[UpdateKey, list[Delivery]] = {}
    rows = store.query(
        "SELECT series, source, version, status, queued_at, sent_at, recipients, notes,"
        " last_error FROM mail_outbox ORDER BY id"
    )
    for row in rows:
        key = UpdateKey(row["series"], row["source"], row["version"])
        if key not in wanted:
            continue
        recipients = json.loads(row["recipients"]) if row["recipients"] else []
        notes = json.loads(row["notes"]) if row["notes"] else []
        found.setdefault(key, []).append(
            Delivery(
                status=row["status"],
                queued_at=parse_timestamp(row["queued_at"]),
                sent_at=parse_timestamp(row["sent_at"]) if row["sent_at"] else None,
                to=tuple(str(name) for name, _address in recipients if name),
                cc=sum(1 for name, _address in recipients if not name),
                notes=tuple(redact(str(note)) for note in notes),
                last_error=redact(row["last_error"]) if row["last_error"] else None,
            )
        )
    return {key: tuple(found_for_key) for key, found_for_key in found.items()}


@dataclass(frozen=True)
class Unevaluated:
    """An update the run could not evaluate, with its decisions from earlier runs."""

    what: NotEvaluated
    history: tuple[DecisionRecord, ...]  # folded, oldest first; empty if never decided on

    @property
    def last(self) -> DecisionRecord | None:
        """Its latest decision (standing for the run of identical ones it ends)."""
        return self.history[-1] if self.history else None


def _unevaluated(
    store: Store,
    run: RunRecord,
    window: dict[UpdateKey, list[DecisionRecord]],
) -> list[Unevaluated]:
    """The run's summary lists them; their decisions come from the history.

    An update decided on in the report's window has its history there; one whose
    latest decision is older (its series unlisted for a week) is read on its own.
    """
    found = []
    entries = run.summary.get("not_evaluated", [])
    for what in map(NotEvaluated.from_json, entries if isinstance(entries, list) else []):
        if what is None:
            continue
        history = window.get(what.key)
        if history is None:
            history = fold(store.history(*what.key))
        if history and history[-1].state == State.COMPLETE:
            continue  # nothing left to evaluate: it finished phasing in an earlier run
        found.append(Unevaluated(what, tuple(history)))
    return sorted(found, key=lambda u: u.what.key)


@dataclass(frozen=True)
class ReportInput:
    """Everything a report of one run is made of, read from the database once."""

    run: RunRecord
    records: list[DecisionRecord]  # the run's decisions, in the order they were made
    history: dict[UpdateKey, list[DecisionRecord]]  # every update, oldest first
    now: datetime  # what "recent" and "in 3h" are relative to
    not_evaluated: tuple[Unevaluated, ...] = ()  # what the run could not read or decide
    # The run's overrides (from its summary); None for a run recorded before they were.
    overrides: OverridesReport | None = None
    # Signer, creator and binaries of each update a run has a read of.
    uploads: dict[UpdateKey, Upload] = field(default_factory=dict)
    # The mail outbox's messages about each update in the report.
    deliveries: dict[UpdateKey, tuple[Delivery, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Store, run: RunRecord, now: datetime | None = None) -> ReportInput:
        now = now or run.finished or run.started
        # The run's own updates were decided at run.started; completed ones in the
        # recent window after now - RECENTLY_COMPLETED. Nothing older is shown.
        active_since = min(run.started, now) - RECENTLY_COMPLETED
        history = store.all_history(active_since)
        not_evaluated = tuple(_unevaluated(store, run, history))
        keys = {*history, *(u.what.key for u in not_evaluated)}
        return cls(
            run=run,
            records=store.decisions_for_run(run.id),
            history=history,
            now=now,
            not_evaluated=not_evaluated,
            overrides=OverridesReport.from_json(run.summary.get("overrides")),
            uploads=uploads(store, keys),
            deliveries=deliveries(store, keys),
        )

    def state_before(self, key: UpdateKey) -> str | None:
        """The update's state as the decisions before this run left it; None if none.

        A record of `history` may stand for identical decisions from before the run
        into it: then the state did not change.
        """
        earlier = [r for r in self.history.get(key, ()) if r.at < self.run.started]
        return earlier[-1].state if earlier else None

    @property
    def failures(self) -> list[str]:
        """The run's own failures, as its summary recorded them, fit to publish."""
        failures = self.run.summary.get("failures", [])
        return (
            [redact(f) for f in failures if isinstance(f, str)]
            if isinstance(failures, list)
            else []
        )

    @property
    def run_failures(self) -> list[str]:
        """`failures` but the ones `not_evaluated` already gives, with their update.

        The cycle records a failed update as "<series> <source> <version>: <error>";
        a failure of a whole series, or of the run, stays.
        """
        listed = {redact(f"{' '.join(u.what.key)}: {u.what.error}") for u in self.not_evaluated}
        return [f for f in self.failures if f not in listed]

    @property
    def generated(self) -> datetime:
        return self.run.finished or self.run.started

    def recently_completed(self) -> list[DecisionRecord]:
        """Updates whose latest decision completed them within the last 7 days.

        A completed update has no Phased-Update-Percentage any more, so later runs no
        longer list it: it is found in the history, not among the run's decisions.
        """
        in_run = {record.key for record in self.records}
        since = self.now - RECENTLY_COMPLETED
        completed = [
            decisions[-1]
            for key, decisions in self.history.items()
            if key not in in_run
            and decisions[-1].state == State.COMPLETE
            and since <= decisions[-1].at <= self.now
        ]
        return sorted(completed, key=lambda record: record.at, reverse=True)


def shown_level(percentage: int) -> int:
    """A recorded level as the report can draw it: 0..100.

    Reads refuse levels outside 0..100, but a database written before they did may
    hold one (Launchpad's 101); the report shows the nearest level instead of failing.
    """
    return min(max(percentage, 0), FULLY_PHASED)


def percentage_after(record: DecisionRecord, dry_run: bool) -> int:
    """The level an update is at after the decision (what it would be, on a dry run)."""
    if record.state == State.COMPLETE:
        return FULLY_PHASED
    if record.applied or dry_run or record.to_percentage == record.from_percentage:
        return shown_level(record.to_percentage)
    return shown_level(record.from_percentage)


def pace_of(record: DecisionRecord, history: Sequence[DecisionRecord]) -> Pace | None:
    """The pace the update was decided at: its latest decision's, or the latest one known
    (a `halt` decision records none); None for a history older than paces."""
    if record.pace is not None:
        return record.pace
    return next((h.pace for h in reversed(history) if h.pace is not None), None)


def forecast_completion(
    record: DecisionRecord,
    percentage: int,
    run: RunRecord,
    pace: Pace | None = None,
) -> datetime | None:
    """When a phasing update reaches 100% if nothing stops it; None when not phasing.

    At the update's own pace (the run's step and interval for a decision recorded
    before paces were), through the freeze windows the run was made under.
    """
    if record.state != State.PHASING or percentage >= FULLY_PHASED:
        return None
    step, interval = (pace.step, pace.interval) if pace else (run.step, run.interval)
    freeze = FreezeCalendar.lenient(run.freeze_windows)
    return expected_completion(percentage, step, interval, record.since, freeze)


def offered_share(record: DecisionRecord, percentage: int) -> float:
    """The share of machines offered the update so far.

    A machine's draw is fixed for an update, so every machine offered it at the highest
    level reached has been offered it, even after a stop brought it back to 0.
    """
    if record.state == State.COMPLETE:
        return 1.0
    return share_offered(shown_level(max(percentage, record.highest_percentage)))
