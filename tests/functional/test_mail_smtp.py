"""Delivery to a real SMTP server on loopback: transport security, AUTH, refusals, and
the at-most-once commit. Messages are queued the way a run queues them (inside the
decision's transaction); their recipients are set directly, Launchpad is not asked."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from phased_updater.config import Settings
from phased_updater.mail import outbox
from phased_updater.mail.message import Recipient
from phased_updater.mail.outbox import Status
from phased_updater.mail.session import MailSession
from phased_updater.mail.smtp import Relay, SmtpConfig
from phased_updater.model import CrashCheck, Problem, ProblemKind
from phased_updater.overrides import Overrides
from phased_updater.policy import decide
from phased_updater.store import Store
from tests.functional.smtp_server import Certificate, SmtpServer, free_port, make_certificate
from tests.unit.factories import binary, update

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
SENDER = "phaser@ubuntu.example"
ALICE = Recipient("Alice Developer", "alice@example.com")
BOB = Recipient("Bob Sponsor", "bob@example.com")
PASSWORD = "correct horse battery staple"
# Without credentials a run is a dry run; this file is never read here.
NOT_A_DRY_RUN = Path("/nonexistent/credentials")


def no_launchpad() -> Any:
    raise AssertionError("these tests set recipients themselves")


def queue_stop(store: Store, settings: Settings, source: str = "foo") -> None:
    """Record one applied STOP and let a session queue its message, as a run does."""
    session = MailSession(settings, no_launchpad, store, NOW)
    u = update(binary(percentage=30), source=source)
    crash = Problem(ProblemKind.NEW_CRASH, f"https://errors.ubuntu.com/problem/{source}", "f()")
    decision = decide(u, CrashCheck((crash,)), Overrides(), None, NOW, 10, timedelta(hours=6))
    run_id = store.start_run(NOW, False, 10, timedelta(hours=6))
    with store.transaction() as connection:
        store.record(run_id, NOW, u, decision, applied=True, connection=connection)
        session.on_decision(connection, run_id, u, decision, applied=True)
    for message in outbox.pending(store):
        if message.recipients is None:
            outbox.set_recipients(store, message.id, (ALICE, BOB), ())


def deliver(store: Store, settings: Settings) -> None:
    MailSession(settings, no_launchpad, store, NOW + timedelta(hours=1)).finish()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "state.sqlite3")


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Certificate:
    """A certificate the client trusts, through OpenSSL's SSL_CERT_FILE."""
    made = make_certificate(tmp_path / "tls")
    monkeypatch.setenv("SSL_CERT_FILE", str(made.cert))
    return made


def settings_for(server: SmtpServer, tmp_path: Path, **values: Any) -> Settings:
    return Settings(
        state=tmp_path / "state.sqlite3",
        credentials=NOT_A_DRY_RUN,
        smtp_host="127.0.0.1",
        smtp_port=server.port,
        mail_from=SENDER,
        **values,
    )


def only(store: Store) -> outbox.Delivery:
    [delivery] = outbox.deliveries(store)
    return delivery


def test_plain_delivery(store: Store, tmp_path: Path) -> None:
    with SmtpServer() as server:
        settings = settings_for(server, tmp_path, mail_cc=("sru@lists.example",))
        queue_stop(store, settings)
        deliver(store, settings)
        [received] = server.received
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ("alice@example.com", "bob@example.com", "sru@lists.example")
    message = received.message
    assert message["Subject"] == "Phasing of foo 1.2-3ubuntu0.1 in jammy-updates stopped"
    assert message["To"] == "Alice Developer <alice@example.com>, Bob Sponsor <bob@example.com>"
    assert message["Cc"] == "sru@lists.example"
    assert message["Date"] == "Mon, 02 Nov 2026 12:00:00 +0000"  # when the stop was decided
    delivery = only(store)
    assert (delivery.status, delivery.attempts, delivery.last_error) == (Status.SENT, 1, None)
    assert delivery.sent_at == NOW + timedelta(hours=1)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_with_auth_plain(
    security: str, certificate: Certificate, store: Store, tmp_path: Path
) -> None:
    password_file = tmp_path / "smtp-password"
    password_file.write_text(PASSWORD + "\n")
    with SmtpServer(
        security=security, certificate=certificate, users={"phaser": PASSWORD}
    ) as server:
        settings = settings_for(
            server,
            tmp_path,
            smtp_security=security,
            smtp_auth="plain",
            smtp_user="phaser",
            smtp_password_file=password_file,
        )
        queue_stop(store, settings)
        deliver(store, settings)
        [received] = server.received
    assert received.login == "phaser"
    assert only(store).status is Status.SENT


