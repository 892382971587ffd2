"""The SMTP relay refuses the session, or is too slow to answer at all.

Either way the cycle's decisions stand, its messages stay queued with the reason,
the cycle is not held up longer than the SMTP timeout, and once a working relay is
back every message goes out exactly once (no Message-ID twice, however many runs).
A relay that is down (nothing listening) and the other refusals are covered by
tests/functional/test_mail_engine.py and test_mail_smtp.py.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

from phased_updater.mail import outbox
from phased_updater.store import Store
from tests.functional.engine import Engine
from tests.functional.smtp_server import SmtpServer

SENDER = "phaser@ubuntu.example"
SMTP_TIMEOUT = 0.5
# libfoo and gizmo are mailed; cryptkit's people hide their addresses (skipped).
MAILED = 2


class ScriptedRelay:
    """A TCP listener on 127.0.0.1 that plays a broken relay.

    With `greeting` None it never accepts: the kernel completes the connection, and
    the client then waits for a greeting that never comes. Otherwise every
    connection gets `greeting` and is closed.
    """

    def __init__(self, greeting: bytes | None) -> None:
        self.greeting = greeting
        self.connections = 0
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self._socket.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            with connection:
                self.connections += 1
                if self.greeting is not None:
                    connection.sendall(self.greeting)

    def __enter__(self) -> Self:
        if self.greeting is not None:
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._socket.close()


@pytest.fixture
def mailing_engine(engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    config = tmp_path / "mail.toml"
    config.write_text(f'smtp_timeout = {SMTP_TIMEOUT}\nmail_from = "{SENDER}"\n')
    engine.options += ["--config", str(config), "--smtp-host", "127.0.0.1"]
    yield engine


def deliveries(engine: Engine) -> Counter[str]:
    store = Store.open(engine.home / "state.sqlite3")
    try:
        return Counter(str(d.status) for d in outbox.deliveries(store))
    finally:
        store.close()


def last_errors(engine: Engine) -> list[str]:
    store = Store.open(engine.home / "state.sqlite3")
    try:
        return [d.last_error or "" for d in outbox.deliveries(store) if d.status == "pending"]
    finally:
        store.close()


def assert_sent_exactly_once_later(engine: Engine) -> None:
    """With a working relay, two more runs: every queued message goes out once."""
    with SmtpServer() as relay:
        engine.options += ["--smtp-port", str(relay.port)]
        for _ in range(2):
            engine.later(1)
            assert engine.run() == 0
        ids = [str(r.message["Message-ID"]) for r in relay.received]
    assert len(ids) == MAILED
    assert len(set(ids)) == len(ids)
    assert deliveries(engine)["pending"] == 0


@pytest.mark.parametrize(
    ("greeting", "reason"),
    [
        (b"554 5.3.2 not accepting mail\r\n", "554"),
        (b"421 4.3.2 shutting down\r\n", "421"),
        (b"", "SMTPServerDisconnected"),
    ],
    ids=["554-at-greeting", "421-at-greeting", "hang-up"],
)
def test_a_relay_refusing_the_session_keeps_the_mail_for_later(
    mailing_engine: Engine, greeting: bytes, reason: str
) -> None:
    with ScriptedRelay(greeting) as broken:
        mailing_engine.options += ["--smtp-port", str(broken.port)]
        assert mailing_engine.run() == 0  # the decisions stand; the mail waits
        assert broken.connections >= 1
    assert mailing_engine.package("libfoo")["state"] == "stopped"
    assert deliveries(mailing_engine)["pending"] == MAILED
    errors = last_errors(mailing_engine)
    assert any(reason in error for error in errors), errors
    mailing_engine.options = mailing_engine.options[:-2]
    assert_sent_exactly_once_later(mailing_engine)


def test_a_relay_that_never_answers_costs_one_timeout_not_the_cycle(
    mailing_engine: Engine,
) -> None:
    with ScriptedRelay(None) as silent:
        mailing_engine.options += ["--smtp-port", str(silent.port)]
        began = time.monotonic()
        assert mailing_engine.run() == 0
        elapsed = time.monotonic() - began
    # One timeout for the whole run: the other messages are not tried against it.
    assert elapsed < 10 * SMTP_TIMEOUT + 5
    assert deliveries(mailing_engine)["pending"] == MAILED
    errors = last_errors(mailing_engine)
    assert any("no complete answer within 0.5 s" in error for error in errors), errors
    assert any("not tried" in error for error in errors), errors
    mailing_engine.options = mailing_engine.options[:-2]
    assert_sent_exactly_once_later(mailing_engine)


def test_an_smtp_timeout_out_of_range_is_refused(
    mailing_engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mail.toml"
    config.write_text("smtp_timeout = 0\n")
    assert mailing_engine.run() == 2
    assert "smtp_timeout 0" in capsys.readouterr().err
