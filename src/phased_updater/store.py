"""The state database: the history of runs and decisions, and the mail outbox.

Every table is created here, on open; the outbox's rules are in `mail/outbox.py`.
History is append-only: a decision, once recorded, is never updated or deleted
(triggers enforce it). The database runs in WAL mode and every decision is written in
its own transaction, so a run killed at any point leaves every earlier decision intact
and nothing half-written.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from phased_updater.duration import format_timestamp, parse_timestamp
from phased_updater.model import Action, Decision, NotEvaluated, Problem, State, Update, UpdateKey

# 2 added last_reads, a cache (not history) of what the last run read from Launchpad.
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT,
    dry_run INTEGER NOT NULL,
    step INTEGER NOT NULL,
    interval_seconds INTEGER NOT NULL,
    exit_status INTEGER,
    summary TEXT
);
CREATE TABLE IF NOT EXISTS decisions (
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
CREATE INDEX IF NOT EXISTS decisions_by_update ON decisions(series, source, version, id);
CREATE INDEX IF NOT EXISTS decisions_by_run ON decisions(run_id);
CREATE TABLE IF NOT EXISTS last_reads (
    series TEXT NOT NULL,
    source TEXT NOT NULL,
    version TEXT NOT NULL,
    read_at TEXT NOT NULL,
    update_json TEXT NOT NULL,
    PRIMARY KEY (series, source, version)
);
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
CREATE TRIGGER IF NOT EXISTS decisions_never_updated BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decision history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_never_deleted BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decision history is append-only'); END;
"""


@dataclass(frozen=True)
class RunRecord:
    id: int
    started: datetime
    finished: datetime | None
    dry_run: bool
    step: int
    interval: timedelta
    exit_status: int | None
    summary: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class DecisionRecord(Decision):
    """A decision as the history keeps it: which update, which run, when, and whether
    its writes reached Launchpad."""

    id: int
    run_id: int
    at: datetime
    series: str
    source: str
    version: str
    previous_version: str | None
    date_published: datetime
    applied: bool
    error: str | None
    # A record from `all_history` may stand for a run of identical decisions.
    repeats: int = 1
    last_at: datetime | None = None

    @property
    def key(self) -> UpdateKey:
        return UpdateKey(self.series, self.source, self.version)

    @property
    def until(self) -> datetime:
        return self.last_at or self.at


def _run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        started=parse_timestamp(row["started"]),
        finished=parse_timestamp(row["finished"]) if row["finished"] else None,
        dry_run=bool(row["dry_run"]),
        step=row["step"],
        interval=timedelta(seconds=row["interval_seconds"]),
        exit_status=row["exit_status"],
        summary=json.loads(row["summary"]) if row["summary"] else {},
    )


def _decision(row: sqlite3.Row) -> DecisionRecord:
    return DecisionRecord(
        id=row["id"],
        run_id=row["run_id"],
        at=parse_timestamp(row["at"]),
        series=row["series"],
        source=row["source"],
        version=row["version"],
        previous_version=row["previous_version"],
        date_published=parse_timestamp(row["date_published"]),
        action=Action(row["action"]),
        state=State(row["state"]),
        from_percentage=row["from_percentage"],
        to_percentage=row["to_percentage"],
        highest_percentage=row["highest_percentage"],
        since=parse_timestamp(row["since"]),
        next_step_at=parse_timestamp(row["next_step_at"]) if row["next_step_at"] else None,
        reason=row["reason"],
        problems=tuple(Problem.from_json(p) for p in json.loads(row["problems"])),
        overrides_applied=tuple(json.loads(row["overrides_applied"])),
        applied=bool(row["applied"]),
        error=row["error"],
    )


# The columns that make two decisions of one update "the same", to fold repeats.
_SAME_COLUMNS = (
    "action, state, from_percentage, to_percentage, reason, problems, overrides_applied,"
    " applied, error"
)
# SQLite caps bound parameters per statement; 500 is far below every build's cap.
_IDS_PER_QUERY = 500


