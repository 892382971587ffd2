"""What a run records of itself: `CycleResult.summary`, stored in `runs.summary`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from phased_updater.cycle import CycleResult, Outcome
from phased_updater.errors import EXIT_INCOMPLETE, EXIT_OK
from phased_updater.model import CrashCheck, NotEvaluated
from phased_updater.overrides import Overrides
from phased_updater.policy import decide
from phased_updater.report.input import Binary, Person, Upload
from tests.unit.factories import T0, binary, update

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


def test_uploads_keep_who_signed_and_created_each_update_and_its_debs_after_the_run() -> None:
    u = replace(
        update(
            binary("libfoo1", 10, arch="amd64", created=T0 - INTERVAL),
            binary("libfoo1", 10, arch="arm64", created=T0 - INTERVAL),
            binary("libfoo1-dbgsym", 10, arch="amd64", debug=True),
            source="foo",
        ),
        signer_link="http://lp.test/devel/~sponsor",
        creator_link="http://lp.test/devel/~uploader",
    )
    decision = decide(u, CrashCheck(), Overrides(), None, T0, 10, INTERVAL)
    written = CycleResult(1, outcomes=[Outcome(u, decision, True)])
    failed = CycleResult(1, outcomes=[Outcome(u, decision, False, "write failed")])

    # Through the text, as the store keeps it and the report reads it.
    kept = json.loads(json.dumps(written.uploads()))
    upload = Upload.from_json(kept[0])

    assert decision.to_percentage == 20
    assert kept[0]["series"] == "jammy"
    assert upload == Upload(
        signer=Person("~sponsor", "http://lp.test/~sponsor"),
        creator=Person("~uploader", "http://lp.test/~uploader"),
        # The ddeb is not apt's to phase; the written debs are at the decision's level.
        binaries=(Binary("libfoo1", "amd64", 20), Binary("libfoo1", "arm64", 20)),
    )
    not_written = Upload.from_json(failed.uploads()[0])
    assert not_written is not None
    assert {b.percentage for b in not_written.binaries} == {10}


def test_an_upload_the_report_cannot_read_is_none() -> None:
    assert Upload.from_json({"binaries": [["foo", "amd64"]]}) is None
    assert Upload.from_json({"binaries": "foo"}) is None
