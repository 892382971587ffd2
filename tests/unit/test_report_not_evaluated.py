"""A run that could not evaluate some updates says so, and shows each one's last state.

The cycle lists them in the run's summary (`not_evaluated`); the report finds their
latest decisions from earlier runs, so an update Launchpad failed to answer for does
not silently drop out of the page the SRU team works from.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from phased_updater.model import CrashCheck
from phased_updater.report import document as report_json
from phased_updater.report import page as report_html
from phased_updater.report import view as report_view
from phased_updater.report.input import ReportInput
from phased_updater.store import RunRecord, Store
from tests.unit import report_db
from tests.unit.report_db import INTERVAL, JAMMY, NOBLE, NOW, Plan, Simulation, crash, from_time

ERROR = "cannot read from Launchpad: 500 (ask sru-bot@example.com)"
NEVER = {"series": "noble", "source": "newpkg", "version": "1.0-1ubuntu0.1", "error": ERROR}


def entry(plan: Plan) -> dict[str, str]:
    return {"series": plan.series.name, "source": plan.source, "version": plan.version}


@pytest.fixture
def incomplete_run(store: Store) -> RunRecord:
    """hello phased twice and libfoo stopped; then a run reads neither hello nor newpkg."""
    sim = Simulation(store)
    hello = sim.add(Plan(NOBLE, "hello", "2.10-3ubuntu0.1", "2.10-3", NOW - 3 * INTERVAL))
    libfoo = sim.add(Plan(JAMMY, "libfoo", "1.2-1ubuntu0.2", "1.2-1", NOW - 3 * INTERVAL))
    libfoo.check = from_time(NOW - INTERVAL, CrashCheck((crash("foo_parse"),)))
    done = sim.add(Plan(JAMMY, "done", "1.0-1ubuntu0.1", "1.0-1", NOW - 3 * INTERVAL))
    done.percentage = 90
    sim.run_every(NOW - 3 * INTERVAL, NOW - INTERVAL)
    assert done.complete
    run_id = store.start_run(NOW, False, sim.step, sim.interval)
    sim.decide(libfoo, run_id, NOW)
    not_evaluated = [{**entry(hello), "error": ERROR}, {**entry(done), "error": ERROR}, NEVER]
    summary = {
        "failures": [f"noble hello 2.10-3ubuntu0.1: {ERROR}"],
        "not_evaluated": not_evaluated,
    }
    store.finish_run(run_id, NOW, 1, summary)
    run = store.run(run_id)
    assert run is not None
    return run


def document(store: Store, run: RunRecord) -> dict[str, Any]:
    return report_db.document(store, run)


def test_the_json_lists_each_with_its_last_known_state(
    store: Store, incomplete_run: RunRecord
) -> None:
    report = document(store, incomplete_run)

    assert [p["source"] for p in report["packages"]] == ["libfoo"]
    hello, never = report["not_evaluated"]  # "done" had completed: nothing to evaluate
    assert (hello["source"], never["source"]) == ("hello", "newpkg")
    assert (
        hello["error"] == never["error"] == ERROR.replace("sru-bot@example.com", "[address hidden]")
    )
    last = hello["last_known"]
    assert (last["state"], last["percentage"], last["decided_at"]) == (
        "phasing",
        30,
        (NOW - INTERVAL).isoformat(),
    )
    assert [h["to"] for h in last["history"]] == [10, 20, 30]
    assert never["last_known"] is None
    assert report["counts"]["not_evaluated"] == 2
    assert report["counts"]["phasing"] == 1  # hello counts by its last state too
    assert report["failures"] == [
        "noble hello 2.10-3ubuntu0.1: cannot read from Launchpad: 500 (ask [address hidden])"
    ]


def test_the_page_warns_and_shows_the_last_state(store: Store, incomplete_run: RunRecord) -> None:
    view = report_view.build(ReportInput.load(store, incomplete_run))

    section = next(s for s in view.sections if s.id == "not-evaluated")
    [hello] = section.updates
    assert (hello.source, hello.percentage, hello.state) == ("hello", 30, "phasing")
    assert hello.not_evaluated is not None and "[address hidden]" in hello.not_evaluated
    assert [(n.source, n.version) for n in view.never_decided] == [("newpkg", "1.0-1ubuntu0.1")]
    assert view.counts["not-evaluated"] == 2
    assert view.counts["phasing"] == 1  # by its last state too: nothing vanishes

    html = report_html.render(view)
    assert 'id="incomplete"' in html
    assert 'id="not-evaluated"' in html
    assert "Not evaluated in this run: cannot read from Launchpad" in html
    assert "next step" not in html  # its last decision's next step is not this run's
    assert "example.com" not in html


def test_a_complete_run_has_no_such_section(store: Store, last_run: RunRecord) -> None:
    view = report_view.build(ReportInput.load(store, last_run))

    assert "not-evaluated" not in [s.id for s in view.sections]
    assert (view.failures, view.never_decided) == ((), ())
    assert 'id="incomplete"' not in report_html.render(view)


def not_evaluated_run(store: Store, at: datetime, summary: dict[str, Any]) -> RunRecord:
    """A run at `at` that decided nothing: its summary says what it could not evaluate."""
    run_id = store.start_run(at, False, 10, INTERVAL)
    store.finish_run(run_id, at, 1, summary)
    run = store.run(run_id)
    assert run is not None
    return run


def missed(plan: Plan, error: str = ERROR) -> dict[str, str]:
    return {**entry(plan), "error": error}


def stopped_for_a_while(store: Store, until: datetime) -> Plan:
    """libfoo: stopped by a crash, then "still stopped" (the same decision) until `until`."""
    sim = Simulation(store)
    libfoo = sim.add(Plan(JAMMY, "libfoo", "1.2-1ubuntu0.2", "1.2-1", until - 6 * INTERVAL))
    libfoo.percentage = 40
    libfoo.check = from_time(until - 4 * INTERVAL, CrashCheck((crash("foo_parse"),)))
    sim.run_every(until - 6 * INTERVAL, until)
    return libfoo


def test_the_last_state_is_the_latest_of_identical_decisions(store: Store) -> None:
    libfoo = stopped_for_a_while(store, NOW - INTERVAL)
    run = not_evaluated_run(store, NOW, {"not_evaluated": [missed(libfoo)]})

    [item] = report_db.document(store, run)["not_evaluated"]

    last = item["last_known"]
    # Stopped at NOW - 4 intervals, still stopped at each run since: decided last at the
    # run before this one, not when the first of those identical decisions was made.
    assert (last["state"], last["percentage"], last["highest_percentage"]) == ("stopped", 0, 50)
    assert last["decided_at"] == (NOW - INTERVAL).isoformat()
    assert [(h["action"], h["repeats"]) for h in last["history"]] == [
        ("wait", 1),
        ("advance", 1),
        ("stop", 1),
        ("keep-stopped", 4),
    ]
    view = report_view.build(ReportInput.load(store, run))
    [row] = next(s for s in view.sections if s.id == "not-evaluated").updates
    assert row.decided_at.at == NOW - INTERVAL
    assert row.decisions == 7


def test_an_update_last_decided_before_the_window_keeps_its_history(store: Store) -> None:
    # Its series has not been listed for ten days: its history is older than the 7 days
    # the report reads at once, and is read for it alone.
    libfoo = stopped_for_a_while(store, NOW - timedelta(days=10))
    run = not_evaluated_run(store, NOW, {"not_evaluated": [missed(libfoo)]})
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    data = ReportInput.load(store, run)
    store.db.set_trace_callback(None)

    [item] = report_json.build_from(data)["not_evaluated"]

    last = item["last_known"]
    assert last["decided_at"] == (NOW - timedelta(days=10)).isoformat()
    assert [(h["action"], h["repeats"]) for h in last["history"]] == [
        ("wait", 1),
        ("advance", 1),
        ("stop", 1),
        ("keep-stopped", 4),
    ]
    assert last["history"][-1]["until"] == last["decided_at"]
    # One query of its own, not one per decision nor a read of the whole history.
    own = [s for s in statements if "source = 'libfoo'" in s]
    assert len(own) == 1, statements
    [row] = next(s for s in report_view.build(data).sections if s.id == "not-evaluated").updates
    assert (row.state, row.decided_at.at, row.decisions) == (
        "stopped",
        NOW - timedelta(days=10),
        7,
    )


def test_the_warning_counts_them_and_lists_only_the_runs_own_failures(
    store: Store, incomplete_run: RunRecord
) -> None:
    listing = "jammy: cannot list -updates: 500 for https://admin:s3cret@lp.example/"
    summary = {**incomplete_run.summary, "failures": [*incomplete_run.summary["failures"], listing]}
    run = not_evaluated_run(store, NOW, summary)
    data = ReportInput.load(store, run)

    view = report_view.build(data)

    # hello's own failure shows on its row; the series' is the run's and stays on top.
    hidden = "jammy: cannot list -updates: 500 for https://[hidden]@lp.example/"
    assert view.failures == (hidden,)
    assert report_json.build_from(data)["failures"] == [
        "noble hello 2.10-3ubuntu0.1: cannot read from Launchpad: 500 (ask [address hidden])",
        hidden,
    ]
    html = report_html.render(view)
    top = html[html.index('id="incomplete"') : html.index('class="counts"')]
    assert "it could not evaluate 2 updates" in top
    assert 'href="#not-evaluated"' in top
    assert "jammy: cannot list -updates" in top and "hello 2.10-3ubuntu0.1" not in top
    assert "newpkg 1.0-1ubuntu0.1" in top  # never decided: no row, so named here
    assert "s3cret" not in html and "example.com" not in html


def test_with_only_never_decided_updates_the_chip_points_at_the_warning(store: Store) -> None:
    run = not_evaluated_run(store, NOW, {"failures": [], "not_evaluated": [NEVER]})

    view = report_view.build(ReportInput.load(store, run))

    assert "not-evaluated" not in [s.id for s in view.sections]
    assert (view.counts["not-evaluated"], view.not_evaluated_link) == (1, "#incomplete")
    html = report_html.render(view)
    assert 'href="#incomplete"' in html and 'href="#not-evaluated"' not in html
    assert "it could not evaluate 1 update." in html
