"""The state database's schema: its versions, the migration to each, and the checks on open.

A database is built by applying every migration in turn, from the first schema on,
so a new database and one migrated from an old release are the same by construction.
Opening refuses, with one line naming the file and the fault, what this release must
not touch: a newer schema (written by a later phased-updater), a database that lacks a
table or has a column its version does not define (another program's, or damaged),
and a state file that exists but is empty (truncated). Nothing is ever "fixed" by
recreating a table: that would lose history, and with it the stops it records.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from phased_updater.errors import UsageError

# Version 1: runs and decisions, the append-only history. (The mail outbox existed from
# then on only once the mail session first ran: version 3 makes it certain.)
_VERSION_1 = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT,
    dry_run INTEGER NOT NULL,
    step INTEGER NOT NULL,
    interval_seconds INTEGER NOT NULL,
    exit_status INTEGER,
    summary TEXT
);
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    at TEXT NOT NULL,
    series TEXT NOT NULL,
    source TEXT NOT NULL,
    version TEXT NOT NULL,
    previous_version TEXT,
    date_published TEXT NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    from_percentage INTEGER NOT NULL,
    to_percentage INTEGER NOT NULL,
    highest_percentage INTEGER NOT NULL,
    since TEXT NOT NULL,
    next_step_at TEXT,
    reason TEXT NOT NULL,
    problems TEXT NOT NULL,
    overrides_applied TEXT NOT NULL,
    applied INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX decisions_by_update ON decisions(series, source, version, id);
CREATE INDEX decisions_by_run ON decisions(run_id);
CREATE TRIGGER decisions_never_updated BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decision history is append-only'); END;
CREATE TRIGGER decisions_never_deleted BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decision history is append-only'); END;
"""

# Version 2: last_reads, a cache (not history) of what the last run read from Launchpad.
_VERSION_2 = """
CREATE TABLE last_reads (
    series TEXT NOT NULL,
    source TEXT NOT NULL,
    version TEXT NOT NULL,
    read_at TEXT NOT NULL,
    update_json TEXT NOT NULL,
    PRIMARY KEY (series, source, version)
);
"""

# Version 3: who stopped what. Each decision carries the standing it leaves the next
# run (the stop in force and its problems, acknowledgements) and the person behind
# it; each run the Launchpad account it acted as; `manual_actions` keeps every halt
# and resume with who and why; `tracked` remembers every update seen until it
# completes or leaves -updates (with its source publication as a listing last gave it,
# so that reading it again costs one request), and `series_listings` when each series
# was last listed, so that only new publications need a dated listing. The outbox, which a
# version 1 or 2 database has only once mail ran, is made certain.
_VERSION_3 = """
ALTER TABLE decisions ADD COLUMN standing TEXT;
ALTER TABLE decisions ADD COLUMN decided_by TEXT;
ALTER TABLE runs ADD COLUMN account TEXT;
CREATE TABLE manual_actions (
    id INTEGER PRIMARY KEY,
    series TEXT NOT NULL,
    source TEXT NOT NULL,
    version TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('halt', 'resume')),
    decided_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX manual_actions_by_update ON manual_actions(series, source, version, id);
CREATE TABLE tracked (
    series TEXT NOT NULL,
    source TEXT NOT NULL,
    version TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    done_at TEXT,
    done_reason TEXT,
    listing TEXT,
    PRIMARY KEY (series, source, version)
);
CREATE TABLE series_listings (
    series TEXT PRIMARY KEY,
    listed_at TEXT NOT NULL
);
INSERT INTO tracked (series, source, version, first_seen, done_at, done_reason)
SELECT d.series, d.source, d.version, span.at,
       CASE WHEN d.state = 'complete' THEN d.at END,
       CASE WHEN d.state = 'complete' THEN 'fully phased' END
FROM decisions d
JOIN (SELECT MAX(id) AS id, MIN(at) AS at FROM decisions
      GROUP BY series, source, version) span ON d.id = span.id;
"""

# Version 4: the pace of each decision (its speed class, step, interval and phasing
# group, as JSON) and the freeze windows each run was made under (a JSON list), so
# that the report shows each update's class and forecasts with its own pace.
_VERSION_4 = """
ALTER TABLE decisions ADD COLUMN pace TEXT;
ALTER TABLE runs ADD COLUMN freeze_windows TEXT;
"""

