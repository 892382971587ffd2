"""One phasing cycle: read, check, decide, apply, record.

Data flows one way. Launchpad and the Error Tracker are read into plain values
(`Update`, `CrashCheck`); `policy.decide` turns them into a `Decision`; the decision is
applied to Launchpad and then recorded, each in its own transaction, together with
whatever listeners (the mail outbox) queue for it.

Requests: a run reads each update's binaries only when it has no read of them younger
than an interval, or its decision writes (`Cycle._reusable`); the previous version
comes from the state database once a run has found it. When some update of a series
has to be read, the run lists the binaries of the series' whole -updates pocket since
the oldest such update was copied there (`Cycle._pockets`, one listing per
architecture, in parallel) instead of one request per update; only updates copied
before `POCKET_WINDOW` (long stops) are read one by one. So a run inside the interval
costs Launchpad little more than the -updates listings, and one that reads everything
a few pages per series.

Concurrency: each series is listed in turn, and as soon as it is, each of its sources
is one work item, run start to finish by one worker thread while the next series is
listed; a launchpadlib client is checked out for the time of each request (a client
must not be shared between threads; what it reads is plain data). Semaphores bound
the requests in flight to Launchpad and to the Error Tracker separately. The members
of a phasing group in a series are one unit of work: one worker reads and checks them
all, decides each at the group's pace, applies the group rules
(`groups.move_together`) to those decisions together, then writes and records each.
Units are independent, so the decisions do not depend on the number of workers.
"""

from __future__ import annotations

import enum
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from phased_updater.duration import format_duration
from phased_updater.errors import EXIT_INCOMPLETE, EXIT_OK, error_text
from phased_updater.freeze import FreezeCalendar
from phased_updater.groups import Groups, Member, move_together
from phased_updater.model import (
    Action,
    BinaryPublication,
    CrashCheck,
    Decision,
    Halt,
    NotEvaluated,
    Pace,
    Resume,
    Series,
    Standing,
    State,
    Update,
    UpdateKey,
)
from phased_updater.overrides import Overrides
from phased_updater.policy import decide, writes_for
from phased_updater.sources.client_pool import ClientPool
from phased_updater.sources.errortracker import ErrorTrackerClient, asked_about
from phased_updater.sources.launchpad import (
    REJECTED,
    ArchiveRef,
    BinaryRecord,
    CredentialsRejected,
    Gone,
    LaunchpadArchive,
    LaunchpadFailure,
    SetupError,
    SourceListing,
    by_upload,
)
from phased_updater.speed import SpeedClasses
from phased_updater.store import Store

log = logging.getLogger(__name__)

DISCOVERY_OVERLAP = timedelta(days=1)
# How far back a run lists a pocket's binaries. Listing a day of the pocket costs a
# few pages whatever it holds, reading an update on its own one request: two weeks
# hold every update phasing at the default speed, and those copied earlier (a long
# stop, a slow speed class) are few, so they are read one by one.
POCKET_WINDOW = timedelta(days=14)
# A copy to -updates creates the source's record and its binaries' in one transaction,
# dated alike; the listing starts a little earlier all the same, so a record dated a
# moment before its source's is not missed for the sake of one page.
COPY_MARGIN = timedelta(hours=1)


@dataclass(frozen=True)
class CycleOptions:
    """What a cycle needs of the settings."""

    step: int
    interval: timedelta
    # Bounds the discovery of new publications; None: since the series was last listed
    # (a fresh database lists everything once). Known updates are read however old.
    lookback: timedelta | None = None
    series: tuple[str, ...] = ()  # empty: every supported series
    dry_run: bool = False  # also true for an anonymous run: nothing can be written
    anonymous: bool = False  # no credentials: the phaser's account is the last one known
    launchpad_workers: int = 4
    errors_workers: int = 4
    # The whole run's deadline, on the real clock: past it no further update is
    # started, those left are reported as not evaluated and the run exits 1. Requests
    # in flight end by their own deadlines. None: no limit.
    run_deadline: timedelta | None = None
    # Speed classes (None: the built-in ones, the default stepping `step` every
    # `interval`), phasing groups and freeze windows.
    speed: SpeedClasses | None = None
    groups: Groups = field(default_factory=Groups)
    freeze: FreezeCalendar = field(default_factory=FreezeCalendar)

    @property
    def speed_classes(self) -> SpeedClasses:
        return self.speed or SpeedClasses(self.step, self.interval)

    def pace_of(self, source: str) -> Pace:
        return self.groups.pace_of(source, self.speed_classes)


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