class Store:
    """The database of one installation. Methods that take update keys accept any
    (series, source, version) triple; the keys they return are `UpdateKey`s."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.db = connection
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Worker threads share this connection; `transaction` serialises them.
        connection = sqlite3.connect(
            path, timeout=30, isolation_level=None, check_same_thread=False
        )
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
        store = cls(connection)
        with store.transaction():
            for statement in _SCHEMA.split(";\n"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return store

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def query(self, sql: str, parameters: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Rows of a read-only statement, for the outbox's own table."""
        return self.db.execute(sql, parameters).fetchall()

    def start_run(self, started: datetime, dry_run: bool, step: int, interval: timedelta) -> int:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (started, dry_run, step, interval_seconds) VALUES (?, ?, ?, ?)",
                (format_timestamp(started), int(dry_run), step, int(interval.total_seconds())),
            )
        return int(cursor.lastrowid or 0)

    def finish_run(
        self, run_id: int, finished: datetime, exit_status: int, summary: dict[str, Any]
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished = ?, exit_status = ?, summary = ? WHERE id = ?",
                (
                    format_timestamp(finished),
                    exit_status,
                    json.dumps(summary, sort_keys=True),
                    run_id,
                ),
            )

    def add_run_failure(self, run_id: int, exit_status: int, failure: str) -> None:
        """Record a failure found after the run finished (its report could not be written).

        The run's exit status becomes at least `exit_status`, so the history agrees with
        what the process exited with; the failure joins the summary's `failures`.
        """
        with self.transaction() as db:
            row = db.execute(
                "SELECT exit_status, summary FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None:
                return
            summary = json.loads(row["summary"]) if row["summary"] else {}
            summary["failures"] = [*summary.get("failures", []), failure]
            db.execute(
                "UPDATE runs SET exit_status = ?, summary = ? WHERE id = ?",
                (
                    max(row["exit_status"] or 0, exit_status),
                    json.dumps(summary, sort_keys=True),
                    run_id,
                ),
            )

    def record(
        self,
        run_id: int,
        at: datetime,
        update: Update,
        decision: Decision,
        *,
        applied: bool,
        error: str | None = None,
        connection: sqlite3.Connection | None = None,
    ) -> int:
        """Append one decision. Pass `connection` to join a transaction already open."""
        values = (
            run_id,
            format_timestamp(at),
            update.series.name,
            update.source,
            update.version,
            update.previous_version,
            format_timestamp(update.date_published),
            str(decision.action),
            str(decision.state),
            decision.from_percentage,
            decision.to_percentage,
            decision.highest_percentage,
            format_timestamp(decision.since),
            format_timestamp(decision.next_step_at) if decision.next_step_at else None,
            decision.reason,
            json.dumps([p.to_json() for p in decision.problems], sort_keys=True),
            json.dumps(list(decision.overrides_applied)),
            int(applied),
            error,
        )
        sql = (
            "INSERT INTO decisions (run_id, at, series, source, version, previous_version,"
            " date_published, action, state, from_percentage, to_percentage,"
            " highest_percentage, since, next_step_at, reason, problems, overrides_applied,"
            " applied, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        if connection is not None:
            cursor = connection.execute(sql, values)
        else:
            with self.transaction() as db:
                cursor = db.execute(sql, values)
        return int(cursor.lastrowid or 0)

    def run(self, run_id: int) -> RunRecord | None:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _run(row) if row else None

    def latest_run(self, *, finished: bool = True) -> RunRecord | None:
        if finished:
            sql = "SELECT * FROM runs WHERE finished IS NOT NULL ORDER BY id DESC LIMIT 1"
        else:
            sql = "SELECT * FROM runs ORDER BY id DESC LIMIT 1"
        row = self.db.execute(sql).fetchone()
        return _run(row) if row else None

    def decisions_for_run(self, run_id: int) -> list[DecisionRecord]:
        rows = self.db.execute(
            "SELECT * FROM decisions WHERE run_id = ? ORDER BY id", (run_id,)
        ).fetchall()
        return [_decision(row) for row in rows]

    def history(self, series: str, source: str, version: str) -> list[DecisionRecord]:
        rows = self.db.execute(
            "SELECT * FROM decisions WHERE series = ? AND source = ? AND version = ? ORDER BY id",
            (series, source, version),
        ).fetchall()
        return [_decision(row) for row in rows]

    def recorded_previous_versions(
        self, updates: Iterable[tuple[str, str, str]]
    ) -> dict[UpdateKey, str]:
        """The previous version an earlier decision recorded, per (series, source, version).

        Once an update is published, the version it replaces does not change: a later
        run reuses it rather than reading the source's history from Launchpad again.
        Updates never decided on, or decided with no previous version, are left out.
        """
        found: dict[UpdateKey, str] = {}
        for key in updates:
            row = self.db.execute(
                "SELECT previous_version FROM decisions WHERE series = ? AND source = ?"
                " AND version = ? AND previous_version IS NOT NULL ORDER BY id DESC LIMIT 1",
                key,
            ).fetchone()
            if row is not None:
                found[UpdateKey(*key)] = row[0]
        return found

    def last_reads(
        self, updates: Iterable[tuple[str, str, str]], read_since: datetime, now: datetime
    ) -> dict[UpdateKey, Update]:
        """What Launchpad said of each update when a run last read it, if in (read_since, now).

        A read from the future (a replay with an earlier --now) is never reused.
        """
        found: dict[UpdateKey, Update] = {}
        since, until = format_timestamp(read_since), format_timestamp(now)
        for key in updates:
            row = self.db.execute(
                "SELECT update_json FROM last_reads WHERE series = ? AND source = ?"
                " AND version = ? AND read_at > ? AND read_at < ?",
                (*key, since, until),
            ).fetchone()
            if row is not None:
                found[UpdateKey(*key)] = Update.from_json(json.loads(row[0]))
        return found

    def remember_read(self, update: Update, at: datetime, connection: sqlite3.Connection) -> None:
        """Keep what was read, inside the transaction that records its decision."""
        connection.execute(
            "INSERT OR REPLACE INTO last_reads (series, source, version, read_at, update_json)"
            " VALUES (?, ?, ?, ?, ?)",
            (*update.key, format_timestamp(at), json.dumps(update.to_json(), sort_keys=True)),
        )

    def forget_read(self, key: tuple[str, str, str], connection: sqlite3.Connection) -> None:
        """Launchpad was (or may have been) written: what was read is no longer true."""
        connection.execute(
            "DELETE FROM last_reads WHERE series = ? AND source = ? AND version = ?", key
        )

    def forget_reads_before(self, moment: datetime) -> int:
        """Drop reads too old to be reused by anyone; return how many."""
        with self.transaction() as db:
            cursor = db.execute(
                "DELETE FROM last_reads WHERE read_at < ?", (format_timestamp(moment),)
            )
        return cursor.rowcount

    def all_history(
        self, active_since: datetime | None = None
    ) -> dict[UpdateKey, list[DecisionRecord]]:
        """Decisions grouped by update, oldest first: one query for the report.

        A run of identical decisions in a row (a year of "still stopped") comes back
        as its first record, with `repeats` and `last_at`. With `active_since`, only
        the updates decided on since then: a year of finished updates is not read.
        """
        where = ""
        parameters: tuple[str, ...] = ()
        if active_since is not None:
            where = (
                "WHERE (series, source, version) IN"
                " (SELECT series, source, version FROM decisions WHERE at >= ?)"
            )
            parameters = (format_timestamp(active_since),)
        # Fold on narrow rows first, then read whole rows only for the first of each
        # fold: a year of "still stopped" is one row parsed, not 1,460.
        narrow = self.db.cursor()
        narrow.row_factory = None
        narrow.execute(
            f"SELECT id, series, source, version, at, {_SAME_COLUMNS} FROM decisions"  # noqa: S608 - fixed text only
            f" {where} ORDER BY series, source, version, id",
            parameters,
        )
        folds: dict[int, tuple[int, str]] = {}
        first_id, previous = 0, None
        for row in narrow:
            if previous is not None and row[1:4] == previous[1:4] and row[5:] == previous[5:]:
                folds[first_id] = (folds[first_id][0] + 1, row[4])
            else:
                first_id = row[0]
                folds[first_id] = (1, row[4])
            previous = row
        ids = sorted(folds)
        grouped: dict[UpdateKey, list[DecisionRecord]] = {}
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start : start + _IDS_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT * FROM decisions WHERE id IN ({marks}) ORDER BY id",  # noqa: S608 - placeholders only
                chunk,
            )
            for row in rows:
                repeats, last_at = folds[row["id"]]
                record = replace(
                    _decision(row),
                    repeats=repeats,
                    last_at=parse_timestamp(last_at) if repeats > 1 else None,
                )
                grouped.setdefault(record.key, []).append(record)
        return grouped

    def last_in_flight(self, series: str, before_run: int) -> list[UpdateKey]:
        """The updates of `series` still in flight when a finished run last listed it.

        That run is the latest finished one before `before_run` that decided on any
        update of `series` (a run whose listing failed decided on none). In flight: what
        it decided on and did not complete, and what it could not evaluate (from its
        summary's `not_evaluated`), so an update missed by one run is not lost by the
        next. A run killed part-way (never finished) may have decided on only some.
        """
        run = self.db.execute(
            "SELECT id, summary FROM runs r WHERE id < ? AND finished IS NOT NULL AND EXISTS"
            " (SELECT 1 FROM decisions d WHERE d.run_id = r.id AND d.series = ?)"
            " ORDER BY id DESC LIMIT 1",
            (before_run, series),
        ).fetchone()
        if run is None:
            return []
        rows = self.db.execute(
            "SELECT source, version FROM decisions WHERE run_id = ? AND series = ?"
            " AND state != 'complete' ORDER BY id",
            (run["id"], series),
        ).fetchall()
        found = [UpdateKey(series, row["source"], row["version"]) for row in rows]
        entries = json.loads(run["summary"] or "{}").get("not_evaluated", [])
        missed = map(NotEvaluated.from_json, entries if isinstance(entries, list) else [])
        found += [m.key for m in missed if m is not None and m.series == series]
        return list(dict.fromkeys(found))
