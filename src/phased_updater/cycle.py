"""One phasing cycle: read, check, decide, apply, record.

Data flows one way. Launchpad and the Error Tracker are read into plain values
(`Update`, `CrashCheck`); `policy.decide` turns them into a `Decision`; the decision is
applied to Launchpad and then recorded, each in its own transaction, together with
whatever listeners (the mail outbox) queue for it.

Requests: a run reads each update's binaries only when it has no read of them younger
than an interval, or its decision writes (`Cycle._reusable`); the previous version
comes from the state database once a run has found it. So a run inside the interval
costs Launchpad little more than the -updates listings.

Concurrency: each source is one work item, run start to finish by one worker thread
with its own launchpadlib client (a client must not be shared between threads), so
its writes go through the client that read it. Semaphores bound the requests in flight
to Launchpad and to the Error Tracker separately. Items are independent, so the
decisions do not depend on the number of workers.
"""

from __future__ import annotations

import enum
import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from phased_updater.errors import EXIT_INCOMPLETE, EXIT_OK
from phased_updater.model import (
    Action,
    CrashCheck,
    Decision,
    Halt,
    NotEvaluated,
    Series,
    Update,
    UpdateKey,
)
from phased_updater.overrides import Overrides
from phased_updater.policy import decide, writes_for
from phased_updater.sources.client_pool import ClientPool
from phased_updater.sources.errortracker import ErrorTrackerClient, asked_about
from phased_updater.sources.launchpad import (
    REJECTED,
    CredentialsRejected,
    LaunchpadArchive,
    LaunchpadFailure,
    SourceListing,
)
from phased_updater.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CycleOptions:
    """What a cycle needs of the settings."""

    step: int
    interval: timedelta
    lookback: timedelta
    series: tuple[str, ...] = ()  # empty: every supported series
    dry_run: bool = False  # also true for an anonymous run: nothing can be written
    launchpad_workers: int = 4
    errors_workers: int = 4
    overrides_source: str = ""  # where the overrides came from, for the log


class DecisionListener(Protocol):
    """Called inside the transaction that records a decision: whatever it writes to the
    database commits or rolls back together with the decision. `applied` says whether
    the decision's writes reached Launchpad (always true when it writes nothing)."""

    def __call__(
        self,
        connection: sqlite3.Connection,
        run_id: int,
        update: Update,
        decision: Decision,
        *,
        applied: bool,
    ) -> None: ...


class KeptRead(enum.Enum):
    """What a recorded decision does to the kept read of its update (`Store.last_reads`)."""

    REMEMBER = "remember"  # read in this run and not written: later runs may reuse it
    FORGET = "forget"  # written, or maybe written: Launchpad no longer agrees with it
    LEAVE = "leave"  # reused from an earlier run and not written: keep it as it is


# Makes a Launchpad client, given the archive's self_link once one client has it.
ArchiveFactory = Callable[[str | None], LaunchpadArchive]


@dataclass(frozen=True)
class Outcome:
    update: Update
    decision: Decision
    applied: bool
    error: str | None = None


@dataclass
class CycleResult:
    run_id: int
    outcomes: list[Outcome] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    # Kept apart from `failures` so that the report can show each with its last state.
    not_evaluated: list[NotEvaluated] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        unknown = any(o.decision.action is Action.UNKNOWN for o in self.outcomes)
        return EXIT_INCOMPLETE if self.failures or unknown else EXIT_OK

    def summary(self) -> dict[str, object]:
        states = Counter(str(o.decision.state) for o in self.outcomes)
        return {
            "updates": len(self.outcomes),
            "series": sorted({o.update.series.name for o in self.outcomes}),
            "states": dict(sorted(states.items())),
            "failures": self.failures,
            "not_evaluated": [n.to_json() for n in self.not_evaluated],
        }


@dataclass(frozen=True)
class WorkItem:
    series: Series
    source: str
    version: str
    # What the -updates listing said of it, and the previous version an earlier run
    # recorded: with both, reading it costs one request (its binaries), not two.
    listed: SourceListing | None = field(default=None, compare=False, repr=False)
    previous_version: str | None = None
    # What a run read of it less than an interval ago and did not write since.
    last_read: Update | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> UpdateKey:
        return UpdateKey(self.series.name, self.source, self.version)

    def __str__(self) -> str:
        return str(self.key)