class CannotRecord(Exception):
    """The state database refused a record: nothing more may be written this run."""


class KeptRead(enum.Enum):
    """What a recorded decision does to the kept read of its update (`Store.last_reads`)."""

    REMEMBER = "remember"  # read in this run and not written: later runs may reuse it
    FORGET = "forget"  # written, or maybe written: Launchpad no longer agrees with it
    LEAVE = "leave"  # reused from an earlier run and not written: keep it as it is


# Makes a Launchpad client, given the archive's self_link once one client has it.
ArchiveFactory = Callable[[ArchiveRef | None], LaunchpadArchive]


@dataclass(frozen=True)
class _Read:
    """An update as read (in this run, or kept from an earlier one) and its check."""

    update: Update
    check: CrashCheck
    fresh: bool


# What processing one work item gives: the outcome, or why it was not evaluated.
Processed = tuple["WorkItem", "Outcome | None", str | None]


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

    def uploads(self) -> list[dict[str, object]]:
        """Who signed and created each decided update, and its debs' levels after the run.

        Kept in the run's summary for the report (`report.input.Upload`): the read of an
        update that was written is not kept (`KeptRead.FORGET`), so the report cannot
        find its binaries anywhere else. A deb's level is the decision's once the
        decision was applied, else the one read.
        """
        return [
            {
                "series": o.update.series.name,
                "source": o.update.source,
                "version": o.update.version,
                "signer_link": o.update.signer_link,
                "creator_link": o.update.creator_link,
                "binaries": [
                    [b.name, b.arch_link, level]
                    for b, level in _levels_after(o.update, o.decision, o.applied)
                ],
            }
            for o in self.outcomes
        ]


def _levels_after(
    update: Update, decision: Decision, applied: bool
) -> list[tuple[BinaryPublication, int]]:
    written = {link for link, _ in writes_for(update, decision)} if applied else set()
    return [
        (b, decision.to_percentage if b.self_link in written else b.percentage) for b in update.debs
    ]


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
    # Every record of its binaries in -updates, from this run's listing of the pocket:
    # reading it then costs no request. None when the listing does not cover it.
    records: list[BinaryRecord] | None = field(default=None, compare=False, repr=False)
    # What earlier runs and people left it: the stop in force, a halt, a resume.
    standing: Standing | None = field(default=None, compare=False, repr=False)
    halt: Halt | None = field(default=None, compare=False, repr=False)
    resumed: Resume | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> UpdateKey:
        return UpdateKey(self.series.name, self.source, self.version)

    def __str__(self) -> str:
        return str(self.key)