# What makes two decisions of one update "the same": a run of them in a row is one
# fold (a year of "still stopped" is one line of the report, not 1,460). `IS`: two
# NULL errors are the same error.
FOLD_COLUMNS = (
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

# Version 5: `folds`, each run of identical decisions of one update in a row (its
# first decision, how many, its last), kept as decisions are recorded so that the
# report reads a year of history as thousands of folds, not a hundred thousand rows.
# It is derived from `decisions`, which stay append-only: a fold only ever grows.
# The migration folds the history already there. A decision starts a fold when it is
# its update's first or differs from the one before it (found through the
# decisions_by_update index: on SQLite 3.40, LAG() of the nine columns over the
# update's window took 2.7 times as long) in any of FOLD_COLUMNS; each later one
# belongs to the latest start before it.
_SAME_AS_PREVIOUS = " AND ".join(f"previous.{c} IS decision.{c}" for c in FOLD_COLUMNS)
_VERSION_5 = f"""
CREATE TABLE folds (
    first_id INTEGER PRIMARY KEY REFERENCES decisions(id),
    series TEXT NOT NULL,
    source TEXT NOT NULL,
    version TEXT NOT NULL,
    repeats INTEGER NOT NULL,
    last_id INTEGER NOT NULL REFERENCES decisions(id),
    last_at TEXT NOT NULL
);
CREATE INDEX folds_by_update ON folds(series, source, version, first_id);
WITH marked AS (
    SELECT id, series, source, version,
        CASE WHEN NOT EXISTS (
            SELECT 1 FROM decisions AS previous
            WHERE previous.id = (
                SELECT MAX(earlier.id) FROM decisions AS earlier
                WHERE earlier.series = decision.series AND earlier.source = decision.source
                    AND earlier.version = decision.version AND earlier.id < decision.id
            ) AND {_SAME_AS_PREVIOUS}
        ) THEN id END AS start_id
    FROM decisions AS decision
),
numbered AS (
    SELECT id, series, source, version, MAX(start_id) OVER (
        PARTITION BY series, source, version ORDER BY id ROWS UNBOUNDED PRECEDING
    ) AS first_id
    FROM marked
),
grouped AS (
    SELECT first_id, series, source, version, COUNT(*) AS repeats, MAX(id) AS last_id
    FROM numbered GROUP BY first_id
)
INSERT INTO folds (first_id, series, source, version, repeats, last_id, last_at)
SELECT grouped.first_id, grouped.series, grouped.source, grouped.version, grouped.repeats,
    grouped.last_id, last.at
FROM grouped JOIN decisions AS last ON last.id = grouped.last_id;
"""  # noqa: S608 - fixed text only

_MAIL_OUTBOX = """
CREATE TABLE IF NOT EXISTS mail_outbox (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    series TEXT NOT NULL,
    source TEXT NOT NULL,
    version TEXT NOT NULL,
    signer_link TEXT,
    creator_link TEXT,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    recipients TEXT,
    notes TEXT NOT NULL DEFAULT '[]',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS mail_outbox_by_status ON mail_outbox(status, id);
"""

# MIGRATIONS[n] takes a database from version n - 1 to version n.
MIGRATIONS: dict[int, str] = {
    1: _VERSION_1,
    2: _VERSION_2,
    3: _MAIL_OUTBOX + _VERSION_3,
    4: _VERSION_4,
    5: _VERSION_5,
}
SCHEMA_VERSION = max(MIGRATIONS)


class StoreError(UsageError):
    """The state database cannot be used as it is; the message names the file and why."""


def _statements(script: str) -> Iterable[str]:
    # Triggers contain ";" inside BEGIN ... END: split only at a ";" ending a line
    # that is not inside one.
    statement: list[str] = []
    inside_trigger = False
    for line in script.strip().splitlines():
        statement.append(line)
        if line.startswith("CREATE TRIGGER"):
            inside_trigger = True
        if line.rstrip().endswith(";") and (not inside_trigger or line.startswith("BEGIN")):
            inside_trigger = False
            yield "\n".join(statement)
            statement = []
    if statement:
        yield "\n".join(statement)


def _columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}


def _tables(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {row[0] for row in rows}


def expected_columns(version: int) -> dict[str, set[str]]:
    """Every table of a database at `version` and its columns, by building one in memory."""
    memory = sqlite3.connect(":memory:")
    try:
        for step in range(1, version + 1):
            for statement in _statements(MIGRATIONS[step]):
                memory.execute(statement)
        return {table: _columns(memory, table) for table in _tables(memory)}
    finally:
        memory.close()


def check_file(path: Path) -> None:
    """Before opening: a state file that exists but is empty is a truncated database,
    never a new one (SQLite would take it for one, and write to it)."""
    try:
        empty = path.stat().st_size == 0
    except FileNotFoundError:
        return
    if empty:
        raise StoreError(
            f"state database {str(path)!r}: the file is empty, not a database (truncated?);"
            " move it away to start a new history"
        )


def check_and_migrate(connection: sqlite3.Connection, path: Path) -> None:
    """Bring the database at `path` to SCHEMA_VERSION, or refuse with StoreError.

    Each migration runs in its own transaction with the version bump, so a crash
    mid-way leaves the database at one version or the next.
    """
    where = f"state database {str(path)!r}"
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    tables = _tables(connection)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{where}: schema version {version} is newer than this phased-updater's"
            f" ({SCHEMA_VERSION}); upgrade phased-updater, never downgrade a database"
        )
    if version == 0 and tables:
        raise StoreError(f"{where}: not a phased-updater state database (no schema version)")
    if version:
        _check(connection, where, version)
    for step in range(version + 1, SCHEMA_VERSION + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[step]):
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version={step}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    # A database that can be read but not written (a read-only file, a journal that
    # cannot be made) fails here, on open, rather than at a run's first record.
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def check_current(connection: sqlite3.Connection, path: Path) -> None:
    """For a reader that may not write: the database is at this release's schema."""
    where = f"state database {str(path)!r}"
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"{where}: schema version {version}, not {SCHEMA_VERSION}; a run of this"
            " phased-updater (`phased-updater run`) migrates it"
        )
    _check(connection, where, version)


def _check(connection: sqlite3.Connection, where: str, version: int) -> None:
    """The tables and columns of `version` are all there, and nothing else is in them."""
    expected = expected_columns(version)
    found = _tables(connection)
    missing = sorted(set(expected) - found)
    if missing:
        raise StoreError(
            f"{where}: table {', '.join(missing)} is missing from a version {version}"
            " database; restore it from a backup"
        )
    for table, columns in expected.items():
        if table not in found:
            continue
        actual = _columns(connection, table)
        unknown = sorted(actual - columns)
        lacking = sorted(columns - actual)
        if unknown or lacking:
            detail = "; ".join(
                part
                for part in (
                    f"unknown column(s) {', '.join(unknown)}" if unknown else "",
                    f"missing column(s) {', '.join(lacking)}" if lacking else "",
                )
                if part
            )
            raise StoreError(f"{where}: table {table} is not this version's: {detail}")
