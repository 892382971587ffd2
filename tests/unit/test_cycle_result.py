"""What a run records of itself: `CycleResult.summary`, stored in `runs.summary`."""

from __future__ import annotations

import json
from datetime import timedelta

from phased_updater.cycle import CycleResult, Outcome
from phased_updater.errors import EXIT_INCOMPLETE, EXIT_OK
from phased_updater.model import CrashCheck, NotEvaluated
from phased_updater.overrides import Overrides
from phased_updater.policy import decide
from tests.unit.factories import T0, update

INTERVAL = timedelta(hours=6)


def outcome(source: str) -> Outcome:
    u = update(source=source)
    return Outcome(u, decide(u, CrashCheck(), Overrides(), None, T0, 10, INTERVAL), True)


def test_a_complete_run_has_nothing_not_evaluated() -> None:
    result = CycleResult(1, outcomes=[outcome("foo")])

    summary = result.summary()

    assert summary == {
        "updates": 1,
        "series": ["jammy"],
        "states": {"phasing": 1},
        "failures": [],
        "not_evaluated": [],
    }
    assert result.exit_status == EXIT_OK


def test_what_a_run_could_not_evaluate_is_in_its_summary_beside_its_failures() -> None:
    listing = "noble: cannot list -updates: HTTP Error 500"
    result = CycleResult(
        1,
        outcomes=[outcome("foo")],
        failures=["jammy bar 1.0-1ubuntu0.1: cannot read from Launchpad: timed out", listing],
        not_evaluated=[
            NotEvaluated("jammy", "bar", "1.0-1ubuntu0.1", "cannot read from Launchpad: timed out"),
            NotEvaluated("noble", "hello", "2.10-3ubuntu0.1", listing),
        ],
    )

    # As the store keeps it: JSON, read back by the report.
    summary = json.loads(json.dumps(result.summary()))

    assert summary["failures"] == result.failures  # unchanged: other readers rely on it
    assert summary["not_evaluated"] == [
        {
            "series": "jammy",
            "source": "bar",
            "version": "1.0-1ubuntu0.1",
            "error": "cannot read from Launchpad: timed out",
        },
        {"series": "noble", "source": "hello", "version": "2.10-3ubuntu0.1", "error": listing},
    ]
    assert [NotEvaluated.from_json(n) for n in summary["not_evaluated"]] == result.not_evaluated
    assert (summary["updates"], summary["states"]) == (1, {"phasing": 1})
    assert result.exit_status == EXIT_INCOMPLETE
