"""`/metrics` and `/healthz` after real cycles: scraped over loopback HTTP and parsed
with prometheus_client's own text parser."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from phased_updater.commands.serve import create
from phased_updater.report import metrics
from tests.doubles.errortracker import NEW_BUCKETS, ErrorTrackerDouble
from tests.doubles.launchpad import LaunchpadDouble
from tests.doubles.scenarios import DEMO_NOW, demo_errors
from tests.functional.engine_cli import EngineHome
from tests.functional.report_server import running

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def serve(report_dir: Path, clock: Clock, **options: int) -> Iterator[int]:
    server = create(report_dir, "127.0.0.1:0", clock=clock, asyncore_loop_timeout=0.05, **options)
    with running(server) as port:
        yield port


def get(port: int, path: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def scrape(port: int) -> Samples:
    status, content_type, body = get(port, "/metrics")
    assert (status, content_type) == (200, metrics.CONTENT_TYPE)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode("utf-8"))
        for sample in family.samples
    }


def test_metrics_after_a_cycle_with_an_error_tracker_failure(
    launchpad: LaunchpadDouble, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> None:
    demo_errors(errortracker)
    errortracker.failures[(NEW_BUCKETS, "hello")] = "500"
    engine = EngineHome(tmp_path, launchpad, errortracker, 2, 2)
    launchpad.reset_requests()

    assert engine.run(DEMO_NOW) == 1

    clock = Clock(DEMO_NOW + timedelta(minutes=10))
    for port in serve(engine.report_dir, clock):
        samples = scrape(port)
    value = samples.__getitem__
    assert value(("phased_updater_last_run_exit_status", ())) == 1
    assert value(("phased_updater_consecutive_failed_runs", ())) == 1
    assert ("phased_updater_last_success_timestamp_seconds", ()) not in samples
    assert value(("phased_updater_last_run_start_timestamp_seconds", ())) == DEMO_NOW.timestamp()
    assert value(("phased_updater_report_age_seconds", ())) == 600
    assert value(("phased_updater_report_stale", ())) == 0
    assert value(("phased_updater_run_interval_seconds", ())) == 6 * 3600
    assert value(("phased_updater_updates", (("series", "noble"), ("state", "unknown")))) == 1
    assert value(("phased_updater_updates", (("series", "jammy"), ("state", "stopped")))) == 1
    assert value(("phased_updater_stops_total", (("cause", "new-crash"),))) == 2
    assert value(("phased_updater_stops_total", (("cause", "increased-rate"),))) == 1
    assert value(("phased_updater_resumes_total", (("cause", "override"),))) == 0
    # Every Error Tracker request the double saw, counted by the client; one failed.
    et = (("service", "errortracker"),)
    assert value(("phased_updater_last_run_requests", et)) == len(errortracker.requests)
    assert value(("phased_updater_last_run_request_failures", et)) == 1
    # Launchpad: every request after the logins, so fewer than the double saw.
    lp = (("service", "launchpad"),)
    assert 0 < value(("phased_updater_last_run_requests", lp)) < len(launchpad.requests)
    assert value(("phased_updater_last_run_request_failures", lp)) == 0
    assert value(("phased_updater_mail_queued_total", ())) == 3
    assert value(("phased_updater_mail_messages", (("status", "skipped"),))) == 3


def test_healthz_turns_503_after_two_periods(
    launchpad: LaunchpadDouble, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> None:
    demo_errors(errortracker)
    engine = EngineHome(tmp_path, launchpad, errortracker, 2, 2, writes=False)
    assert engine.run(DEMO_NOW) == 0
    clock = Clock(DEMO_NOW + timedelta(hours=2))

    # --run-every 1h (the charm passes its timer's period): stale after 2h.
    for port in serve(engine.report_dir, clock, run_every_seconds=3600):
        status, _, body = get(port, "/healthz")
        assert status == 200, body
        assert json.loads(body)["stale_after_seconds"] == 7200
        clock.now += timedelta(seconds=1)
        status, _, body = get(port, "/healthz")
        health = json.loads(body)
        assert (status, health["stale"], health["age_seconds"]) == (503, True, 7201)
        assert "more than twice the run interval (3600 s)" in health["reason"]
        samples = scrape(port)
        assert samples[("phased_updater_report_stale", ())] == 1
        assert samples[("phased_updater_last_success_timestamp_seconds", ())] > 0

    # Without it, the run's own interval (6h): fresh for 12h.
    for port in serve(engine.report_dir, clock):
        assert get(port, "/healthz")[0] == 200
        clock.now = DEMO_NOW + timedelta(hours=12, seconds=1)
        assert get(port, "/healthz")[0] == 503


def test_metrics_before_any_run(tmp_path: Path) -> None:
    clock = Clock(DEMO_NOW)
    for port in serve(tmp_path / "no-report", clock, run_every_seconds=3600):
        samples = scrape(port)

    assert samples == {
        ("phased_updater_serve_start_timestamp_seconds", ()): DEMO_NOW.timestamp(),
        ("phased_updater_run_status_present", ()): 0,
        ("phased_updater_run_interval_seconds", ()): 3600,
    }
