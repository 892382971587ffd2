"""What a run leaves for monitoring (`run-status.json`), and `serve`'s `/metrics` from it.

`phased-updater run` writes `run-status.json` into the report directory after every
run: the run's times and exit status, the last run that evaluated everything, how many
runs in a row failed, its updates by state and series, every stop and resume ever
recorded (by cause), its Launchpad and Error Tracker requests, and the mail outbox.
It is small, so `serve` reads it on every scrape and health check, and adds what only
the time of asking can tell: how old the report is and whether it is stale.

Stale means older than twice the run period: the period `serve --run-every` was given
(the charm passes its timer's), else the interval the run recorded.

The text format is written by prometheus_client (Ubuntu's python3-prometheus-client).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from phased_updater.atomic_write import write_atomically
from phased_updater.duration import format_timestamp, parse_timestamp
from phased_updater.mail.outbox import Delivery, Status
from phased_updater.model import Action, ProblemKind
from phased_updater.sources.request_counts import SERVICES, RequestCounts
from phased_updater.store import RunRecord, Store

SNAPSHOT_NAME = "run-status.json"
SCHEMA_VERSION = 1
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NOT_EVALUATED = "not-evaluated"
HALT_CAUSE = "halt"
# How many earlier runs are looked at to count the failures in a row.
FAILURE_LOOKBACK = 1000


# -- the snapshot a run writes ----------------------------------------------------------


def _consecutive_failures(store: Store) -> int:
    """Runs, newest first, that ended with a non-zero status or never ended."""
    rows = store.query(
        "SELECT finished, exit_status FROM runs ORDER BY id DESC LIMIT ?", (FAILURE_LOOKBACK,)
    )
    count = 0
    for row in rows:
        if row["finished"] is not None and row["exit_status"] == 0:
            break
        count += 1
    return count


def _last_success(store: Store) -> str | None:
    rows = store.query(
        "SELECT finished FROM runs WHERE exit_status = 0 AND finished IS NOT NULL"
        " ORDER BY id DESC LIMIT 1"
    )
    return str(rows[0]["finished"]) if rows else None


def _stops_and_resumes(store: Store) -> tuple[dict[str, int], dict[str, int]]:
    """Every stop (by the kind of each problem not overridden, or `halt`) and resume
    (`override` when overrides made it, else `other`) in the history."""
    stops: Counter[str] = Counter({str(kind): 0 for kind in ProblemKind})
    stops[HALT_CAUSE] += 0
    resumes: Counter[str] = Counter({"override": 0, "other": 0})
    rows = store.query(
        "SELECT action, problems, overrides_applied FROM decisions WHERE action IN (?, ?, ?)",
        (str(Action.STOP), str(Action.HALT), str(Action.RESUME)),
    )
    for row in rows:
        if row["action"] == str(Action.HALT):
            stops[HALT_CAUSE] += 1
        elif row["action"] == str(Action.STOP):
            problems = json.loads(row["problems"])
            kinds = {p.get("kind") for p in problems if not p.get("overridden")}
            for kind in sorted(str(k) for k in kinds if k) or ["other"]:
                stops[kind] += 1
        else:
            resumes["override" if json.loads(row["overrides_applied"]) else "other"] += 1
    return dict(sorted(stops.items())), dict(sorted(resumes.items()))


def _updates(store: Store, run: RunRecord) -> list[dict[str, Any]]:
    """This run's updates by series and state; the ones it could not evaluate as
    `not-evaluated`."""
    counts: Counter[tuple[str, str]] = Counter(
        (record.series, str(record.state)) for record in store.decisions_for_run(run.id)
    )
    entries = run.summary.get("not_evaluated", [])
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("series"), str):
            counts[(entry["series"], NOT_EVALUATED)] += 1
    return [
        {"series": series, "state": state, "count": count}
        for (series, state), count in sorted(counts.items())
    ]


def _mail(deliveries: Sequence[Delivery]) -> dict[str, Any]:
    by_status = Counter(str(d.status) for d in deliveries)
    pending = [d.queued_at for d in deliveries if d.status is Status.PENDING]
    return {
        "queued": len(deliveries),
        **{str(status): by_status[str(status)] for status in Status},
        "oldest_pending": format_timestamp(min(pending)) if pending else None,
    }


def build_snapshot(
    store: Store, run: RunRecord, deliveries: Sequence[Delivery], counts: RequestCounts
) -> dict[str, Any]:
    """`run-status.json` for `run`, which has finished."""
    stops, resumes = _stops_and_resumes(store)
    return {
        "schema_version": SCHEMA_VERSION,
        "run": run.id,
        "started": format_timestamp(run.started),
        "finished": format_timestamp(run.finished) if run.finished else None,
        "exit_status": run.exit_status,
        "dry_run": run.dry_run,
        "interval_seconds": int(run.interval.total_seconds()),
        "last_success": _last_success(store),
        "consecutive_failures": _consecutive_failures(store),
        "updates": _updates(store, run),
        "stops": stops,
        "resumes": resumes,
        "requests": counts.to_json(),
        "mail": _mail(deliveries),
    }


def write_snapshot(report_dir: Path, snapshot: dict[str, Any]) -> Path:
    path = report_dir / SNAPSHOT_NAME
    write_atomically(path, json.dumps(snapshot, sort_keys=True) + "\n")
    return path


def read_snapshot(report_dir: Path) -> dict[str, Any] | None:
    """None when there is none yet, or it is not what `write_snapshot` writes."""
    try:
        document = json.loads((report_dir / SNAPSHOT_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION:
        return None
    return document


# -- what the time of asking adds ---------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    """How old the last run's report is, against twice the run period."""

    age_seconds: float
    period_seconds: int

    @property
    def stale_after_seconds(self) -> int:
        return 2 * self.period_seconds

    @property
    def stale(self) -> bool:
        return self.age_seconds > self.stale_after_seconds


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def freshness(
    snapshot: dict[str, Any], now: datetime, run_every_seconds: int | None
) -> Freshness | None:
    """None when the snapshot says neither when the run ended nor what its period is."""
    ended = _timestamp(snapshot.get("finished")) or _timestamp(snapshot.get("started"))
    period = run_every_seconds or _int(snapshot.get("interval_seconds"))
    if ended is None or not period:
        return None
    return Freshness((now - ended).total_seconds(), period)