def test_a_wrong_password_keeps_the_message_for_the_next_run(
    certificate: Certificate, store: Store, tmp_path: Path
) -> None:
    password_file = tmp_path / "smtp-password"
    password_file.write_text("wrong password\n")
    with SmtpServer(
        security="starttls", certificate=certificate, users={"phaser": PASSWORD}
    ) as server:
        settings = settings_for(
            server,
            tmp_path,
            smtp_security="starttls",
            smtp_auth="plain",
            smtp_user="phaser",
            smtp_password_file=password_file,
        )
        queue_stop(store, settings)
        deliver(store, settings)
        assert server.received == []
        waiting = only(store)
        assert (waiting.status, waiting.attempts) == (Status.PENDING, 1)
        assert waiting.last_error is not None and "535" in waiting.last_error
        assert "wrong password" not in waiting.last_error

        password_file.write_text(PASSWORD + "\n")
        deliver(store, settings)
        assert len(server.received) == 1
    assert (only(store).status, only(store).attempts) == (Status.SENT, 2)


def test_an_untrusted_certificate_is_refused_unless_asked_to_skip_verification(
    store: Store, tmp_path: Path
) -> None:
    untrusted = make_certificate(tmp_path / "untrusted")  # SSL_CERT_FILE does not name it
    with SmtpServer(security="tls", certificate=untrusted) as server:
        settings = settings_for(server, tmp_path, smtp_security="tls")
        queue_stop(store, settings)
        deliver(store, settings)
        assert server.received == []
        waiting = only(store)
        assert waiting.status is Status.PENDING
        assert waiting.last_error is not None and "certificate" in waiting.last_error

        deliver(store, replace(settings, smtp_skip_verify=True))
        assert len(server.received) == 1


def test_starttls_is_never_skipped_when_the_relay_does_not_offer_it(
    store: Store, tmp_path: Path
) -> None:
    with SmtpServer() as server:  # plain only
        settings = settings_for(server, tmp_path, smtp_security="starttls")
        queue_stop(store, settings)
        deliver(store, settings)
        assert server.received == []
    assert "STARTTLS" in (only(store).last_error or "").upper()


def test_a_refusal_after_the_data_is_recorded_and_never_retried(
    store: Store, tmp_path: Path
) -> None:
    with SmtpServer(refuse_data="554 5.7.1 message content rejected") as server:
        settings = settings_for(server, tmp_path)
        queue_stop(store, settings)
        deliver(store, settings)
        deliver(store, settings)
        assert server.data_commands == 1
    failed = only(store)
    assert failed.status is Status.FAILED
    # The code and the enhanced status code; never the relay's own text (see smtp._reply).
    assert failed.last_error == "refused after the data: 554 5.7.1"


def test_a_process_killed_after_the_commit_never_sends_twice(store: Store, tmp_path: Path) -> None:
    """The window: "sent" is committed, the final dot never went out. Nobody gets it
    (the relay drops an unfinished DATA), and no later run sends it again."""

    class Killed(BaseException):
        pass

    with SmtpServer() as server:
        settings = settings_for(server, tmp_path)
        queue_stop(store, settings)
        [message] = outbox.pending(store)
        relay = Relay(SmtpConfig("127.0.0.1", server.port))

        def commit_then_die(refused: tuple[str, ...]) -> None:
            outbox.mark_sent(store, message.id, NOW, refused)
            raise Killed

        with pytest.raises(Killed):
            relay.send(
                b"Subject: x\r\n\r\nbody\r\n", SENDER, [("a", ALICE.address)], commit_then_die
            )
        relay._drop()  # the process is gone: so is its connection
        deliver(store, settings)
        assert server.data_commands == 0
        assert server.received == []
    assert only(store).status is Status.SENT


def test_a_refused_recipient_does_not_hold_back_the_others(store: Store, tmp_path: Path) -> None:
    with SmtpServer(refuse_rcpt=(BOB.address,)) as server:
        settings = settings_for(server, tmp_path)
        queue_stop(store, settings)
        deliver(store, settings)
        [received] = server.received
    assert received.rcpt_tos == (ALICE.address,)
    delivery = only(store)
    assert delivery.status is Status.SENT
    assert delivery.last_error == "Bob Sponsor refused (550)"  # named, never by address


def test_a_relay_that_is_down_leaves_every_message_pending(store: Store, tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(
        state=tmp_path / "state.sqlite3",
        credentials=NOT_A_DRY_RUN,
        smtp_host="127.0.0.1",
        smtp_port=port,
        mail_from=SENDER,
    )
    queue_stop(store, settings, "foo")
    queue_stop(store, settings, "bar")
    deliver(store, settings)
    assert {(d.status, d.attempts) for d in outbox.deliveries(store)} == {(Status.PENDING, 1)}
    with SmtpServer(port=port) as server:
        deliver(store, settings)
        deliver(store, settings)
        assert sorted(r.message["Subject"].split()[2] for r in server.received) == ["bar", "foo"]
    assert {d.status for d in outbox.deliveries(store)} == {Status.SENT}


def test_a_missing_sender_keeps_messages_pending(store: Store, tmp_path: Path) -> None:
    with SmtpServer() as server:
        settings = settings_for(server, tmp_path)
        queue_stop(store, settings)
        deliver(store, replace(settings, mail_from=None))
        assert server.received == []
        assert only(store).status is Status.PENDING
        assert "mail_from" in (only(store).last_error or "")
        deliver(store, settings)
        assert len(server.received) == 1
