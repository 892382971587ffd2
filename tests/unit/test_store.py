from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from phased_updater.model import CrashCheck, Problem, ProblemKind, Series, Update
from phased_updater.overrides import Overrides
from phased_updater.policy import decide
from phased_updater.store import Store
from tests.unit.factories import T0, binary, update

CRASH = Problem(ProblemKind.NEW_CRASH, "https://errors.ubuntu.com/problem/1", "<script>x</script>")


def test_decisions_round_trip_with_their_evidence(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    u = update(binary(percentage=30))
    decision = decide(u, CrashCheck((CRASH,)), Overrides(), None, T0, 10, timedelta(hours=6))
    run_id = store.start_run(T0, False, 10, timedelta(hours=6))
    store.record(run_id, T0, u, decision, applied=True)
    store.finish_run(run_id, T0, 0, {"updates": 1})
    [record] = store.decisions_for_run(run_id)
    assert (record.action, record.state, record.from_percentage, record.to_percentage) == (
        "stop",
        "stopped",
        30,
        0,
    )
    assert record.problems == (CRASH,)
    assert store.latest_run() is not None
    assert store.history("jammy", "foo", "1.2-3ubuntu0.1") == [record]


def test_history_is_never_rewritten(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    u = update()
    decision = decide(u, CrashCheck(), Overrides(), None, T0, 10, timedelta(hours=6))
    run_id = store.start_run(T0, False, 10, timedelta(hours=6))
    store.record(run_id, T0, u, decision, applied=True)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("UPDATE decisions SET to_percentage = 100")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("DELETE FROM decisions")


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    u = update()
    decision = decide(u, CrashCheck(), Overrides(), None, T0, 10, timedelta(hours=6))
    run_id = store.start_run(T0, False, 10, timedelta(hours=6))
    with pytest.raises(RuntimeError), store.transaction() as connection:
        store.record(run_id, T0, u, decision, applied=True, connection=connection)
        raise RuntimeError("killed half-way")
    assert store.decisions_for_run(run_id) == []
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_recorded_previous_versions_come_from_the_latest_decision_that_has_one(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    run_id = store.start_run(T0, False, 10, timedelta(hours=6))

    def record(u: Update) -> None:
        decision = decide(u, CrashCheck(), Overrides(), None, T0, 10, timedelta(hours=6))
        store.record(run_id, T0, u, decision, applied=True)

    record(update(source="foo", previous="1.2-3"))
    record(update(source="foo", previous=None))  # a later run found none: keep the known one
    record(update(source="bar", previous=None))
    record(update(source="baz", previous="0.9-1"))

    found = store.recorded_previous_versions(
        [
            ("jammy", "foo", "1.2-3ubuntu0.1"),
            ("jammy", "bar", "1.2-3ubuntu0.1"),
            ("jammy", "never", "1.0-1"),
            ("noble", "baz", "1.2-3ubuntu0.1"),
        ]
    )

    assert found == {("jammy", "foo", "1.2-3ubuntu0.1"): "1.2-3"}


def test_a_kept_read_round_trips_and_is_reused_only_inside_its_window(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    u = update(binary(percentage=30), binary(name="foo-dbgsym", percentage=30, debug=True))
    key = ("jammy", "foo", "1.2-3ubuntu0.1")
    with store.transaction() as connection:
        store.remember_read(u, T0, connection)

    assert store.last_reads([key], T0 - timedelta(hours=6), T0 + timedelta(hours=1)) == {key: u}
    # Not from the future (a replay), and not once a whole window has passed.
    assert store.last_reads([key], T0 - timedelta(hours=6), T0) == {}
    assert store.last_reads([key], T0, T0 + timedelta(hours=6)) == {}

    with store.transaction() as connection:
        store.forget_read(key, connection)
    assert store.last_reads([key], T0 - timedelta(hours=6), T0 + timedelta(hours=1)) == {}


def test_old_kept_reads_are_dropped(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    with store.transaction() as connection:
        store.remember_read(update(source="old"), T0 - timedelta(days=1), connection)
        store.remember_read(update(source="new"), T0, connection)
    assert store.forget_reads_before(T0 - timedelta(hours=12)) == 1
    window = (T0 - timedelta(days=2), T0 + timedelta(hours=1))
    keys = [("jammy", "old", "1.2-3ubuntu0.1"), ("jammy", "new", "1.2-3ubuntu0.1")]
    assert list(store.last_reads(keys, *window)) == [keys[1]]


def test_last_in_flight_is_what_the_last_finished_run_to_list_a_series_left_open(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    noble = Series("noble", "24.04", "http://lp.test/devel/ubuntu/noble")
    interval = timedelta(hours=6)

    def run(decided: list[Update], not_evaluated: list[str], *, finished: bool = True) -> int:
        run_id = store.start_run(T0, False, 10, interval)
        for u in decided:
            decision = decide(u, CrashCheck(), Overrides(), None, T0, 10, interval)
            store.record(run_id, T0, u, decision, applied=True)
        if finished:
            missed = [
                {"series": "jammy", "source": s, "version": "1.0-1", "error": "500"}
                for s in not_evaluated
            ]
            store.finish_run(run_id, T0, 1, {"not_evaluated": missed})
        return run_id

    # Run 1 lists both series: "done" completes (90% for a day), "missed" fails to read.
    done = update(binary(percentage=90, created=T0 - timedelta(days=1)), source="done")
    in_noble = replace(update(source="hello"), series=noble)
    first = run([update(source="foo"), done, in_noble], ["missed"])
    # Run 2 cannot list jammy (it says what it carried over); run 3 is killed part-way.
    second = run([in_noble], ["foo", "missed"])
    third = run([update(source="foo")], [], finished=False)
    assert [r.state for r in store.history("jammy", "done", "1.2-3ubuntu0.1")] == ["complete"]

    assert store.last_in_flight("jammy", third + 1) == [
        ("jammy", "foo", "1.2-3ubuntu0.1"),
        ("jammy", "missed", "1.0-1"),
    ]
    assert store.last_in_flight("noble", third + 1) == [("noble", "hello", "1.2-3ubuntu0.1")]
    assert store.last_in_flight("noble", second) == [("noble", "hello", "1.2-3ubuntu0.1")]
    assert store.last_in_flight("jammy", first) == []  # nothing before the first run
    assert store.last_in_flight("focal", third + 1) == []