# -- /metrics ------------------------------------------------------------------------

PREFIX = "phased_updater"


class _SnapshotCollector(Collector):
    def __init__(
        self,
        snapshot: dict[str, Any] | None,
        now: datetime,
        run_every_seconds: int | None,
        serve_started: datetime,
    ) -> None:
        self.snapshot = snapshot
        self.now = now
        self.run_every_seconds = run_every_seconds
        self.serve_started = serve_started

    def _gauge(self, name: str, documentation: str, value: float) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=value)

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot
        yield self._gauge(
            "serve_start_timestamp_seconds",
            "When this report server started (the staleness alerts count from here "
            "until a run succeeds).",
            self.serve_started.timestamp(),
        )
        yield self._gauge(
            "run_status_present",
            "1 when the report directory holds a run's run-status.json.",
            1 if snapshot is not None else 0,
        )
        period = self.run_every_seconds or (
            _int(snapshot.get("interval_seconds")) if snapshot else None
        )
        if period:
            yield self._gauge(
                "run_interval_seconds",
                "The time between runs: serve --run-every, else the run's interval. "
                "Twice this is when the report counts as stale.",
                period,
            )
        if snapshot is None:
            return
        yield from self._run(snapshot)
        yield from self._updates(snapshot)
        yield from self._history(snapshot)
        yield from self._requests(snapshot)
        yield from self._mail(snapshot)
        fresh = freshness(snapshot, self.now, self.run_every_seconds)
        if fresh is not None:
            yield self._gauge(
                "report_age_seconds",
                "Seconds since the last run ended (its report was written).",
                fresh.age_seconds,
            )
            yield self._gauge(
                "report_stale",
                "1 when the report is older than twice the run interval.",
                1 if fresh.stale else 0,
            )

    def _run(self, snapshot: dict[str, Any]) -> Iterator[Metric]:
        started = _timestamp(snapshot.get("started"))
        finished = _timestamp(snapshot.get("finished"))
        if started is not None:
            yield self._gauge(
                "last_run_start_timestamp_seconds",
                "When the last run started.",
                started.timestamp(),
            )
        if finished is not None:
            yield self._gauge(
                "last_run_end_timestamp_seconds", "When the last run ended.", finished.timestamp()
            )
        if started is not None and finished is not None:
            yield self._gauge(
                "last_run_duration_seconds",
                "How long the last run took.",
                (finished - started).total_seconds(),
            )
        status = _int(snapshot.get("exit_status"))
        if status is not None:
            yield self._gauge(
                "last_run_exit_status",
                "The last run's exit status: 0 every update evaluated, 1 some not.",
                status,
            )
        yield self._gauge(
            "last_run_dry_run",
            "1 when the last run wrote nothing to Launchpad.",
            1 if snapshot.get("dry_run") else 0,
        )
        success = _timestamp(snapshot.get("last_success"))
        if success is not None:
            yield self._gauge(
                "last_success_timestamp_seconds",
                "When the last run that evaluated every update (exit 0) ended.",
                success.timestamp(),
            )
        failures = _int(snapshot.get("consecutive_failures"))
        if failures is not None:
            yield self._gauge(
                "consecutive_failed_runs",
                "Runs in a row, up to the last one, that did not end with exit status 0.",
                failures,
            )

    def _updates(self, snapshot: dict[str, Any]) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            f"{PREFIX}_updates",
            "The last run's updates by series and state (not-evaluated: it could not read "
            "or decide on them).",
            labels=["series", "state"],
        )
        for entry in snapshot.get("updates", []):
            if isinstance(entry, dict) and _int(entry.get("count")) is not None:
                family.add_metric([str(entry["series"]), str(entry["state"])], entry["count"])
        yield family

    def _history(self, snapshot: dict[str, Any]) -> Iterator[Metric]:
        for name, documentation in (
            ("stops", "Updates stopped, ever, by cause (a problem kind, or halt by a person)."),
            ("resumes", "Updates resumed, ever, by cause (override, or other)."),
        ):
            family = CounterMetricFamily(f"{PREFIX}_{name}", documentation, labels=["cause"])
            counts = snapshot.get(name, {})
            for cause, count in sorted(counts.items() if isinstance(counts, dict) else []):
                if _int(count) is not None:
                    family.add_metric([str(cause)], count)
            yield family

    def _requests(self, snapshot: dict[str, Any]) -> Iterator[Metric]:
        requests = GaugeMetricFamily(
            f"{PREFIX}_last_run_requests",
            "Requests the last run sent (Launchpad: after login, cache hits excluded).",
            labels=["service"],
        )
        failures = GaugeMetricFamily(
            f"{PREFIX}_last_run_request_failures",
            "Requests of the last run that failed (no answer, or HTTP status >= 400).",
            labels=["service"],
        )
        counts = snapshot.get("requests", {})
        for service in SERVICES:
            entry = counts.get(service) if isinstance(counts, dict) else None
            if isinstance(entry, dict):
                requests.add_metric([service], _int(entry.get("requests")) or 0)
                failures.add_metric([service], _int(entry.get("failures")) or 0)
        yield requests
        yield failures

    def _mail(self, snapshot: dict[str, Any]) -> Iterator[Metric]:
        mail = snapshot.get("mail")
        if not isinstance(mail, dict):
            return
        yield CounterMetricFamily(
            f"{PREFIX}_mail_queued",
            "Stop mails ever queued in the outbox.",
            value=_int(mail.get("queued")) or 0,
        )
        family = GaugeMetricFamily(
            f"{PREFIX}_mail_messages",
            "Outbox messages by status: pending (not sent yet), sent, failed (refused by "
            "the relay, never retried), skipped (nobody to send to, or email off).",
            labels=["status"],
        )
        for status in Status:
            family.add_metric([str(status)], _int(mail.get(str(status))) or 0)
        yield family
        oldest = _timestamp(mail.get("oldest_pending"))
        ended = _timestamp(snapshot.get("finished")) or self.now
        # Measured up to the run's end: a pending mail is only retried by a run.
        age = (ended - oldest).total_seconds() if oldest else 0.0
        yield self._gauge(
            "mail_oldest_pending_age_seconds",
            "How long the oldest pending mail had waited when the last run ended (0: none).",
            max(age, 0.0),
        )


def render(
    snapshot: dict[str, Any] | None,
    now: datetime,
    run_every_seconds: int | None,
    serve_started: datetime,
) -> bytes:
    """The Prometheus text format of a snapshot (None: no run yet)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot, now, run_every_seconds, serve_started))
    return generate_latest(registry)
