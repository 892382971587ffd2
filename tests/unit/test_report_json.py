"""phased-updates.json: the engine's contract, plus timestamps, evidence and history."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from typing import Any

import pytest

from phased_updater.model import Halt
from phased_updater.report import document as report_json
from phased_updater.store import RunRecord, Store
from tests.unit import report_db
from tests.unit.report_db import NOW

# The fields the engine's first report had: tools (the charm) read them.
CONTRACT_TOP = {"generated", "run", "dry_run", "step", "interval", "exit_status", "packages"}
CONTRACT_PACKAGE = {
    "series", "source", "version", "previous_version", "percentage", "state", "action",
    "reason", "date_published", "since", "next_step_at", "highest_percentage", "error",
    "problems", "history",
}  # fmt: skip
CONTRACT_HISTORY = {
    "at", "run", "action", "from", "to", "applied", "state", "reason", "error",
    "overrides_applied", "problems",
}  # fmt: skip


@pytest.fixture
def document(store: Store, last_run: RunRecord) -> dict[str, Any]:
    # Through the text, as a reader gets it.
    data: dict[str, Any] = json.loads(report_json.render(report_db.document(store, last_run)))
    return data


def package(document: dict[str, Any], source: str) -> dict[str, Any]:
    everything = document["packages"] + document["recently_completed"]
    entries: list[dict[str, Any]] = [p for p in everything if p["source"] == source]
    assert len(entries) == 1, source
    return entries[0]


def test_the_contract_fields_are_all_still_there(document: dict[str, Any]) -> None:
    assert set(document) >= CONTRACT_TOP
    for entry in document["packages"]:
        assert set(entry) >= CONTRACT_PACKAGE
        for step in entry["history"]:
            assert set(step) >= CONTRACT_HISTORY


def test_top_level_timestamps_counts_and_settings(document: dict[str, Any]) -> None:
    assert document["schema_version"] == report_json.SCHEMA_VERSION
    assert document["generated"] == document["finished"] == document["rendered"]
    assert document["generated"] == "2026-11-02T06:00:00+00:00"
    assert (document["interval"], document["interval_seconds"], document["step"]) == (
        "6h",
        21600,
        10,
    )
    assert document["counts"] == {
        "phasing": 4, "stopped": 2, "halted": 1, "held": 0, "unknown": 1, "complete": 2,
        "not_evaluated": 0,
    }  # fmt: skip
    # The run evaluated everything.
    assert (document["not_evaluated"], document["failures"]) == ([], [])


def test_packages_are_the_runs_and_recently_completed_the_history(document: dict[str, Any]) -> None:
    # tzdata completed in this run; bash 3 days ago; oldpkg 12 days ago is left out.
    assert sorted(p["source"] for p in document["packages"]) == [
        "cryptkit", "curl", "gizmo", "hello", "libfoo", "nettool", "tzdata", "vim", "zed",
    ]  # fmt: skip
    assert [p["source"] for p in document["recently_completed"]] == ["bash"]
    assert package(document, "bash")["decided_at"] == "2026-10-30T06:00:00+00:00"


def test_each_problem_carries_its_evidence(document: dict[str, Any]) -> None:
    [rate] = package(document, "cryptkit")["problems"]
    assert rate["kind"] == "increased-rate"
    assert rate["evidence"] == {
        "difference": 12.5, "previous_average": 3.25, "previous_period_in_days": 14,
    }  # fmt: skip
    [crash] = package(document, "libfoo")["problems"]
    assert crash["signature"] == report_db.HOSTILE_SIGNATURE
    assert crash["overridden"] is False
    [overridden] = package(document, "gizmo")["problems"]
    assert overridden["overridden"] is True
    assert package(document, "gizmo")["overrides_applied"] == [report_db.GIZMO_CRASH_URL]


def test_history_holds_every_decision_with_its_level(document: dict[str, Any]) -> None:
    libfoo = package(document, "libfoo")
    history = libfoo["history"]
    # Nine decisions; the four identical keep-stopped ones in a row are one entry.
    assert sum(h["repeats"] for h in history) == 9
    assert [h["percentage"] for h in history] == [10, 20, 30, 40, 0, 0]
    assert [(h["action"], h["repeats"]) for h in history[3:6]] == [
        ("advance", 1),
        ("stop", 1),
        ("keep-stopped", 4),
    ]
    assert history[-1]["until"] == libfoo["decided_at"] == "2026-11-02T06:00:00+00:00"
    assert all(h["at"] < later["at"] for h, later in itertools.pairwise(history))


def test_forecast_and_share_offered(document: dict[str, Any]) -> None:
    hello = package(document, "hello")
    assert hello["expected_completion"] == "2026-11-03T18:00:00+00:00"
    assert hello["share_offered"] == round(41 / 101, 4)
    libfoo = package(document, "libfoo")
    assert libfoo["expected_completion"] is None
    assert libfoo["share_offered"] == round(41 / 101, 4)  # reached 40% before the stop
    assert package(document, "tzdata")["share_offered"] == 1.0


def test_free_text_is_redacted(store: Store) -> None:
    sim = report_db.Simulation(store)
    sim.add(
        report_db.Plan(
            report_db.JAMMY, "zed", "1.0-1ubuntu1", "1.0-1", NOW - timedelta(hours=1),
            halt=Halt("jammy", "zed", "1.0-1ubuntu1", "ask me", "me@example.org", NOW),
        )
    )  # fmt: skip
    run = sim.run(NOW)
    text = report_json.render(report_db.document(store, run))
    assert "me@example.org" not in text
    assert "halted by [address hidden]: ask me" in text


def test_rerendering_later_keeps_generated_and_moves_rendered(
    store: Store, last_run: RunRecord
) -> None:
    later = NOW + timedelta(days=6)
    document = report_db.document(store, last_run, later)
    assert document["generated"] == "2026-11-02T06:00:00+00:00"
    assert document["rendered"] == "2026-11-08T06:00:00+00:00"
    assert document["recently_completed"] == []  # bash is 9 days old by then
