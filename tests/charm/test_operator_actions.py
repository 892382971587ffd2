"""show-last-run and list-halts: what an operator asks a unit about its cycles and halts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ops import testing
from peer_data import Halt
from status_summary import LastRun

from charm import PhasedUpdaterCharm
from phased_updater.report.run_status import SCHEMA_VERSION
from tests.charm.conftest import peer_relation
from tests.charm.fake_workload import FakeWorkload

REPORT_DIR = Path("/var/lib/phased-updater/report")
RUN_STATUS = {
    "schema_version": SCHEMA_VERSION,
    "run": 57,
    "started": "2026-11-02T06:00:00+00:00",
    "finished": "2026-11-02T06:01:10+00:00",
    "exit_status": 1,
    "dry_run": False,
    "interval_seconds": 21600,
    "last_success": "2026-11-01T18:01:00+00:00",
    "consecutive_failures": 2,
    "updates": [
        {"series": "noble", "state": "phasing", "count": 3},
        {"series": "jammy", "state": "phasing", "count": 1},
        {"series": "noble", "state": "unknown", "count": 1},
    ],
    "stops": {"new-crash": 1},
    "resumes": {},
    "requests": {
        "launchpad": {"requests": 41, "failures": 0},
        "errortracker": {"requests": 10, "failures": 2},
    },
    "mail": {"queued": 2, "pending": 1, "sent": 1, "failed": 0, "skipped": 0},
}


def write(workload: FakeWorkload, name: str, text: str) -> None:
    path = workload.path(REPORT_DIR / name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_show_last_run_gathers_systemd_the_run_and_its_journal(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    workload.last_run_result = LastRun(succeeded=False, exit_status=1)
    write(workload, "run-status.json", json.dumps(RUN_STATUS))
    failures = [f"noble pkg{n} 1.0-1: cannot read from Launchpad: 503" for n in range(12)]
    write(workload, "phased-updates.json", json.dumps({"failures": failures}))
    workload.journal = "\n".join(f"line {n}" for n in range(50))

    ctx.run(ctx.on.action("show-last-run", params={"lines": 3}), testing.State(leader=True))

    results = ctx.action_results
    assert results is not None
    assert results["result"] == "failed"
    assert results["exit-status"] == "1 (some packages could not be evaluated)"
    assert results["run"] == "57"
    assert results["last-success"] == "2026-11-01T18:01:00+00:00"
    assert results["failed-in-a-row"] == "2"
    assert results["summary"] == (
        "updates: 4 phasing, 1 unknown; Launchpad 41 requests (0 failed), "
        "Error Tracker 10 requests (2 failed); mail: 1 pending, 1 sent, 0 failed"
    )
    assert results["failures"].splitlines()[-1] == "... and 2 more"
    assert results["journal"] == "line 47\nline 48\nline 49"
    assert ("journal", "phased-updater-run.service", "3") in workload.calls


def test_show_last_run_before_any_run_and_on_a_standby_unit(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    ctx.run(ctx.on.action("show-last-run"), testing.State(leader=False))

    results = ctx.action_results
    assert results is not None
    assert results["result"] == "no run since the machine booted"
    assert results["summary"] == "no run has written run-status.json on this unit"
    assert results["journal"] == "(empty)"
    assert results["note"].endswith("juju run phased-updater/leader show-last-run")


@pytest.mark.parametrize("lines", [0, 501])
def test_show_last_run_refuses_a_line_count_out_of_range(
    lines: int, ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("show-last-run", params={"lines": lines}), testing.State(leader=True))

    assert f"lines {lines} must be between 1 and 500" in failure.value.message


def test_list_halts(ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload) -> None:
    peers = peer_relation(
        halts=[
            Halt(
                "noble", "glibc", "2.39-0ubuntu8.4", "boot failures", "sru", "2026-11-01T00:00:00Z"
            ),
            Halt(
                "jammy",
                "curl",
                "7.81.0-1ubuntu1.20",
                "regression",
                "juju action",
                "2026-11-02T00:00:00Z",
            ),
        ]
    )

    ctx.run(ctx.on.action("list-halts"), testing.State(relations={peers}))

    assert ctx.action_results == {
        "count": "2",
        "halts": "noble/glibc/2.39-0ubuntu8.4: boot failures (by sru at 2026-11-01T00:00:00Z)\n"
        "jammy/curl/7.81.0-1ubuntu1.20: regression (by juju action at 2026-11-02T00:00:00Z)",
    }
