"""update-status: the gist of the last report, the next run and the last run's outcome."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ops
from ops import testing
from status_summary import (
    LastRun,
    ReportSummary,
    format_next_run,
    staleness_note,
    summarize_report,
)

from charm import PhasedUpdaterCharm
from phased_updater.report.run_status import SCHEMA_VERSION
from tests.charm.conftest import report
from tests.charm.fake_workload import FakeWorkload

REPORT = Path("/var/lib/phased-updater/report/phased-updates.json")
NOTES = "anonymous dry runs (no launchpad-credentials); email off (no smtp integration)"


def write_report(workload: FakeWorkload, text: str) -> None:
    workload.path(REPORT).parent.mkdir(parents=True, exist_ok=True)
    workload.path(REPORT).write_text(text)


def soon(hours: int = 2) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)


def test_update_status_shows_the_gist(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    write_report(
        workload,
        report(
            ("noble", "openssl", "3.0.13-0ubuntu3.5", "phasing"),
            ("noble", "glibc", "2.39-0ubuntu8.4", "stopped"),
            ("jammy", "glibc", "2.35-0ubuntu3.9", "stopped"),
            ("focal", "bash", "5.0-6ubuntu1.3", "unknown"),
            ("focal", "curl", "7.68.0-1ubuntu2.25", "complete"),
        ),
    )
    workload.next_elapse = next_run = soon()
    workload.last_run_result = LastRun(succeeded=True, exit_status=0)

    out = ctx.run(ctx.on.update_status(), testing.State(leader=True))

    assert out.unit_status == ops.ActiveStatus(
        f"phasing 4 updates (2 stopped) in 3 series; next run {next_run:%H:%M} UTC; {NOTES}"
    )


def test_failed_last_run_is_active_with_the_journal_command(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    write_report(workload, report(("noble", "openssl", "3.0.13-0ubuntu3.5", "phasing")))
    workload.next_elapse = next_run = soon()
    workload.last_run_result = LastRun(succeeded=False, exit_status=1)

    out = ctx.run(ctx.on.update_status(), testing.State(leader=True))

    assert out.unit_status == ops.ActiveStatus(
        f"phasing 1 update in 1 series; next run {next_run:%H:%M} UTC; "
        "last run exited 1 (some packages could not be evaluated): "
        f"see juju run phased-updater/leader show-last-run; {NOTES}"
    )


def test_dry_run_report_and_no_run_yet(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    write_report(workload, report(dry_run=True))

    out = ctx.run(ctx.on.update_status(), testing.State(leader=True, config={"dry-run": True}))

    assert out.unit_status == ops.ActiveStatus(f"dry run: phasing 0 updates; {NOTES}")


def test_unreadable_report_counts_as_none(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    write_report(workload, "{half a")

    out = ctx.run(ctx.on.update_status(), testing.State(leader=True))

    assert out.unit_status == ops.ActiveStatus(f"no report yet; {NOTES}")


def test_non_leader_is_on_standby(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    out = ctx.run(ctx.on.update_status(), testing.State(leader=False))

    assert out.unit_status == ops.ActiveStatus(f"standby: the leader runs the cycles; {NOTES}")
    assert ("next", "phased-updater-run.timer") not in workload.calls


def test_summary_of_a_report() -> None:
    text = report(("noble", "a", "1.0-1", "complete"), ("noble", "b", "1.0-1", "stopped"))

    assert summarize_report(text) == ReportSummary(updates=1, stopped=1, series=1, dry_run=False)
    assert summarize_report('{"packages": [{"state": "phasing"}]}') is None


def test_next_run_far_away_shows_the_date() -> None:
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    assert format_next_run(datetime(2025, 3, 1, 18, 0, tzinfo=UTC), now) == "18:00 UTC"
    assert format_next_run(datetime(2025, 3, 3, 6, 30, tzinfo=UTC), now) == "2025-03-03 06:30 UTC"


def run_status(finished: str) -> str:
    return json.dumps(
        {"schema_version": SCHEMA_VERSION, "finished": finished, "interval_seconds": 21600}
    )


def test_a_report_older_than_two_periods_says_what_to_check() -> None:
    now = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)

    assert staleness_note(run_status("2026-11-02T06:00:00+00:00"), now, 6 * 3600) == (
        "no run has finished for 13h (one is due every 6h): "
        "check systemctl status phased-updater-run.service phased-updater-run.timer"
    )
    assert staleness_note(run_status("2026-11-02T08:00:00+00:00"), now, 6 * 3600) is None
    assert staleness_note(None, now, 6 * 3600) is None


def test_update_status_shows_a_stale_report(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    write_report(workload, report(("noble", "openssl", "3.0.13-0ubuntu3.5", "phasing")))
    workload.path(REPORT.with_name("run-status.json")).write_text(
        run_status("2020-01-01T00:00:00+00:00")
    )

    out = ctx.run(ctx.on.update_status(), testing.State(leader=True))

    assert isinstance(out.unit_status, ops.ActiveStatus)
    assert "; no run has finished for " in out.unit_status.message
    assert "check systemctl status phased-updater-run.service" in out.unit_status.message
