"""One phasing cycle: read, check, decide, apply, record.

Data flows one way. Launchpad and the Error Tracker are read into plain values
(`Update`, `CrashCheck`); `policy.decide` turns them into a `Decision`; the decision is
applied to Launchpad and then recorded, each in its own transaction, together with
whatever listeners (the mail outbox) queue for it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import httplib2
from lazr.restfulclient.errors import HTTPError, Unauthorized

from phased_updater.config import Settings
from phased_updater.errortracker import ErrorTrackerClient
from phased_updater.launchpad import CredentialsRejected, LaunchpadArchive, LaunchpadFailure
from phased_updater.model import Action, CrashCheck, Decision, Halt, Series, Update
from phased_updater.overrides import Overrides
from phased_updater.policy import decide
from phased_updater.store import Store

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_INCOMPLETE = 1

READ_ERRORS = (HTTPError, httplib2.HttpLib2Error, OSError, LaunchpadFailure)

# Called inside the transaction that records a decision: whatever it writes to the
# database commits or rolls back together with the decision.
DecisionListener = Callable[[sqlite3.Connection, int, Update, Decision], None]


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
        }


def _writes(update: Update, decision: Decision) -> list[tuple[str, int]]:
    """The (binary self_link, percentage) writes that bring every deb to the target."""
    if decision.action is Action.UNKNOWN:
        return []
    return [
        (binary.self_link, decision.to_percentage)
        for binary in update.debs
        if binary.percentage != decision.to_percentage
    ]


class Cycle:
    def __init__(
        self,
        settings: Settings,
        archive: LaunchpadArchive,
        errors: ErrorTrackerClient,
        store: Store,
        overrides: Overrides,
        halts: dict[tuple[str, str, str], Halt],
        now: datetime,
        listeners: Sequence[DecisionListener] = (),
    ) -> None:
        self.settings = settings
        self.archive = archive
        self.errors = errors
        self.store = store
        self.overrides = overrides
        self.halts = halts
        self.now = now
        self.listeners = listeners
        self.dry_run = settings.effective_dry_run
        self.run_id = 0

    def run(self) -> CycleResult:
        run_id = self.store.start_run(
            self.now, self.dry_run, self.settings.step, self.settings.interval
        )
        self.run_id = run_id
        result = CycleResult(run_id)
        for error in self.overrides.errors:
            log.warning("overrides file %s: %s (line skipped)", self.settings.overrides, error)
        try:
            for series in self.archive.supported_series(self.settings.series):
                self._run_series(series, result)
        except (CredentialsRejected, Unauthorized) as error:
            message = (
                str(error)
                if isinstance(error, CredentialsRejected)
                else ("Launchpad answered 401: the credentials are expired or lack the rights")
            )
            log.error("%s", message)
            result.failures.append(message)
        finally:
            self.store.finish_run(run_id, self.now, result.exit_status, result.summary())
        return result

    def _run_series(self, series: Series, result: CycleResult) -> None:
        since = self.now - self.settings.lookback
        try:
            updates = list(self.archive.phasing_updates(series, since))
        except (CredentialsRejected, Unauthorized):
            raise
        except READ_ERRORS as error:
            message = f"{series.name}: cannot list phasing updates: {error}"
            log.error("%s", message)
            result.failures.append(message)
            return
        log.info("%s: %d phasing update(s)", series.name, len(updates))
        with ThreadPoolExecutor(self.settings.errors_workers) as pool:
            checks = list(pool.map(self.errors.check, updates))
        for position, (update, check) in enumerate(zip(updates, checks, strict=True), 1):
            outcome = self._decide_and_apply(update, check)
            result.outcomes.append(outcome)
            if outcome.error:
                result.failures.append(
                    f"{update.series.name} {update.source} {update.version}: {outcome.error}"
                )
            d = outcome.decision
            log.info(
                "[%s %d/%d] %s %s: %s %d%% -> %d%%%s (%s)",
                series.name,
                position,
                len(updates),
                update.source,
                update.version,
                d.action,
                d.from_percentage,
                d.to_percentage,
                "" if outcome.applied or not _writes(update, d) else " [not written]",
                d.reason,
            )

    def _decide_and_apply(self, update: Update, check: CrashCheck) -> Outcome:
        decision = decide(
            update,
            check,
            self.overrides,
            self.halts.get(update.key),
            self.now,
            self.settings.step,
            self.settings.interval,
        )
        writes = _writes(update, decision)
        applied, error = False, None
        if writes and not self.dry_run:
            binaries = {b.self_link: b for b in update.binaries}
            try:
                for self_link, percentage in writes:
                    self.archive.set_percentage(binaries[self_link], percentage)
                applied = True
            except CredentialsRejected:
                self._record(update, decision, applied=False, error="credentials rejected")
                raise
            except READ_ERRORS as failure:
                # Some binaries may already be written; the next run converges them.
                error = f"write failed: {failure}"
        elif not writes:
            applied = True
        self._record(update, decision, applied=applied, error=error)
        return Outcome(update, decision, applied, error)

    def _record(
        self, update: Update, decision: Decision, *, applied: bool, error: str | None
    ) -> None:
        with self.store.transaction() as connection:
            run_id = self.run_id
            self.store.record(
                run_id,
                self.now,
                update,
                decision,
                applied=applied,
                error=error,
                connection=connection,
            )
            for listener in self.listeners:
                listener(connection, run_id, update, decision)
