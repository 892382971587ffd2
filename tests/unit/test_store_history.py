"""`Store.all_history` folds in SQL; these tests hold it to a plain Python fold of the rows."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from phased_updater.model import Action, Decision, Problem, ProblemKind, State, UpdateKey
from phased_updater.store import Store
from tests.unit.factories import T0, update

INTERVAL = timedelta(hours=6)
CRASH = Problem(ProblemKind.NEW_CRASH, "https://errors.ubuntu.com/problem/1")
OTHER_CRASH = Problem(ProblemKind.NEW_CRASH, "https://errors.ubuntu.com/problem/2")
# What makes two decisions of an update "the same" (as the report shows them).
SAME_COLUMNS = (
    "action",
    "state",
    "from_percentage",
    "to_percentage",
    "reason",
    "problems",
    "overrides_applied",
    "applied",
    "error",
)
Fold = tuple[int, int, str]  # first id, repeats, `at` of the last


def stopped(reason: str = "still stopped", problems: tuple[Problem, ...] = (CRASH,)) -> Decision:
    return Decision(Action.KEEP_STOPPED, State.STOPPED, 0, 0, 50, T0, None, reason, problems)


def waiting() -> Decision:
    return Decision(Action.WAIT, State.PHASING, 10, 10, 10, T0, T0 + INTERVAL, "waiting")


# One update's decisions, a run apart: (decision, applied, error).
Step = tuple[Decision, bool, str | None]
FOO: list[Step] = [
    (waiting(), True, None),
    (waiting(), True, None),  # folds with the first: both errors NULL
    (waiting(), False, "Launchpad said 503"),
    (waiting(), False, "Launchpad said 503"),
    (waiting(), False, ""),  # an empty error is not a NULL one
    (waiting(), True, None),
    (stopped(), True, None),
    (stopped(), True, None),
    (stopped(), True, None),
    (stopped(reason="still stopped, crash rising"), True, None),  # breaks the run...
    (stopped(), True, None),  # ...which then resumes: a fold of its own
    (stopped(), True, None),
    (stopped(problems=(CRASH, OTHER_CRASH)), True, None),
    (stopped(problems=(CRASH, OTHER_CRASH)), True, None),
]
# Decided in the same runs, each decision the one FOO made a run before: a fold must
# never reach from one update into the other.
BAR: list[Step] = FOO[1:9]
# Decided on only long ago: `active_since` leaves it out.
OLD: list[Step] = [(stopped(), True, None)] * 3


OLD_START = T0 - timedelta(days=30)
OLD_LAST = OLD_START + (len(OLD) - 1) * INTERVAL


def record_history(store: Store) -> None:
    """Record OLD from OLD_START, then FOO and BAR interleaved from T0, a run apart."""
    at = OLD_START
    for decision, applied, error in OLD:
        run = store.start_run(at, False, 10, INTERVAL)
        store.record(run, at, update(source="old"), decision, applied=applied, error=error)
        at += INTERVAL
    at = T0
    for index, (decision, applied, error) in enumerate(FOO):
        run = store.start_run(at, False, 10, INTERVAL)
        store.record(run, at, update(source="foo"), decision, applied=applied, error=error)
        if index < len(BAR):
            bar_decision, bar_applied, bar_error = BAR[index]
            bar = update(source="bar")
            store.record(run, at, bar, bar_decision, applied=bar_applied, error=bar_error)
        at += INTERVAL


def reference_folds(
    db: sqlite3.Connection, active_since: datetime | None
) -> dict[UpdateKey, list[Fold]]:
    """The folding spelled out: each update's rows in id order, a run of equal rows as one."""
    db.row_factory = sqlite3.Row
    rows = db.execute("SELECT * FROM decisions ORDER BY id").fetchall()
    by_update: dict[UpdateKey, list[sqlite3.Row]] = {}
    for row in rows:
        by_update.setdefault(UpdateKey(row["series"], row["source"], row["version"]), []).append(
            row
        )
    folds: dict[UpdateKey, list[Fold]] = {}
    for key, history in by_update.items():
        if active_since is not None and all(
            datetime.fromisoformat(row["at"]) < active_since for row in history
        ):
            continue
        folded: list[Fold] = []
        previous: sqlite3.Row | None = None
        for row in history:
            if previous is not None and all(row[c] == previous[c] for c in SAME_COLUMNS):
                first_id, repeats, _ = folded[-1]
                folded[-1] = (first_id, repeats + 1, row["at"])
            else:
                folded.append((row["id"], 1, row["at"]))
            previous = row
        folds[key] = folded
    return folds


