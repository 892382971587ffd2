"""A run that could not evaluate some updates says so, and shows each one's last state.

The cycle lists them in the run's summary (`not_evaluated`); the report finds their
latest decisions from earlier runs, so an update Launchpad failed to answer for does
not silently drop out of the page the SRU team works from.
"""

from __future__ import annotations

from typing import Any

import pytest

from phased_updater import report_html, report_json, report_view
from phased_updater.model import CrashCheck
from phased_updater.report_json import ReportInput
from phased_updater.store import RunRecord, Store
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
    return report_json.build(store, run)


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
    assert report["counts"]["phasing"] == 0  # hello counts as not evaluated, not as phasing
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
    assert view.counts["phasing"] == 0

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
