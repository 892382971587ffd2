from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from phased_updater.model import CrashCheck, Problem, ProblemKind, Update
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


def test_every_update_seen_is_tracked_until_it_is_done(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    keys = [("jammy", "foo", "1.0-1ubuntu0.1"), ("jammy", "bar", "2.0-1ubuntu0.1")]
    store.track([*keys, ("noble", "baz", "3.0-1ubuntu0.1")], T0)
    store.track(keys, T0 + timedelta(days=1))  # seen again: nothing changes
    assert store.in_flight("jammy") == sorted(keys)
    store.retire(keys[0], T0 + timedelta(days=2), "fully phased")
    assert store.in_flight("jammy") == [keys[1]]
    assert store.retired("jammy") == {keys[0]}
    assert [k.series for k in store.in_flight()] == ["jammy", "noble"]
    # A fresh database has listed nothing; a listing is remembered per series.
    assert store.last_listed("jammy") is None
    store.listed("jammy", T0)
    store.listed("jammy", T0 + timedelta(hours=6))
    assert store.last_listed("jammy") == T0 + timedelta(hours=6)


def test_a_halt_holds_until_a_later_resume_which_stays_on_record(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    key = ("jammy", "foo", "1.2-3ubuntu0.1")
    store.record_manual("halt", key, "sru-alice", "boot loop", T0)
    [(halt, resumed)] = store.manual([key]).values()
    assert halt is not None and (halt.by, halt.reason, halt.at) == ("sru-alice", "boot loop", T0)
    assert resumed is None
    store.record_manual("resume", key, "sru-bob", "fixed in -2", T0 + timedelta(hours=1))
    [(halt, resumed)] = store.manual([key]).values()
    assert halt is None
    assert resumed is not None and (resumed.by, resumed.reason) == ("sru-bob", "fixed in -2")
    assert store.manual([("jammy", "other", "1")]) == {}


def test_a_decision_keeps_the_stop_it_leaves_for_the_next_run(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    u = update(binary(percentage=30))
    decision = decide(u, CrashCheck((CRASH,)), Overrides(), None, T0, 10, timedelta(hours=6))
    run_id = store.start_run(T0, False, 10, timedelta(hours=6))
    store.record(run_id, T0, u, decision, applied=True)
    [standing] = store.standings([u.key]).values()
    assert standing.stop is not None
    assert (standing.stop.at, standing.stop.from_percentage) == (T0, 30)
    assert [p.url for p in standing.stop.problems] == [CRASH.url]
    assert standing.stop.problems[0].last_reported == T0


def test_the_phaser_account_is_the_last_one_a_run_knew(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    assert store.last_account() is None
    first = store.start_run(T0, False, 10, timedelta(hours=6))
    store.set_account(first, "https://api.launchpad.net/devel/~phasing-bot")
    store.start_run(T0 + timedelta(hours=6), True, 10, timedelta(hours=6))  # anonymous
    assert store.last_account() == "https://api.launchpad.net/devel/~phasing-bot"


def test_a_bulky_summary_key_is_kept_for_the_latest_run_only(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    runs = []
    for index in range(3):
        run_id = store.start_run(T0 + timedelta(hours=index), False, 10, timedelta(hours=6))
        store.finish_run(run_id, T0, 0, {"uploads": [{"source": "foo"}], "updates": 1})
        runs.append(run_id)

    assert store.forget_summary_key("uploads", runs[-1]) == 2
    assert store.forget_summary_key("uploads", runs[-1]) == 0

    summaries = [store.run(run_id).summary for run_id in runs]  # type: ignore[union-attr]
    assert summaries == [
        {"updates": 1},
        {"updates": 1},
        {"uploads": [{"source": "foo"}], "updates": 1},
    ]
    store.close()
