"""The state database: the history of runs and decisions, and the mail outbox.

Every table is created here, on open; the outbox's rules are in `mail/outbox.py`.
History is append-only: a decision, once recorded, is never updated or deleted
(triggers enforce it); `folds`, derived from it in the same transaction, only grow.
The database runs in WAL mode and every decision is written in its own transaction,
so a run killed at any point leaves every earlier decision intact and nothing
half-written.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from phased_updater.duration import format_timestamp, parse_timestamp
from phased_updater.errors import error_text
from phased_updater.model import (
    Action,
    Decision,
    Halt,
    Pace,
    Problem,
    Resume,
    Standing,
    State,
    StopRecord,
    Update,
    UpdateKey,
)
from phased_updater.schema import (
    FOLD_COLUMNS,
    SCHEMA_VERSION,
    StoreError,
    check_and_migrate,
    check_current,
    check_file,
)
from phased_updater.text import encodable

__all__ = [
    "SCHEMA_VERSION",
    "DatabaseFailure",
    "DecisionRecord",
    "RunRecord",
    "Store",
    "StoreError",
]

# How long a statement waits for another process's write lock before it fails.
BUSY_TIMEOUT_SECONDS = 30.0


class DatabaseFailure(sqlite3.OperationalError):
    """SQLite failed a write under a command already under way (locked past the busy
    timeout, disk full); the message names the file. Still an sqlite3 error, so every
    handler of those handles it."""


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
    account: str | None = None  # the Launchpad account the run acted as, if it knew it
    freeze_windows: tuple[str, ...] = ()  # the freeze windows in force, as written


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
        account=row["account"],
        freeze_windows=_texts(row["freeze_windows"]),
    )


def _texts(text: str | None) -> tuple[str, ...]:
    """A JSON list of strings; nothing for anything else (readers never fail on it)."""
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _decision(
    row: sqlite3.Row, repeats: int = 1, last_at: datetime | None = None
) -> DecisionRecord:
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
        problems=_problems(row["problems"]),
        overrides_applied=_overrides(row["overrides_applied"]),
        applied=bool(row["applied"]),
        error=row["error"],
        standing=_standing(row),
        by=row["decided_by"],
        pace=Pace.from_json(json.loads(row["pace"])) if row["pace"] else None,
        repeats=repeats,
        last_at=last_at,
    )


# What `record_decision` writes for nothing: most decisions have no problems, no
# overrides and no stop in force, and the report reads thousands of them.
_NO_LIST = "[]"
_NO_STANDING = '{"acknowledged": [], "stop": null}'


# Parsed once per text: a stop kept for weeks repeats the same problems and standing
# in every decision. The records then share them, as they may: both are frozen.
@functools.lru_cache(maxsize=4096)
def _problems(text: str) -> tuple[Problem, ...]:
    if text == _NO_LIST:
        return ()
    return tuple(Problem.from_json(p) for p in json.loads(text))


def _overrides(text: str) -> tuple[str, ...]:
    return () if text == _NO_LIST else tuple(json.loads(text))


def _standing(row: sqlite3.Row) -> Standing:
    """The standing a decision left; for one recorded before version 3, what it implies.

    A version 2 history recorded no standing: a stopped update's stop is then taken to
    be the one its latest decision names, with that decision's open problems.
    """
    if row["standing"] == _NO_STANDING:
        return Standing()
    if row["standing"]:
        return _recorded_standing(row["standing"])
    if row["state"] != State.STOPPED:
        return Standing()
    problems = _problems(row["problems"])
    open_problems = tuple(p for p in problems if not p.overridden)
    at = parse_timestamp(row["since"])
    return Standing(
        StopRecord(
            at=at,
            from_percentage=row["from_percentage"] if row["action"] == "stop" else 0,
            problems=tuple(replace(p, last_reported=at) for p in open_problems),
            causes_recorded=bool(open_problems),
        )
    )


@functools.lru_cache(maxsize=4096)
def _recorded_standing(text: str) -> Standing:
    return Standing.from_json(json.loads(text))


# Each fold of `all_history` as (its first decision's whole row, repeats, last_at), in
# id order, for the updates `where` leaves.
_FOLDS_QUERY = """
SELECT decision.*, folds.repeats AS fold_repeats, folds.last_at AS fold_last_at
FROM folds JOIN decisions AS decision ON decision.id = folds.first_id
{where}
ORDER BY folds.first_id
"""
# The new decision extends its update's latest fold when it is the same as that
# fold's first decision in every one of FOLD_COLUMNS; otherwise it starts one.
_EXTEND_FOLD = f"""
UPDATE folds SET repeats = repeats + 1, last_id = :id, last_at = :at
WHERE first_id = (
    SELECT MAX(first_id) FROM folds
    WHERE series = :series AND source = :source AND version = :version
) AND EXISTS (
    SELECT 1 FROM decisions AS first WHERE first.id = folds.first_id
    AND {" AND ".join(f"first.{c} IS :{c}" for c in FOLD_COLUMNS)}
)
"""  # noqa: S608 - fixed text only
_START_FOLD = (
    "INSERT INTO folds (first_id, series, source, version, repeats, last_id, last_at)"
    " VALUES (:id, :series, :source, :version, 1, :id, :at)"
)


class Store:
    """The database of one installation. Methods that take update keys accept any
    (series, source, version) triple; the keys they return are `UpdateKey`s."""

    def __init__(self, connection: sqlite3.Connection, path: Path | None = None) -> None:
        self.db = connection
        self._lock = threading.RLock()
        self._where = f"state database {str(path)!r}" if path is not None else "state database"

    @classmethod
    def open(cls, path: Path, *, read_only: bool = False) -> Store:
        """Open (or create) the database, migrating it; StoreError when it is not usable.

        `read_only` (for `phased-updater report`) opens an existing database without
        the right to write it: it must already be at this release's schema.
        """
        check_file(path)
        where = f"state database {str(path)!r}"
        if path.is_dir():
            raise StoreError(f"{where}: is a directory")
        if read_only and not path.exists():
            raise StoreError(f"{where}: no such file")
        try:
            if read_only:
                connection = sqlite3.connect(
                    f"{path.resolve().as_uri()}?mode=ro",
                    uri=True,
                    timeout=BUSY_TIMEOUT_SECONDS,
                    isolation_level=None,
                    check_same_thread=False,
                )
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                # Worker threads share this connection; `transaction` serialises them.
                connection = sqlite3.connect(
                    path,
                    timeout=BUSY_TIMEOUT_SECONDS,
                    isolation_level=None,
                    check_same_thread=False,
                )
        except (sqlite3.Error, OSError) as error:
            raise StoreError(f"{where}: {error_text(error)}") from None
        try:
            connection.row_factory = sqlite3.Row
            if read_only:
                check_current(connection, path)
            else:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")
                connection.execute("PRAGMA foreign_keys=ON")
                check_and_migrate(connection, path)
        except sqlite3.Error as error:
            connection.close()
            # "file is not a database", "database is locked", "attempt to write a
            # readonly database", "unable to open database file": SQLite's own words.
            raise StoreError(f"{where}: {error}") from None
        except BaseException:
            connection.close()
            raise
        return cls(connection, path)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; DatabaseFailure (naming the file) when SQLite fails it."""
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise DatabaseFailure(f"{self._where}: {error}") from error
            try:
                yield self.db
            except sqlite3.Error as error:
                self.db.execute("ROLLBACK")
                if isinstance(error, DatabaseFailure):
                    raise
                raise DatabaseFailure(f"{self._where}: {error}") from error
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error as error:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
                raise DatabaseFailure(f"{self._where}: {error}") from error

    # Every read goes through these, under the lock a write transaction holds: the
    # connection is shared by the cycle's threads, and a read (the next series'
    # listing) must neither run inside another thread's transaction nor keep a
    # statement open across its COMMIT.
    def query(self, sql: str, parameters: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Rows of a read-only statement."""
        with self._lock:
            return self.db.execute(sql, parameters).fetchall()

    def query_one(self, sql: str, parameters: Sequence[object] = ()) -> sqlite3.Row | None:
        """The first row of a read-only statement, if any."""
        with self._lock:
            row: sqlite3.Row | None = self.db.execute(sql, parameters).fetchone()
            return row

    def start_run(
        self,
        started: datetime,
        dry_run: bool,
        step: int,
        interval: timedelta,
        account: str | None = None,
        freeze_windows: Sequence[str] = (),
    ) -> int:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (started, dry_run, step, interval_seconds, account,"
                " freeze_windows) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    format_timestamp(started),
                    int(dry_run),
                    step,
                    int(interval.total_seconds()),
                    account,
                    json.dumps(list(freeze_windows)),
                ),
            )
        return int(cursor.lastrowid or 0)

    def set_account(self, run_id: int, account: str) -> None:
        """The Launchpad account the run acts as, once it has logged in."""
        with self.transaction() as db:
            db.execute("UPDATE runs SET account = ? WHERE id = ?", (account, run_id))

    def last_account(self) -> str | None:
        """The account the latest run that knew it acted as: the phaser's own, for runs
        that cannot ask Launchpad (anonymous dry runs)."""
        row = self.query_one(
            "SELECT account FROM runs WHERE account IS NOT NULL ORDER BY id DESC LIMIT 1"
        )
        return str(row[0]) if row else None

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

    def note_run(self, run_id: int, key: str, value: object) -> None:
        """Add `key` to a finished run's summary (what its inputs were, e.g. the overrides)."""
        with self.transaction() as db:
            row = db.execute("SELECT summary FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                return
            summary = json.loads(row["summary"]) if row["summary"] else {}
            summary[key] = value
            db.execute(
                "UPDATE runs SET summary = ? WHERE id = ?",
                (json.dumps(summary, sort_keys=True), run_id),
            )

    def forget_summary_key(self, key: str, before_run: int) -> int:
        """Drop `key` from the summaries of the runs before `before_run`; how many.

        For what only the latest run's report needs and would grow the database by a
        run's worth every run (`uploads`: each update's signer, creator and debs).
        """
        with self.transaction() as db:
            rows = db.execute(
                "SELECT id, summary FROM runs WHERE id < ? AND instr(summary, ?) > 0",
                (before_run, json.dumps(key)),
            ).fetchall()
            dropped = 0
            for row in rows:
                summary = json.loads(row["summary"])
                if isinstance(summary, dict) and summary.pop(key, None) is not None:
                    db.execute(
                        "UPDATE runs SET summary = ? WHERE id = ?",
                        (json.dumps(summary, sort_keys=True), row["id"]),
                    )
                    dropped += 1
        return dropped

    def decided_updates(self) -> set[tuple[str, str]]:
        """(source, version) of every update any run decided on (one index scan)."""
        rows = self.query("SELECT DISTINCT source, version FROM decisions")
        return {(row[0], row[1]) for row in rows}

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
        # By column: the insert names each value's column.
        values: dict[str, object] = {
            "run_id": run_id,
            "at": format_timestamp(at),
            "series": update.series.name,
            "source": update.source,
            "version": update.version,
            "previous_version": update.previous_version,
            "date_published": format_timestamp(update.date_published),
            "action": str(decision.action),
            "state": str(decision.state),
            "from_percentage": decision.from_percentage,
            "to_percentage": decision.to_percentage,
            "highest_percentage": decision.highest_percentage,
            "since": format_timestamp(decision.since),
            "next_step_at": (
                format_timestamp(decision.next_step_at) if decision.next_step_at else None
            ),
            # Free text is made encodable here, where it becomes bytes: one lone
            # surrogate would otherwise fail the decision's record (JSON escapes it).
            "reason": encodable(decision.reason),
            "problems": json.dumps([p.to_json() for p in decision.problems], sort_keys=True),
            "overrides_applied": json.dumps(list(decision.overrides_applied)),
            "applied": int(applied),
            "error": encodable(error) if error is not None else None,
            "standing": json.dumps(decision.standing.to_json(), sort_keys=True),
            "decided_by": encodable(decision.by) if decision.by is not None else None,
            "pace": json.dumps(decision.pace.to_json(), sort_keys=True) if decision.pace else None,
        }

        insert = (
            f"INSERT INTO decisions ({', '.join(values)})"  # noqa: S608 - our own column names
            f" VALUES ({', '.join(':' + column for column in values)})"
        )

        def append(db: sqlite3.Connection) -> int:
            # The decision and its fold in one transaction: a fold never counts a
            # decision that is not there, nor misses one that is.
            decision_id = int(db.execute(insert, values).lastrowid or 0)
            named = {**values, "id": decision_id}
            if db.execute(_EXTEND_FOLD, named).rowcount == 0:
                db.execute(_START_FOLD, named)
            return decision_id

        if connection is not None:
            return append(connection)
        with self.transaction() as db:
            return append(db)

    def run(self, run_id: int) -> RunRecord | None:
        row = self.query_one("SELECT * FROM runs WHERE id = ?", (run_id,))
        return _run(row) if row else None

    def latest_run(self, *, finished: bool = True) -> RunRecord | None:
        """The latest cycle (not the record a `halt` makes of its own write)."""
        done = "finished IS NOT NULL AND " if finished else ""
        row = self.query_one(
            f"SELECT * FROM runs WHERE {done}json_extract(summary, '$.halt') IS NULL"  # noqa: S608 - fixed text only
            " ORDER BY id DESC LIMIT 1"
        )
        return _run(row) if row else None

    def forget_run(self, run_id: int) -> None:
        """A run that turned out to be a usage error, before it decided anything."""
        with self.transaction() as db:
            db.execute(
                "DELETE FROM runs WHERE id = ? AND NOT EXISTS"
                " (SELECT 1 FROM decisions WHERE run_id = ?)",
                (run_id, run_id),
            )

    def decisions_for_run(self, run_id: int) -> list[DecisionRecord]:
        rows = self.query("SELECT * FROM decisions WHERE run_id = ? ORDER BY id", (run_id,))
        return [_decision(row) for row in rows]

    def history(self, series: str, source: str, version: str) -> list[DecisionRecord]:
        rows = self.query(
            "SELECT * FROM decisions WHERE series = ? AND source = ? AND version = ? ORDER BY id",
            (series, source, version),
        )
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
            row = self.query_one(
                "SELECT previous_version FROM decisions WHERE series = ? AND source = ?"
                " AND version = ? AND previous_version IS NOT NULL ORDER BY id DESC LIMIT 1",
                key,
            )
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
            row = self.query_one(
                "SELECT update_json FROM last_reads WHERE series = ? AND source = ?"
                " AND version = ? AND read_at > ? AND read_at < ?",
                (*key, since, until),
            )
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
                "WHERE (folds.series, folds.source, folds.version) IN"
                " (SELECT series, source, version FROM decisions WHERE at >= ?)"
            )
            parameters = (format_timestamp(active_since),)
        # The folds are kept as decisions are recorded (schema 5): a year of "still
        # stopped" is one row read and parsed, not 1,460.
        grouped: dict[UpdateKey, list[DecisionRecord]] = {}
        for row in self.query(_FOLDS_QUERY.format(where=where), parameters):
            repeats = row["fold_repeats"]
            last_at = parse_timestamp(row["fold_last_at"]) if repeats > 1 else None
            record = _decision(row, repeats, last_at)
            grouped.setdefault(record.key, []).append(record)
        return grouped

    # -- what later runs need of earlier ones ---------------------------------------

    def standings(self, updates: Iterable[tuple[str, str, str]]) -> dict[UpdateKey, Standing]:
        """The standing each update's latest decision left (no entry: never decided on)."""
        found: dict[UpdateKey, Standing] = {}
        for key in updates:
            row = self.query_one(
                "SELECT state, action, problems, since, from_percentage, standing"
                " FROM decisions WHERE series = ? AND source = ? AND version = ?"
                " ORDER BY id DESC LIMIT 1",
                key,
            )
            if row is not None:
                found[UpdateKey(*key)] = _standing(row)
        return found

    def record_manual(
        self, kind: str, key: tuple[str, str, str], by: str, reason: str, at: datetime
    ) -> None:
        """Keep a `halt` or `resume` a person gave, with who and why."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO manual_actions (series, source, version, kind, decided_by, reason,"
                " at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*key, kind, encodable(by), encodable(reason), format_timestamp(at)),
            )

    def manual(
        self, updates: Iterable[tuple[str, str, str]]
    ) -> dict[UpdateKey, tuple[Halt | None, Resume | None]]:
        """Per update: the halt in force (the latest action is a halt), and the latest resume.

        The database's record of a halt keeps an update halted even if the halts file
        that named it is lost.
        """
        found: dict[UpdateKey, tuple[Halt | None, Resume | None]] = {}
        for key in updates:
            rows = self.query(
                "SELECT kind, decided_by, reason, at FROM manual_actions WHERE series = ?"
                " AND source = ? AND version = ? ORDER BY id DESC",
                key,
            )
            if not rows:
                continue
            halt = None
            latest = rows[0]
            if latest["kind"] == "halt":
                halt = Halt(
                    *key, latest["reason"], latest["decided_by"], parse_timestamp(latest["at"])
                )
            latest_resume = next((r for r in rows if r["kind"] == "resume"), None)
            resume = (
                Resume(
                    latest_resume["decided_by"],
                    latest_resume["reason"],
                    parse_timestamp(latest_resume["at"]),
                )
                if latest_resume is not None
                else None
            )
            found[UpdateKey(*key)] = (halt, resume)
        return found

    def track(
        self,
        updates: Iterable[tuple[str, str, str]],
        at: datetime,
        listings: Mapping[UpdateKey, Mapping[str, Any]] | None = None,
    ) -> None:
        """Remember updates seen in -updates, so that later runs read them however old.

        `listings`: the source publications as this run's listings gave them (JSON),
        kept so that a later run reads an update no longer in its dated listing with
        one request.
        """
        listings = listings or {}
        with self.transaction() as db:
            for key in updates:
                listed = listings.get(UpdateKey(*key))
                db.execute(
                    "INSERT INTO tracked (series, source, version, first_seen, listing)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
                    " listing = COALESCE(excluded.listing, tracked.listing)",
                    (
                        *key,
                        format_timestamp(at),
                        json.dumps(dict(listed), sort_keys=True) if listed else None,
                    ),
                )

    def listings(self, updates: Iterable[tuple[str, str, str]]) -> dict[UpdateKey, dict[str, Any]]:
        """The source publication each tracked update's last listing gave, if kept."""
        found: dict[UpdateKey, dict[str, Any]] = {}
        for key in updates:
            row = self.query_one(
                "SELECT listing FROM tracked WHERE series = ? AND source = ? AND version = ?",
                key,
            )
            if row is not None and row[0]:
                found[UpdateKey(*key)] = json.loads(row[0])
        return found

    def retire(
        self,
        key: tuple[str, str, str],
        at: datetime,
        why: str,
        connection: sqlite3.Connection | None = None,
    ) -> None:
        """An update no run needs to read again: fully phased, superseded or deleted.

        Pass `connection` to join a transaction already open.
        """
        with nullcontext(connection) if connection is not None else self.transaction() as db:
            db.execute(
                "INSERT INTO tracked (series, source, version, first_seen, done_at,"
                " done_reason) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
                " done_at = excluded.done_at, done_reason = excluded.done_reason",
                (*key, format_timestamp(at), format_timestamp(at), why),
            )

    def retired(self, series: str) -> set[UpdateKey]:
        rows = self.query(
            "SELECT source, version FROM tracked WHERE series = ? AND done_at IS NOT NULL",
            (series,),
        )
        return {UpdateKey(series, row["source"], row["version"]) for row in rows}

    def in_flight(self, series: str | None = None) -> list[UpdateKey]:
        """Every update seen and not yet done, in `series` (or in every series)."""
        rows = self.query(
            "SELECT series, source, version FROM tracked WHERE done_at IS NULL"
            " AND (? IS NULL OR series = ?) ORDER BY series, source, version",
            (series, series),
        )
        return [UpdateKey(row["series"], row["source"], row["version"]) for row in rows]

    def last_listed(self, series: str) -> datetime | None:
        """When a run last listed the series' -updates completely, if one ever did."""
        row = self.query_one("SELECT listed_at FROM series_listings WHERE series = ?", (series,))
        return parse_timestamp(row[0]) if row else None

    def listed(self, series: str, at: datetime) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO series_listings (series, listed_at) VALUES (?, ?)"
                " ON CONFLICT DO UPDATE SET listed_at = excluded.listed_at",
                (series, format_timestamp(at)),
            )
