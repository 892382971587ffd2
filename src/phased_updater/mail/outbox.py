"""The mail outbox: one row per message, in the state database beside the history.

A row is inserted in the transaction that records the STOP decision it is about, so a
stop and its message are recorded together or not at all. Its `key` (series, source,
version and the set of problems, see `message.Stop.key`) is UNIQUE: a key already in
the outbox is never queued again, which is what makes the mail exactly-once per stop
across runs.

Life of a row:

    pending --(recipients looked up, relay accepted the data, before the final ".")--> sent
    pending --(no recipient at all, or email off)--> skipped
    sent --(the relay refused after the final ".")--> failed   (never retried)

A pending row stays pending through a failed Launchpad lookup or an unreachable
relay; the next run tries again. Addresses live only in `recipients` and never
leave this module except to be sent to: `deliveries` does not return them.
"""

from __future__ import annotations

import enum
import json
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime

from phased_updater.duration import format_timestamp, parse_timestamp
from phased_updater.mail.message import Recipient
from phased_updater.store import Store

TABLE = "mail_outbox"  # created with the other tables by Store.open
EMAIL_OFF = "email is off: no SMTP host configured"


class Status(enum.StrEnum):
    PENDING = "pending"  # waiting for its recipients or for the relay
    SENT = "sent"  # the relay has it (or had it when the process died)
    FAILED = "failed"  # the relay refused it after the data was committed: not retried
    SKIPPED = "skipped"  # nobody to send it to, or email was off: never sent


@dataclass(frozen=True)
class Delivery:
    """One message as the report shows it: no addresses."""

    series: str
    source: str
    version: str
    subject: str
    status: Status
    attempts: int
    last_error: str | None
    queued_at: datetime
    sent_at: datetime | None
    notes: tuple[str, ...]  # who was left out and why, e.g. "signer ~katie: a robot account"
    # Who it went (or goes) to, by display name; a Cc address has none and is counted.
    to: tuple[str, ...] = ()
    cc: int = 0


@dataclass(frozen=True)
class Message:
    """One row as the sender needs it."""

    id: int
    key: str
    series: str
    source: str
    version: str
    signer_link: str | None
    creator_link: str | None
    subject: str
    body: str
    queued_at: datetime
    status: Status
    recipients: tuple[Recipient, ...] | None  # None: not looked up yet
    notes: tuple[str, ...]
    attempts: int


def has_key(connection: sqlite3.Connection, key: str) -> bool:
    row = connection.execute(f"SELECT 1 FROM {TABLE} WHERE key = ?", (key,)).fetchone()  # noqa: S608 - TABLE is a constant, values are bound
    return row is not None


def queued_since(connection: sqlite3.Connection, prefix: str) -> list[datetime]:
    """When each message whose key starts with `prefix` was queued (an update's reminders)."""
    rows = connection.execute(
        f"SELECT queued_at FROM {TABLE} WHERE substr(key, 1, ?) = ? ORDER BY id",  # noqa: S608 - TABLE is a constant, values are bound
        (len(prefix), prefix),
    ).fetchall()
    return [parse_timestamp(row[0]) for row in rows]


def queue(
    connection: sqlite3.Connection,
    *,
    key: str,
    run_id: int,
    series: str,
    source: str,
    version: str,
    signer_link: str | None,
    creator_link: str | None,
    subject: str,
    body: str,
    queued_at: datetime,
    status: Status = Status.PENDING,
    last_error: str | None = None,
) -> bool:
    """Add a message unless its key is queued already; True when added.

    Call inside the transaction that records the decision the message is about.
    """
    cursor = connection.execute(
        f"INSERT INTO {TABLE} (key, run_id, series, source, version, signer_link,"  # noqa: S608 - TABLE is a constant, values are bound
        " creator_link, subject, body, queued_at, status, last_error)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
        (
            key,
            run_id,
            series,
            source,
            version,
            signer_link,
            creator_link,
            subject,
            body,
            format_timestamp(queued_at),
            str(status),
            last_error,
        ),
    )
    return cursor.rowcount == 1


def _recipients(text: str | None) -> tuple[Recipient, ...] | None:
    if text is None:
        return None
    return tuple(Recipient(name, address) for name, address in json.loads(text))


