"""`serve`'s `/metrics`: the Prometheus text format of the last run's `run-status.json`
(`run_status.py`), plus what the time of asking adds: the report's age and staleness.

Written by prometheus_client (Ubuntu's python3-prometheus-client).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from phased_updater.mail.outbox import Status
from phased_updater.report.run_status import freshness
from phased_updater.report.run_status import integer as _int
from phased_updater.report.run_status import timestamp as _timestamp
from phased_updater.sources.request_counts import SERVICES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

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