def _kept_listing(
    key: UpdateKey, kept: Mapping[UpdateKey, Mapping[str, Any]]
) -> SourceListing | None:
    """An update's source publication as an earlier listing gave it, to read it in one request."""
    representation = kept.get(key)
    if representation is None:
        return None
    return SourceListing(key.source, key.version, representation)


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
        clock: Callable[[], float] = time.monotonic,
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
            lambda first: connect_archive(first.ref if first else None),
        )
        self._errors_slots = threading.BoundedSemaphore(options.errors_workers)
        self._rejected = threading.Event()
        # Set once a decision could not be recorded: no later one may write Launchpad.
        self._cannot_record = threading.Event()
        self.phaser: str | None = None  # the phaser's own Launchpad account
        self._progress = 0
        self._listed = 0  # updates listed so far: the progress log's total
        self._progress_lock = threading.Lock()
        self._clock = clock
        self._ends_at: float | None = None  # on `clock`, set when the run starts

    def run(self) -> CycleResult:
        if self.options.run_deadline is not None:
            self._ends_at = self._clock() + self.options.run_deadline.total_seconds()
        self.run_id = self.store.start_run(
            self.now,
            self.dry_run,
            self.options.step,
            self.options.interval,
            freeze_windows=self.options.freeze.texts(),
        )
        result = CycleResult(self.run_id)
        try:
            self._process_all(self._listed_work(result), result)
        except SetupError:
            # A usage error (an unknown series): not a run at all, so no record of one.
            self.store.forget_run(self.run_id)
            raise
        except CredentialsRejected:
            self._rejected.set()
        except LaunchpadFailure as error:
            message = f"cannot read Launchpad: {error}"
            log.error("%s", message)
            result.failures.append(message)
            self._keep_the_picture(result, message)
        except Exception as error:
            # A bug, or the database failing under the run: recorded as what happened,
            # with exit 1, and the report still written.
            log.exception("the cycle failed")
            message = f"the cycle failed: {error_text(error)}"
            result.failures.append(message)
            self._keep_the_picture(result, message)
        if self._rejected.is_set():
            log.error("%s", REJECTED)
            result.failures.append(REJECTED)
            self._keep_the_picture(result, REJECTED)
        summary = {**result.summary(), "uploads": result.uploads()}
        self.store.finish_run(self.run_id, self.now, result.exit_status, summary)
        # Only the latest run's report shows them: an earlier run's would only grow
        # the database (a report of that run says it does not know them).
        self.store.forget_summary_key("uploads", self.run_id)
        return result

    def _keep_the_picture(
        self, result: CycleResult, reason: str, series: str | None = None
    ) -> None:
        """Every update known to be in flight that this run did not decide on, as not
        evaluated with `reason`: Launchpad failing never empties the report."""
        done = {o.update.key for o in result.outcomes} | {n.key for n in result.not_evaluated}
        wanted = set(self.options.series)
        result.not_evaluated.extend(
            NotEvaluated(*key, reason)
            for key in self.store.in_flight(series)
            if key not in done and (not wanted or key.series in wanted)
        )

    def _listed_work(self, result: CycleResult) -> Iterator[list[WorkItem]]:
        """Every update to evaluate, one series at a time, each series as soon as its
        listings are read: the updates the database knows in flight, however old, and
        the new publications of its -updates since it was last listed; with the
        binaries of those the run has to read, from listings of their pockets.

        The next series is listed while the workers start on the ones listed, so that
        the Error Tracker (the bound a cycle waits on) is asked about the first
        series' updates rather than after every listing. A client is checked out for
        each step only: with one Launchpad worker, listing and reading take turns.
        """
        with self._clients.checkout() as (_, archive):
            self.phaser = self._account(archive)
            self.store.forget_reads_before(self.now - 2 * self.options.interval)
            every_series = archive.supported_series(self.options.series)
        for series in every_series:
            if self._out_of_time():
                message = f"{series.name}: not listed, {self._deadline_passed()}"
                result.failures.append(message)
                self._keep_the_picture(result, message, series.name)
                continue
            with self._clients.checkout() as (_, archive):
                work = self._series_work(archive, series, result)
                to_read = self._to_read(work)
                arches: list[str] = []
                if len(to_read) > 1:
                    try:
                        arches = archive.architectures(series)
                    except CredentialsRejected:
                        raise
                    except LaunchpadFailure as error:
                        self._drop_series(work, result, series, error)
                        continue
            # A pocket is listed once per architecture, at least a request each: worth
            # it only for more updates than that, which would cost a request each.
            if arches and len(to_read) > len(arches):
                work = self._pockets(work, result, series, min(to_read) - COPY_MARGIN, arches)
            if work:
                yield work

    def _series_work(
        self, archive: LaunchpadArchive, series: Series, result: CycleResult
    ) -> list[WorkItem]:
        """The updates of one series to evaluate, with what earlier runs left each; none
        (and each reported with its last state) when its -updates cannot be listed."""
        since = self._discover_since(series)
        try:
            sources = archive.list_sources(series, since)
        except CredentialsRejected:
            raise  # the token, not the series: nothing more can be read
        except LaunchpadFailure as error:
            message = f"{series.name}: cannot list -updates: {error}"
            log.error("%s", message)
            result.failures.append(message)
            # Its updates are unknown to this run: report each with its last state.
            self._keep_the_picture(result, message, series.name)
            return []
        self.store.listed(series.name, self.now)
        retired = self.store.retired(series.name)
        listed = [s for s in sources if UpdateKey(series.name, s.source, s.version) not in retired]
        known = set(self.store.in_flight(series.name))
        new = {UpdateKey(series.name, s.source, s.version) for s in listed} - known
        log.info(
            "%s: %d update(s) known in flight, %d new publication(s) in -updates%s",
            series.name,
            len(known),
            len(new),
            f" since {since:%Y-%m-%d %H:%M}" if since else " (a full listing)",
        )
        work = [WorkItem(series, s.source, s.version, listed=s) for s in listed]
        unlisted = sorted(known - {item.key for item in work})
        kept = self.store.listings(unlisted)
        work.extend(
            WorkItem(series, key.source, key.version, listed=_kept_listing(key, kept))
            for key in unlisted
        )
        keys = [item.key for item in work]
        self.store.track(
            keys,
            self.now,
            {item.key: item.listed.representation for item in work if item.listed is not None},
        )
        previous = self.store.recorded_previous_versions(keys)
        standings = self.store.standings(keys)
        manual = self.store.manual(keys)
        reads = self.store.last_reads(keys, self.now - self.options.interval, self.now)
        return [
            replace(
                item,
                previous_version=previous.get(key),
                last_read=reads.get(key),
                standing=standings.get(key),
                halt=self._halt(key, manual.get(key, (None, None))[0]),
                resumed=manual.get(key, (None, None))[1],
            )
            for item, key in zip(work, keys, strict=True)
        ]

    def _to_read(self, work: Sequence[WorkItem]) -> list[datetime]:
        """When each update of a series this run must read was copied to -updates:
        every update with no read kept, copied within `POCKET_WINDOW` (a listing of its
        pocket can cover those)."""
        floor = self.now - POCKET_WINDOW
        found: list[datetime] = []
        for item in work:
            created = item.listed.date_created if item.listed is not None else None
            if item.last_read is None and created is not None and created >= floor:
                found.append(created)
        return found

    def _pockets(
        self,
        work: list[WorkItem],
        result: CycleResult,
        series: Series,
        start: datetime,
        arches: Sequence[str],
    ) -> list[WorkItem]:
        """The series' `work`, each update the listings of its pocket since `start`
        cover given its records; none when a listing failed (the series is not
        evaluated: its updates keep their last state)."""

        def list_one(arch: str) -> list[BinaryRecord]:
            with self._clients.checkout() as (_, archive):
                return archive.list_binaries(series, arch, start)

        listed: list[BinaryRecord] = []
        failed: LaunchpadFailure | None = None
        rejected = False
        workers = min(len(arches), self.options.launchpad_workers)
        with ThreadPoolExecutor(workers, thread_name_prefix="lister") as pool:
            for future in [pool.submit(list_one, arch) for arch in arches]:
                try:
                    listed.extend(future.result())
                except CredentialsRejected:
                    rejected = True
                except LaunchpadFailure as failure:
                    failed = failed or failure
        if rejected:
            # The token, not a series: the cycle stops, as for any other read.
            raise CredentialsRejected(REJECTED)
        if failed is not None:
            return self._drop_series(work, result, series, failed)
        uploads = by_upload(listed)
        return [
            replace(item, records=uploads.get((item.source, item.version), []))
            if self._covered(item, start)
            else item
            for item in work
        ]

    @staticmethod
    def _covered(item: WorkItem, start: datetime) -> bool:
        """Whether a listing of the item's pocket since `start` holds every record of
        its binaries."""
        created = item.listed.date_created if item.listed is not None else None
        return created is not None and created - COPY_MARGIN >= start

    def _drop_series(
        self, work: list[WorkItem], result: CycleResult, series: Series, error: LaunchpadFailure
    ) -> list[WorkItem]:
        """A series whose -updates binaries could not be listed: not evaluated in this run."""
        message = f"{series.name}: cannot list -updates binaries: {error}"
        log.error("%s", message)
        result.failures.append(message)
        self._keep_the_picture(result, message, series.name)
        return [item for item in work if item.series.name != series.name]

    def _halt(self, key: UpdateKey, recorded: Halt | None) -> Halt | None:
        """The halts file's halt, or the one the database recorded: losing the file, or a
        line of it, lifts no halt; the report says the two disagree."""
        listed = self.halts.get(key)
        if listed is not None or recorded is None:
            return listed
        note = " (recorded in the state database; the halts file does not list it)"
        return replace(recorded, reason=recorded.reason + note)

    def _account(self, archive: LaunchpadArchive) -> str | None:
        """The phaser's own account: Launchpad's `me`, or for an anonymous run the last
        account a run of this database acted as (None on a fresh one)."""
        if self.options.anonymous:
            return self.store.last_account()
        account = archive.account()
        self.store.set_account(self.run_id, account)
        return account

    def _discover_since(self, series: Series) -> datetime | None:
        """Where the dated listing of new publications starts; None lists everything.

        A publication is listed once Published, which can be well after its record was
        created: a day's overlap with the previous listing keeps it from slipping
        between two runs.
        """
        if self.options.lookback is not None:
            return self.now - self.options.lookback
        last = self.store.last_listed(series.name)
        return None if last is None else min(last, self.now) - DISCOVERY_OVERLAP

    def _units(self, work: list[WorkItem]) -> list[list[WorkItem]]:
        """Work in units: one per update, but one per phasing group and series."""
        units: dict[tuple[str, ...], list[WorkItem]] = {}
        for item in work:
            group = self.options.groups.group_of(item.source)
            unit = ("group", item.series.name, group.name) if group else ("update", *item.key)
            units.setdefault(unit, []).append(item)
        return list(units.values())

    def _process_all(self, listed: Iterable[list[WorkItem]], result: CycleResult) -> None:
        """Evaluate each series' work as it is listed; the outcomes in the order listed.

        Whatever stops the listing (a rejected token, a failed read of the series),
        every unit already started is finished and kept in `result` first.
        """
        # Enough threads to keep both bounds busy: one waits on Launchpad while
        # another waits on the Error Tracker. With one worker, strictly sequential.
        sequential = self.options.launchpad_workers == 1 and self.options.errors_workers == 1
        threads = 1 if sequential else self.options.launchpad_workers + self.options.errors_workers
        started: list[Future[list[Processed]]] = []
        with ThreadPoolExecutor(threads, thread_name_prefix="phaser") as pool:
            try:
                for work in listed:
                    with self._progress_lock:
                        self._listed += len(work)
                    started.extend(pool.submit(self._process_unit, u) for u in self._units(work))
            finally:
                late = self._collect([future.result() for future in started], result)
        if late:
            message = f"{self._deadline_passed()}: {late} of {self._listed} update(s) not evaluated"
            log.error("%s", message)
            result.failures.append(message)
        if self._rejected.is_set():
            raise CredentialsRejected(REJECTED)

    def _collect(self, processed: Iterable[list[Processed]], result: CycleResult) -> int:
        """Each unit's outcomes and failures into `result`; how many missed the deadline
        (said once for all of them)."""
        late = 0
        for unit in processed:
            for item, outcome, failure in unit:
                if outcome is not None:
                    result.outcomes.append(outcome)
                    if outcome.error:
                        result.failures.append(f"{item}: {outcome.error}")
                if failure is not None:
                    result.not_evaluated.append(NotEvaluated(*item.key, failure))
                    if failure == self._deadline_passed():
                        late += 1
                    else:
                        result.failures.append(f"{item}: {failure}")
        return late

    def _out_of_time(self) -> bool:
        return self._ends_at is not None and self._clock() >= self._ends_at

    def _deadline_passed(self) -> str:
        limit = self.options.run_deadline or timedelta(0)
        return f"the run's deadline ({format_duration(limit)}) passed"

    def _process_unit(self, unit: list[WorkItem]) -> list[Processed]:
        if len(unit) == 1:
            return [self._process(unit[0])]
        if self._out_of_time():
            # Never half a group: one started before the deadline is finished whole.
            return [(item, None, self._deadline_passed()) for item in unit]
        try:
            return self._process_group(unit)
        except Exception as error:
            # A bug in deciding the group costs its members one run, not the cycle.
            log.exception("%s: unexpected failure deciding its group", unit[0])
            return [(item, None, f"unexpected failure: {type(error).__name__}") for item in unit]

    def _guarded(
        self,
        item: WorkItem,
        evaluate: Callable[[], Outcome | None],
        *,
        deadline: bool = True,
    ) -> Processed:
        """Run `evaluate` for `item`, turning every failure into why it was not evaluated.

        With `deadline`, nothing is started once the run's deadline has passed (a
        group's members are checked once, for the whole group).
        """
        if self._rejected.is_set():
            return item, None, "not evaluated: Launchpad rejected the credentials"
        if deadline and self._out_of_time():
            # Nothing read, nothing written: it keeps its level until the next run.
            return item, None, self._deadline_passed()
        try:
            outcome = evaluate()
        except CredentialsRejected:
            self._rejected.set()
            return item, None, "Launchpad rejected the credentials"
        except LaunchpadFailure as error:
            log.error("%s: cannot read from Launchpad: %s", item, error)
            return item, None, f"cannot read from Launchpad: {error}"
        except CannotRecord as error:
            return item, None, str(error)
        except Exception as error:
            # A bug must cost this update one run, not the whole cycle and its report.
            log.exception("%s: unexpected failure", item)
            return item, None, f"unexpected failure: {type(error).__name__}"
        if outcome is not None:
            self._log(item, outcome)
        return item, outcome, None

    def _process(self, item: WorkItem) -> Processed:
        return self._guarded(item, lambda: self._evaluate(item))

    def _evaluate(self, item: WorkItem) -> Outcome | None:
        """Read, check, decide, apply and record one update; None if it is not phasing."""
        kept = None
        if item.last_read is not None:
            kept = _Read(item.last_read, self._check(item.last_read), fresh=False)
            decision = self._decide(item, kept.update, kept.check)
            if self._reusable(kept.update, decision):
                return self._apply_and_record(kept.update, decision, fresh=False)
        read = self._read(item, kept)
        if read is None:
            return None
        return self._apply_and_record(read.update, self._decide(item, read.update, read.check))

    def _read(self, item: WorkItem, kept: _Read | None) -> _Read | None:
        """Read `item` from Launchpad and check it; None (and retired) if it is not phasing.

        The check made on `kept` is reused when it asked the same questions.
        """
        with self._clients.checkout() as (_, archive):
            update = archive.read_update(
                item.series,
                item.source,
                item.version,
                listed=item.listed,
                previous_version=item.previous_version,
                records=item.records,
            )
        if isinstance(update, Gone):
            # Done for good: later runs need not read it again.
            self.store.retire(item.key, self.now, update.why)
            log.info("%s: no longer phasing: %s", item, update.why)
            return None
        if kept is not None and asked_about(kept.update) == asked_about(update):
            return _Read(update, kept.check, fresh=True)  # asked a moment ago
        return _Read(update, self._check(update), fresh=True)

    def _process_group(self, items: list[WorkItem]) -> list[Processed]:
        """The members of one phasing group in one series, decided together.

        A member that cannot be read is not evaluated, and the others do not step in
        this run (it might be stopped). A decision that writes is made on fresh reads:
        members decided on a kept read are read again until no such decision writes.
        """
        reads: dict[UpdateKey, _Read] = {}
        failed: dict[UpdateKey, str] = {}
        done: dict[UpdateKey, Processed] = {}

        def note(item: WorkItem, failure: str | None) -> None:
            if failure is not None:
                reads.pop(item.key, None)
                failed[item.key] = failure
                done[item.key] = (item, None, failure)

        def keep(item: WorkItem, update: Update) -> None:
            reads[item.key] = _Read(update, self._check(update), fresh=False)

        def read(item: WorkItem) -> None:
            found = self._read(item, reads.pop(item.key, None))
            if found is not None:
                reads[item.key] = found

        def inside(item: WorkItem, step: Callable[[], None]) -> str | None:
            """Why `step` failed for `item`; the run's deadline was checked for the group."""
            return self._guarded(item, step, deadline=False)[2]

        for item in items:
            if item.last_read is not None:
                note(item, inside(item, partial(keep, item, item.last_read)))
            else:
                note(item, inside(item, partial(read, item)))
        while True:
            decisions = self._decide_together(items, reads, failed)
            stale = [
                item
                for item in items
                if item.key in reads
                and not reads[item.key].fresh
                and not self._reusable(reads[item.key].update, decisions[item.key])
            ]
            if not stale:
                break
            for item in stale:
                note(item, inside(item, partial(read, item)))
        for item in items:
            if item.key in reads:
                got = reads[item.key]
                apply = partial(
                    self._apply_and_record,
                    got.update,
                    decisions[item.key],
                    fresh=got.fresh,
                )
                done[item.key] = self._guarded(item, apply, deadline=False)
        return [done[item.key] for item in items if item.key in done]

    def _decide_together(
        self,
        items: list[WorkItem],
        reads: Mapping[UpdateKey, _Read],
        failed: Mapping[UpdateKey, str],
    ) -> dict[UpdateKey, Decision]:
        """Each member's decision at the group's pace, then the group rules over them all."""
        members = [
            (item, Member(read.update, self._decide(item, read.update, read.check)))
            for item in items
            if (read := reads.get(item.key)) is not None
        ]
        unavailable = [(key.source, why) for key, why in failed.items()]
        pace = self.options.pace_of(items[0].source)
        decided = move_together(pace, [member for _, member in members], self.now, unavailable)
        return {item.key: decision for (item, _), decision in zip(members, decided, strict=True)}

    def _check(self, update: Update) -> CrashCheck:
        with self._errors_slots:
            return self.errors.check(update)

    def _decide(self, item: WorkItem, update: Update, check: CrashCheck) -> Decision:
        pace = self.options.pace_of(item.source)
        decision = decide(
            update,
            check,
            self.overrides,
            item.halt,
            self.now,
            pace.step,
            pace.interval,
            standing=item.standing,
            resumed=item.resumed,
            phaser=self.phaser,
            freeze=self.options.freeze,
        )
        return replace(decision, pace=pace)

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
        self, update: Update, decision: Decision, *, fresh: bool = True
    ) -> Outcome:
        """Write what the decision needs, then record it with what the read tells later runs.

        `fresh` says the update was read in this run: if nothing is written, later runs
        may reuse the read; once anything is (or may have been) written, they must not.
        """
        writes = writes_for(update, decision)
        applied, error = not writes, None
        kept = KeptRead.REMEMBER if fresh else KeptRead.LEAVE
        if writes and not self.dry_run:
            if self._cannot_record.is_set():
                raise CannotRecord("not written: this run could not record an earlier decision")
            # Forgotten before the first write, not with the record: a run killed in
            # between must not leave a read that Launchpad no longer agrees with.
            kept = KeptRead.FORGET
            self._recording(lambda connection: self.store.forget_read(update.key, connection))
            binaries = {b.self_link: b for b in update.binaries}
            try:
                with self._clients.checkout() as (_, archive):
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
                if decision.action is Action.STOP:
                    # Not a stop in force until Launchpad shows it: should the write have
                    # landed after all (a timeout), the next run finds the phaser's 0 and
                    # records the stop from Launchpad's records, and mails it then.
                    decision = replace(decision, standing=replace(decision.standing, stop=None))
        self._record(update, decision, applied=applied, error=error, kept=kept)
        return Outcome(update, decision, applied, error)

    def _recording(self, write: Callable[[sqlite3.Connection], None]) -> None:
        """Run `write` in a transaction; if the database refuses, no later write goes to
        Launchpad in this run (a change there must always be followed by its record)."""
        try:
            with self.store.transaction() as connection:
                write(connection)
        except sqlite3.Error as error:
            self._cannot_record.set()
            log.error("the state database refused a record: %s; no more writes this run", error)
            raise CannotRecord(f"cannot record: {error_text(error)}") from error

    def _record(
        self,
        update: Update,
        decision: Decision,
        *,
        applied: bool,
        error: str | None,
        kept: KeptRead,
    ) -> None:
        def write(connection: sqlite3.Connection) -> None:
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
            if decision.state == State.COMPLETE and applied:
                self.store.retire(update.key, self.now, "fully phased", connection)

        self._recording(write)

    def _log(self, item: WorkItem, outcome: Outcome) -> None:
        # "[12/133]": of the updates listed so far; later series may still be listed.
        with self._progress_lock:
            self._progress += 1
            position, total = self._progress, self._listed
        d = outcome.decision
        not_written = not outcome.applied and writes_for(outcome.update, d)
        # A stop needs a person (an override or a fix): journalctl -p warning shows it.
        log.log(
            logging.WARNING if d.action is Action.STOP else logging.INFO,
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
