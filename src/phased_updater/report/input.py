"""What a report of one run is made of, read from the state database once.

`ReportInput.load` reads the run's decisions and the history of every update active
in the report's window (two queries; an update the run could not evaluate whose
latest decision is older costs one more, for its own history). The JSON document
(`document.py`) and the HTML view (`view.py`) are both built from it, so the page
reads the database no more than the JSON does, and neither imports the other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from phased_updater.forecast import expected_completion, share_offered
from phased_updater.freeze import FreezeCalendar
from phased_updater.mail import outbox
from phased_updater.mail.outbox import Delivery
from phased_updater.model import (
    FULLY_PHASED,
    NotEvaluated,
    Pace,
    State,
    UpdateKey,
    account_name,
)
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
class Person:
    """A Launchpad account as the report names it: "~name" and its page."""

    name: str
    link: str  # the web page, e.g. https://launchpad.net/~jbicha

    @classmethod
    def from_link(cls, api_link: str) -> Person:
        return cls(account_name(api_link), person_page(api_link))


def person_page(api_link: str) -> str:
    """The web page of a person the API names: https://api.launchpad.net/devel/~x is
    https://launchpad.net/~x (the API host without "api.", the path without its version).
    """
    parts = urlsplit(api_link)
    host = parts.netloc.removeprefix("api.")
    segments = [s for s in parts.path.split("/") if s]
    name = segments[-1] if segments else ""
    name = name if name.startswith("~") else f"~{name}"
    return urlunsplit((parts.scheme, host, f"/{name}", "", ""))


@dataclass(frozen=True)
class Binary:
    """One deb of an update on one architecture: what apt phases, and at which level."""

    name: str
    architecture: str  # "amd64"; an Architecture: all deb is listed on each architecture
    percentage: int


@dataclass(frozen=True)
class Upload:
    """Who signed and created an update, and its debs after the run (`cycle.uploads`)."""

    signer: Person | None  # None: a Debian sync (nobody signed it in Ubuntu)
    creator: Person | None
    binaries: tuple[Binary, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Upload | None:
        """None for anything but what `CycleResult.uploads` writes: readers never fail."""
        signer, creator, binaries = (
            data.get("signer_link"),
            data.get("creator_link"),
            data.get("binaries"),
        )
        if not isinstance(binaries, list):
            return None
        found = []
        for item in binaries:
            if not (
                isinstance(item, list)
                and len(item) == 3
                and isinstance(item[0], str)
                and isinstance(item[1], str)
                and isinstance(item[2], int)
            ):
                return None
            architecture = item[1].rstrip("/").rpartition("/")[2]
            found.append(Binary(item[0], architecture, shown_level(item[2])))
        return cls(
            signer=Person.from_link(signer) if isinstance(signer, str) and signer else None,
            creator=Person.from_link(creator) if isinstance(creator, str) and creator else None,
            binaries=tuple(sorted(found, key=lambda b: (b.name, b.architecture))),
        )


def _uploads(run: RunRecord) -> dict[UpdateKey, Upload]:
    """The run's uploads, from its summary; none for a run recorded before they were."""
    entries = run.summary.get("uploads", [])
    found: dict[UpdateKey, Upload] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        key = tuple(entry.get(name) for name in ("series", "source", "version"))
        upload = Upload.from_json(entry)
        if upload is not None and all(isinstance(part, str) for part in key):
            found[UpdateKey(*(str(part) for part in key))] = upload
    return found


def _by_update(messages: Sequence[Delivery]) -> dict[UpdateKey, tuple[Delivery, ...]]:
    """The outbox's messages per update, oldest first."""
    grouped: dict[UpdateKey, list[Delivery]] = defaultdict(list)
    for message in sorted(messages, key=lambda m: m.queued_at):
        grouped[UpdateKey(message.series, message.source, message.version)].append(message)
    return {key: tuple(found) for key, found in grouped.items()}


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
    # Who signed and created each update the run decided on, and its debs; an update
    # the run did not read (and a run recorded before they were kept) has none.
    uploads: Mapping[UpdateKey, Upload] = field(default_factory=dict)
    # Every message the outbox ever queued, per update, oldest first (no addresses).
    deliveries: Mapping[UpdateKey, tuple[Delivery, ...]] = field(default_factory=dict)

    def signer(self, key: UpdateKey) -> Person | None:
        upload = self.uploads.get(key)
        return upload.signer if upload else None

    def creator(self, key: UpdateKey) -> Person | None:
        upload = self.uploads.get(key)
        return upload.creator if upload else None

    def binaries(self, key: UpdateKey) -> tuple[Binary, ...] | None:
        """Its debs after the run; None when the run did not read it."""
        upload = self.uploads.get(key)
        return upload.binaries if upload else None

    @classmethod
    def load(cls, store: Store, run: RunRecord, now: datetime | None = None) -> ReportInput:
        now = now or run.finished or run.started
        # The run's own updates were decided at run.started; completed ones in the
        # recent window after now - RECENTLY_COMPLETED. Nothing older is shown.
        active_since = min(run.started, now) - RECENTLY_COMPLETED
        history = store.all_history(active_since)
        not_evaluated = tuple(_unevaluated(store, run, history))
        return cls(
            run=run,
            records=store.decisions_for_run(run.id),
            history=history,
            now=now,
            not_evaluated=not_evaluated,
            overrides=OverridesReport.from_json(run.summary.get("overrides")),
            uploads=_uploads(run),
            deliveries=_by_update(outbox.deliveries(store)),
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
