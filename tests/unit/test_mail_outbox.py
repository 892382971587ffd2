"""The outbox table: one row per key, and what the report may see of it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from phased_updater.mail import outbox
from phased_updater.mail.message import Recipient
from phased_updater.mail.outbox import Status
from phased_updater.store import Store
from tests.unit.factories import T0


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "state.sqlite3")


def queue(store: Store, key: str = "jammy/foo/1.2-3ubuntu0.1/abc") -> bool:
    run_id = store.start_run(T0, False, 10, timedelta(hours=6))
    with store.transaction() as connection:
        return outbox.queue(
            connection,
            key=key,
            run_id=run_id,
            series="jammy",
            source="foo",
            version="1.2-3ubuntu0.1",
            signer_link=None,
            creator_link="https://lp.example/~carol",
            subject="Phasing of foo stopped",
            body="body\n",
            queued_at=T0,
        )


def test_a_key_is_queued_once(store: Store) -> None:
    assert queue(store) is True
    assert queue(store) is False
    assert queue(store, "jammy/foo/1.2-3ubuntu0.1/def") is True
    assert len(outbox.pending(store)) == 2


def test_a_queued_message_rolls_back_with_its_decision(store: Store) -> None:
    run_id = store.start_run(T0, False, 10, timedelta(hours=6))
    with pytest.raises(RuntimeError), store.transaction() as connection:
        outbox.queue(
            connection,
            key="k",
            run_id=run_id,
            series="jammy",
            source="foo",
            version="1",
            signer_link=None,
            creator_link=None,
            subject="s",
            body="b",
            queued_at=T0,
        )
        raise RuntimeError("the decision could not be recorded")
    assert outbox.pending(store) == []


def test_the_report_sees_status_and_reasons_but_no_address(store: Store) -> None:
    queue(store)
    [message] = outbox.pending(store)
    assert message.recipients is None
    outbox.set_recipients(
        store, message.id, (Recipient("Carol", "carol@example.com"),), ("signer: none",)
    )
    outbox.attempt_failed(store, message.id, "ConnectionRefusedError")
    [waiting] = outbox.deliveries(store)
    assert (waiting.status, waiting.attempts, waiting.last_error) == (
        Status.PENDING,
        1,
        "ConnectionRefusedError",
    )
    assert waiting.notes == ("signer: none",)
    outbox.mark_sent(store, message.id, T0 + timedelta(hours=1))
    [sent] = outbox.deliveries(store)
    assert (sent.status, sent.attempts, sent.last_error, sent.sent_at) == (
        Status.SENT,
        2,
        None,
        T0 + timedelta(hours=1),
    )
    assert "carol@example.com" not in repr(sent)
    assert outbox.pending(store) == []


def test_no_table_means_no_deliveries(tmp_path: Path) -> None:
    assert outbox.deliveries(Store.open(tmp_path / "fresh.sqlite3")) == []
