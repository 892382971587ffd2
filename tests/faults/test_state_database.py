"""The state database's schema: explicit migrations, and what is refused on open.

A database of another schema is never "fixed": a newer version, a missing table, an
unknown column or an empty file is refused with one line naming the file and the
fault, and nothing is done (exit 2). An older database is migrated, and keeps its
history.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from phased_updater import schema
from phased_updater.cli import main
from phased_updater.model import CrashCheck, Pace
from phased_updater.overrides import Overrides
from phased_updater.policy import decide
from phased_updater.schema import MIGRATIONS, SCHEMA_VERSION, StoreError
from phased_updater.store import Store
from tests.unit.factories import T0, update

V2_STOPPED = {
    "run_id": 1,
    "at": "2026-11-01T06:00:00+00:00",
    "series": "jammy",
    "source": "foo",
    "version": "1.2-3ubuntu0.1",
    "previous_version": "1.2-3",
    "date_published": "2026-10-30T06:00:00+00:00",
    "action": "stop",
    "state": "stopped",
    "from_percentage": 30,
    "to_percentage": 0,
    "highest_percentage": 30,
    "since": "2026-11-01T06:00:00+00:00",
    "next_step_at": None,
    "reason": "1 problem(s) not overridden (new-crash)",
    "problems": json.dumps(
        [{"kind": "new-crash", "url": "https://errors.ubuntu.com/problem/1", "overridden": False}]
    ),
    "overrides_applied": "[]",
    "applied": 1,
    "error": None,
}


def version_2_database(path: Path) -> None:
    """A database as the previous release left it: schema 2, a run and a stop."""
    database = sqlite3.connect(path, isolation_level=None)
    for step in (1, 2):
        for statement in schema._statements(MIGRATIONS[step]):
            database.execute(statement)
    database.execute("PRAGMA user_version=2")
    database.execute(
        "INSERT INTO runs (id, started, finished, dry_run, step, interval_seconds, exit_status,"
        " summary) VALUES (1, ?, ?, 0, 10, 21600, 0, '{}')",
        (V2_STOPPED["at"], V2_STOPPED["at"]),
    )
    columns = ", ".join(V2_STOPPED)
    marks = ", ".join("?" * len(V2_STOPPED))
    database.execute(
        f"INSERT INTO decisions ({columns}) VALUES ({marks})",  # noqa: S608 - fixed test data
        tuple(V2_STOPPED.values()),
    )
    database.close()


def test_a_new_database_has_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    Store.open(path).close()
    database = sqlite3.connect(path)
    assert database.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    tables = {r[0] for r in database.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert set(schema.expected_columns(SCHEMA_VERSION)) == tables
    assert {"mail_outbox", "manual_actions", "tracked", "series_listings"} <= tables


def test_a_version_2_database_is_migrated_and_keeps_its_history_and_its_stops(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite3"
    version_2_database(path)
    store = Store.open(path)
    [record] = store.history("jammy", "foo", "1.2-3ubuntu0.1")
    assert (record.action, record.state) == ("stop", "stopped")
    # The stop the old history records is the one in force, with its problem.
    [standing] = store.standings([record.key]).values()
    assert standing.stop is not None and standing.stop.from_percentage == 30
    assert [p.url for p in standing.stop.problems] == ["https://errors.ubuntu.com/problem/1"]
    assert store.in_flight("jammy") == [record.key]  # remembered, however old
    store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 5
    Store.open(path).close()  # opening it again is a no-op


def version_3_database(path: Path) -> None:
    """A database as issue 19's release left it: schema 3, a run and a decision."""
    version_2_database(path)
    database = sqlite3.connect(path, isolation_level=None)
    for statement in schema._statements(MIGRATIONS[3]):
        database.execute(statement)
    database.execute("PRAGMA user_version=3")
    database.close()


def test_a_version_3_database_is_migrated_to_record_paces_and_freeze_windows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite3"
    version_3_database(path)
    store = Store.open(path)
    # The decision recorded before version 4 has no pace; the run no freeze windows.
    [record] = store.history("jammy", "foo", "1.2-3ubuntu0.1")
    assert record.pace is None
    run = store.run(1)
    assert run is not None and run.freeze_windows == ()
    # New records carry both.
    run_id = store.start_run(
        T0, False, 10, timedelta(hours=6), freeze_windows=["Fri 00:00-Mon 12:00"]
    )
    decision = decide(update(), CrashCheck(), Overrides(), None, T0, 1, timedelta(hours=6))
    pace = Pace("slow", 1, timedelta(hours=6), "boot")
    store.record(run_id, T0, update(), replace(decision, pace=pace), applied=True)
    assert store.history("jammy", "foo", "1.2-3ubuntu0.1")[-1].pace == pace
    run = store.run(run_id)
    assert run is not None and run.freeze_windows == ("Fri 00:00-Mon 12:00",)
    store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 5


def test_a_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    Store.open(path).close()
    sqlite3.connect(path).execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="schema version 6 is newer than this phased-updater's"):
        Store.open(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 6


def test_a_missing_table_is_an_error_not_a_new_empty_one(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    Store.open(path).close()
    database = sqlite3.connect(path)
    database.execute("DROP TRIGGER decisions_never_deleted")
    database.execute("DROP TABLE mail_outbox")
    database.commit()
    with pytest.raises(StoreError, match="table mail_outbox is missing"):
        Store.open(path)


def test_a_column_this_version_does_not_define_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    Store.open(path).close()
    database = sqlite3.connect(path)
    database.execute("ALTER TABLE decisions ADD COLUMN extra TEXT NOT NULL DEFAULT 'x'")
    database.commit()
    with pytest.raises(StoreError, match="table decisions is not this version's: unknown column"):
        Store.open(path)


def test_an_empty_state_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"")
    with pytest.raises(StoreError, match="the file is empty"):
        Store.open(path)
    assert path.read_bytes() == b""


def test_a_run_on_a_refused_database_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"")
    status = main(["run", "--state", str(path), "--launchpad", "http://127.0.0.1:9/", "--now",
                   T0.isoformat(), "--dry-run"])  # fmt: skip
    assert status == 2
    # The one line besides the log's (its records start with their time).
    [line] = [e for e in capsys.readouterr().err.splitlines() if e.startswith("phased-updater ")]
    assert line.startswith("phased-updater run: state database ")
    assert "the file is empty" in line