@pytest.mark.parametrize(
    "active_since",
    # Everything; FOO's and BAR's whole histories (from T0) but not OLD; OLD too, its
    # last decision exactly at `active_since`.
    [None, T0 + 3 * INTERVAL, OLD_LAST],
    ids=["everything", "active-since", "active-since-exactly"],
)
def test_all_history_folds_as_a_plain_python_fold_does(
    tmp_path: Path, active_since: datetime | None
) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    record_history(store)

    history = store.all_history(active_since)

    expected = reference_folds(store.db, active_since)
    assert list(history) == list(expected)  # the updates in the order first decided on
    assert len(expected) == (2 if active_since == T0 + 3 * INTERVAL else 3)
    got = {
        key: [(r.id, r.repeats, r.until.isoformat()) for r in records]
        for key, records in history.items()
    }
    assert got == expected
    # The first row of each fold, whole, as `history` reads it, with its repeats.
    for key, records in history.items():
        every = {record.id: record for record in store.history(*key)}
        for record in records:
            last_at = record.last_at if record.repeats > 1 else None
            assert record == replace(every[record.id], repeats=record.repeats, last_at=last_at)


def test_the_folds_are_those_the_history_was_written_to_have(tmp_path: Path) -> None:
    # Pins the reference itself, so that the comparison above means something.
    store = Store.open(tmp_path / "state.sqlite3")
    record_history(store)
    history = store.all_history()
    foo = next(records for key, records in history.items() if key.source == "foo")
    assert [(r.action, r.repeats, r.error) for r in foo] == [
        ("wait", 2, None),
        ("wait", 2, "Launchpad said 503"),
        ("wait", 1, ""),
        ("wait", 1, None),
        ("keep-stopped", 3, None),
        ("keep-stopped", 1, None),  # the different reason
        ("keep-stopped", 2, None),  # the run resumed, not folded across the break
        ("keep-stopped", 2, None),  # two crashes
    ]
    assert [r.reason for r in foo[4:7]] == [
        "still stopped",
        "still stopped, crash rising",
        "still stopped",
    ]
    assert foo[0].last_at == foo[0].at + INTERVAL
    assert foo[2].last_at is None
    bar = next(records for key, records in history.items() if key.source == "bar")
    assert [(r.action, r.repeats) for r in bar] == [
        ("wait", 1),
        ("wait", 2),
        ("wait", 1),
        ("wait", 1),
        ("keep-stopped", 3),
    ]
    assert [key.source for key in history] == ["old", "foo", "bar"]


def test_a_version_4_history_is_folded_by_the_migration_as_recording_folds_it(
    tmp_path: Path,
) -> None:
    # Schema 5 keeps the folds as decisions are recorded; a database from before it
    # has only the decisions, and the migration folds them. The same history, taken
    # back to version 4 (no folds table), must come out of both ways alike.
    path = tmp_path / "state.sqlite3"
    store = Store.open(path)
    record_history(store)
    recorded = store.all_history()
    store.close()
    database = sqlite3.connect(path, isolation_level=None)
    database.execute("DROP TABLE folds")
    database.execute("PRAGMA user_version=4")
    database.close()

    store = Store.open(path)
    migrated = store.all_history()

    assert migrated == recorded
    assert {
        key: [(r.id, r.repeats, r.until.isoformat()) for r in records]
        for key, records in migrated.items()
    } == reference_folds(store.db, None)
    # Later decisions extend the migrated folds: FOO's last one is its fourth
    # repeat, and a different one starts a fold of its own.
    at = T0 + len(FOO) * INTERVAL
    foo = update(source="foo")
    for decision in (stopped(problems=(CRASH, OTHER_CRASH)), waiting()):
        run = store.start_run(at, False, 10, INTERVAL)
        store.record(run, at, foo, decision, applied=True)
        at += INTERVAL
    folds = next(records for key, records in store.all_history().items() if key.source == "foo")
    assert [(r.action, r.repeats) for r in folds[-2:]] == [("keep-stopped", 3), ("wait", 1)]


def test_a_decision_whose_transaction_fails_is_in_no_fold(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    record_history(store)
    before = store.all_history()
    run = store.start_run(T0 + len(FOO) * INTERVAL, False, 10, INTERVAL)
    decision, applied, error = FOO[-1]

    with pytest.raises(RuntimeError), store.transaction() as db:
        store.record(run, T0, update(source="foo"), decision, applied=applied, connection=db)
        raise RuntimeError("the run dies before its transaction commits")

    assert store.all_history() == before  # nothing half-counted
    # ...and the decision recorded next folds as if the failed one had never been.
    store.record(run, T0, update(source="foo"), decision, applied=applied, error=error)
    foo = next(records for key, records in store.all_history().items() if key.source == "foo")
    assert foo[-1].repeats == 3