class Cycle:
    def __init__(
        self,
        options: CycleOptions,
        connect_archive: ArchiveFactory,
        errors: ErrorTrackerClient,
        store: Store,
        overrides: Overrides,
        halts: Mapping[UpdateKey, Halt],
        now: datetime,
        listeners: Sequence[DecisionListener] = (),
    ) -> None:
        self.options = options
        self.connect_archive = connect_archive
        self.errors = errors
        self.store = store
        self.overrides = overrides
        self.halts = halts
        self.now = now
        self.listeners = listeners
        self.dry_run = options.dry_run
        self.run_id = 0
        self._clients: ClientPool[LaunchpadArchive] = ClientPool(
            options.launchpad_workers,
            lambda first: connect_archive(first.archive_link if first else None),
        )
        self._errors_slots = threading.BoundedSemaphore(options.errors_workers)
        self._rejected = threading.Event()
        self._progress = 0
        self._progress_lock = threading.Lock()

    def run(self) -> CycleResult:
        self.run_id = self.store.start_run(
            self.now, self.dry_run, self.options.step, self.options.interval
        )
        result = CycleResult(self.run_id)
        for error in self.overrides.errors:
            log.warning(
                "overrides file %s: %s (line skipped)", self.options.overrides_source, error
            )
        try:
            work = self._list_work(result)
            self._process_all(work, result)
        except CredentialsRejected:
            self._rejected.set()
        except LaunchpadFailure as error:
            message = f"cannot read Launchpad: {error}"
            log.error("%s", message)
            result.failures.append(message)
        finally:
            if self._rejected.is_set():
                log.error("%s", REJECTED)
                result.failures.append(REJECTED)
            self.store.finish_run(self.run_id, self.now, result.exit_status, result.summary())
        return result

    def _list_work(self, result: CycleResult) -> list[WorkItem]:
        since = self.now - self.options.lookback
        work: list[WorkItem] = []
        with self._clients.checkout() as (_, archive):
            all_series = archive.supported_series(self.options.series)
            for series in all_series:
                try:
                    sources = archive.list_sources(series, since)
                except LaunchpadFailure as error:
                    message = f"{series.name}: cannot list -updates: {error}"
                    log.error("%s", message)
                    result.failures.append(message)
                    # Its updates are unknown to this run: those still in flight when
                    # a run last listed it are reported with their last state.
                    result.not_evaluated.extend(
                        NotEvaluated(*key, message)
                        for key in self.store.last_in_flight(series.name, self.run_id)
                    )
                    continue
                log.info("%s: %d source publication(s) in -updates", series.name, len(sources))
                work.extend(WorkItem(series, s.source, s.version, listed=s) for s in sources)
        keys = [item.key for item in work]
        known = self.store.recorded_previous_versions(keys)
        self.store.forget_reads_before(self.now - 2 * self.options.interval)
        reads = self.store.last_reads(keys, self.now - self.options.interval, self.now)
        return [
            replace(item, previous_version=known.get(key), last_read=reads.get(key))
            for item, key in zip(work, keys, strict=True)
        ]

    def _process_all(self, work: list[WorkItem], result: CycleResult) -> None:
        # Enough threads to keep both bounds busy: one waits on Launchpad while
        # another waits on the Error Tracker. With one worker, strictly sequential.
        sequential = self.options.launchpad_workers == 1 and self.options.errors_workers == 1
        threads = 1 if sequential else self.options.launchpad_workers + self.options.errors_workers
        with ThreadPoolExecutor(threads, thread_name_prefix="phaser") as pool:
            for item, outcome, failure in pool.map(lambda i: self._process(i, len(work)), work):
                if outcome is not None:
                    result.outcomes.append(outcome)
                    if outcome.error:
                        result.failures.append(f"{item}: {outcome.error}")
                if failure is not None:
                    result.failures.append(f"{item}: {failure}")
                    result.not_evaluated.append(NotEvaluated(*item.key, failure))
        if self._rejected.is_set():
            raise CredentialsRejected(REJECTED)

    def _process(self, item: WorkItem, total: int) -> tuple[WorkItem, Outcome | None, str | None]:
        if self._rejected.is_set():
            return item, None, "not evaluated: Launchpad rejected the credentials"
        try:
            outcome = self._evaluate(item)
        except CredentialsRejected:
            self._rejected.set()
            return item, None, "Launchpad rejected the credentials"
        except LaunchpadFailure as error:
            log.error("%s: cannot read from Launchpad: %s", item, error)
            return item, None, f"cannot read from Launchpad: {error}"
        except Exception as error:
            # A bug must cost this update one run, not the whole cycle and its report.
            log.exception("%s: unexpected failure", item)
            return item, None, f"unexpected failure: {type(error).__name__}"
        if outcome is not None:
            self._log(item, outcome, total)
        return item, outcome, None

    def _evaluate(self, item: WorkItem) -> Outcome | None:
        """Read, check, decide, apply and record one update; None if it is not phasing."""
        last_check = None
        if item.last_read is not None:
            last_check = self._check(item.last_read)
            decision = self._decide(item.last_read, last_check)
            if self._reusable(item.last_read, decision):
                return self._apply_and_record(item.last_read, decision, None, fresh=False)
        with self._clients.checkout() as (client, archive):
            update = archive.read_update(
                item.series,
                item.source,
                item.version,
                listed=item.listed,
                previous_version=item.previous_version,
            )
        if update is None:
            return None
        asked_before = asked_about(item.last_read) if item.last_read is not None else None
        if last_check is not None and asked_before == asked_about(update):
            check = last_check  # the same questions, asked a moment ago
        else:
            check = self._check(update)
        return self._apply_and_record(update, self._decide(update, check), client)

    def _check(self, update: Update) -> CrashCheck:
        with self._errors_slots:
            return self.errors.check(update)

    def _decide(self, update: Update, check: CrashCheck) -> Decision:
        return decide(
            update,
            check,
            self.overrides,
            self.halts.get(update.key),
            self.now,
            self.options.step,
            self.options.interval,
        )

    def _reusable(self, last_read: Update, decision: Decision) -> bool:
        """Whether a decision on what an earlier run read stands without a new read.

        Between two reads only a write changes an update's binaries, and the cycle
        forgets a read once it writes; so a read younger than an interval is as good as
        a new one for a decision that writes nothing (or any decision of a dry run,
        which never writes). An update inside its interval then costs a run its Error
        Tracker check alone. A decision that writes is made again on a fresh read,
        since writes need the entries themselves. The price: a percentage someone
        changed by hand on Launchpad is seen up to one interval late.
        """
        return self.dry_run or not writes_for(last_read, decision)

    def _apply_and_record(
        self, update: Update, decision: Decision, client: int | None, *, fresh: bool = True
    ) -> Outcome:
        """Write what the decision needs, then record it with what the read tells later runs.

        `fresh` says the update was read in this run: if nothing is written, later runs
        may reuse the read; once anything is (or may have been) written, they must not.
        """
        writes = writes_for(update, decision)
        applied, error = not writes, None
        kept = KeptRead.REMEMBER if fresh else KeptRead.LEAVE
        if writes and not self.dry_run:
            # Forgotten before the first write, not with the record: a run killed in
            # between must not leave a read that Launchpad no longer agrees with.
            kept = KeptRead.FORGET
            with self.store.transaction() as connection:
                self.store.forget_read(update.key, connection)
            binaries = {b.self_link: b for b in update.binaries}
            try:
                # Through the client that read the entries, so none is loaded again.
                with self._clients.checkout(prefer=client) as (_, archive):
                    for self_link, percentage in writes:
                        archive.set_percentage(binaries[self_link], percentage)
                applied = True
            except CredentialsRejected:
                self._record(
                    update,
                    decision,
                    applied=False,
                    error="credentials rejected",
                    kept=KeptRead.FORGET,
                )
                raise
            except LaunchpadFailure as failure:
                # Some binaries may be written already; the next run converges them.
                error = f"write failed: {failure}"
                log.error("%s %s %s: %s", update.series.name, update.source, update.version, error)
        self._record(update, decision, applied=applied, error=error, kept=kept)
        return Outcome(update, decision, applied, error)

    def _record(
        self,
        update: Update,
        decision: Decision,
        *,
        applied: bool,
        error: str | None,
        kept: KeptRead,
    ) -> None:
        with self.store.transaction() as connection:
            if kept is KeptRead.REMEMBER:
                self.store.remember_read(update, self.now, connection)
            elif kept is KeptRead.FORGET:
                self.store.forget_read(update.key, connection)
            self.store.record(
                self.run_id,
                self.now,
                update,
                decision,
                applied=applied,
                error=error,
                connection=connection,
            )
            for listener in self.listeners:
                listener(connection, self.run_id, update, decision, applied=applied)

    def _log(self, item: WorkItem, outcome: Outcome, total: int) -> None:
        with self._progress_lock:
            self._progress += 1
            position = self._progress
        d = outcome.decision
        not_written = not outcome.applied and writes_for(outcome.update, d)
        log.info(
            "[%d/%d] %s: %s %d%% -> %d%%%s (%s)",
            position,
            total,
            item,
            d.action,
            d.from_percentage,
            d.to_percentage,
            " [not written]" if not_written else "",
            d.reason,
        )