def pending(store: Store) -> list[Message]:
    """Every message still to be sent, oldest first."""
    rows = store.query(
        f"SELECT * FROM {TABLE} WHERE status = ? ORDER BY id",  # noqa: S608 - TABLE is a constant, values are bound
        (str(Status.PENDING),),
    )
    return [
        Message(
            id=row["id"],
            key=row["key"],
            series=row["series"],
            source=row["source"],
            version=row["version"],
            signer_link=row["signer_link"],
            creator_link=row["creator_link"],
            subject=row["subject"],
            body=row["body"],
            queued_at=parse_timestamp(row["queued_at"]),
            status=Status(row["status"]),
            recipients=_recipients(row["recipients"]),
            notes=tuple(json.loads(row["notes"])),
            attempts=row["attempts"],
        )
        for row in rows
    ]


def _update(store: Store, message_id: int, **values: object) -> None:
    columns = ", ".join(f"{name} = ?" for name in values)
    with store.transaction() as db:
        db.execute(
            f"UPDATE {TABLE} SET {columns} WHERE id = ?",  # noqa: S608 - names from code, values bound
            (*values.values(), message_id),
        )


def set_recipients(
    store: Store, message_id: int, recipients: tuple[Recipient, ...], notes: tuple[str, ...]
) -> None:
    """Record the looked-up recipients once, so a retry of the relay does not look again."""
    encoded = json.dumps([[r.name, r.address] for r in recipients])
    _update(store, message_id, recipients=encoded, notes=json.dumps(list(notes)))


def with_recipients(
    message: Message, recipients: tuple[Recipient, ...], notes: tuple[str, ...]
) -> Message:
    return replace(message, recipients=recipients, notes=notes)


def note_problem(store: Store, message_id: int, error: str) -> None:
    """Why a pending message is still pending, when it was not even offered to the relay."""
    _update(store, message_id, last_error=error)


def skip(store: Store, message_id: int, reason: str) -> None:
    _update(store, message_id, status=str(Status.SKIPPED), last_error=reason)


def attempt_failed(store: Store, message_id: int, error: str) -> None:
    """The relay did not take it; it stays pending for the next run."""
    with store.transaction() as db:
        db.execute(
            f"UPDATE {TABLE} SET attempts = attempts + 1, last_error = ? WHERE id = ?",  # noqa: S608 - TABLE is a constant, values are bound
            (error, message_id),
        )


def mark_sent(store: Store, message_id: int, at: datetime, refused: tuple[str, ...] = ()) -> None:
    """Commit the delivery: from here on the message is never sent again."""
    with store.transaction() as db:
        db.execute(
            f"UPDATE {TABLE} SET status = ?, attempts = attempts + 1, sent_at = ?,"  # noqa: S608 - TABLE is a constant, values are bound
            " last_error = ? WHERE id = ?",
            (str(Status.SENT), format_timestamp(at), "; ".join(refused) or None, message_id),
        )


def mark_failed_after_commit(store: Store, message_id: int, error: str) -> None:
    _update(store, message_id, status=str(Status.FAILED), last_error=error)


def deliveries(store: Store) -> list[Delivery]:
    """Every message ever queued, newest first, for the report (no addresses)."""
    rows = store.query(
        f"SELECT series, source, version, subject, status, attempts, last_error,"  # noqa: S608 - TABLE is a constant, values are bound
        f" queued_at, sent_at, notes, recipients FROM {TABLE} ORDER BY id DESC"
    )
    return [_delivery(row) for row in rows]


def _delivery(row: sqlite3.Row) -> Delivery:
    recipients = _recipients(row["recipients"]) or ()
    return Delivery(
        series=row["series"],
        source=row["source"],
        version=row["version"],
        subject=row["subject"],
        status=Status(row["status"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        queued_at=parse_timestamp(row["queued_at"]),
        sent_at=parse_timestamp(row["sent_at"]) if row["sent_at"] else None,
        notes=tuple(json.loads(row["notes"])),
        to=tuple(r.name for r in recipients if r.name),
        cc=sum(1 for r in recipients if not r.name),
    )
