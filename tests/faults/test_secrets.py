"""The Launchpad credentials and the SMTP password appear nowhere but in their files.

Known secret values go in; then everything the program shows or keeps is searched
for them: every log line at DEBUG level (the engine's, launchpadlib's, urllib3's...),
stdout and stderr, the report directory, a dump of the state database (outbox errors
included), the dry run's mail previews, the mail actually sent, and the errors of a
wrong SMTP password and of a rejected Launchpad token. On the charm side (ops.testing),
the files the charm writes, the commands it runs, its action results, statuses, logs
and relation data; and the two secret files are mode 0600, owned by the service user.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import ops
import pytest
from layout import SYSTEM_USER, Layout
from ops import testing
from workload import CommandResult

import charm
from charm import PhasedUpdaterCharm
from tests.charm.fake_workload import FakeWorkload
from tests.doubles.launchpad import Fault, write_credentials_file
from tests.functional.engine import CONSUMER, Engine
from tests.functional.smtp_server import SmtpServer

LP_TOKEN = "tokenkey-QwErTy8842"
LP_SECRET = "lp-secret-7c1e5a90b3d24f68"
SMTP_USER = "phaser"
SMTP_PASSWORD = "smtp-pass-4b9d0e2a61f7"
WRONG_SMTP_PASSWORD = "wrong-pass-93e1c4d7"
WRONG_LP_SECRET = "lp-wrong-2f8a6c0e4d"
SECRETS = (LP_SECRET, SMTP_PASSWORD, WRONG_SMTP_PASSWORD, WRONG_LP_SECRET)


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def files_text(directory: Path) -> str:
    if not directory.is_dir():
        return ""
    return "\n".join(
        f"{path}\n{path.read_text(encoding='utf-8', errors='replace')}"
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    )


def database_dump(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return "\n".join(db.iterdump())
    finally:
        db.close()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_no_secret_in_logs_report_database_previews_or_mail(
    engine: Engine, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    # Credentials only the engine's files hold: a token of its own, a password file.
    engine.launchpad.add_token(CONSUMER, LP_TOKEN, LP_SECRET, admin=True)
    write_credentials_file(engine.credentials, CONSUMER, LP_TOKEN, LP_SECRET)
    password_file = engine.secrets / "smtp-password"
    password_file.write_text(WRONG_SMTP_PASSWORD + "\n")
    password_file.chmod(0o600)
    with SmtpServer(users={SMTP_USER: SMTP_PASSWORD}) as relay:
        engine.options += [
            *("--smtp-host", "127.0.0.1", "--smtp-port", str(relay.port)),
            *("--smtp-auth", "plain", "--smtp-user", SMTP_USER),
            *("--smtp-password-file", str(password_file)),
            *("--mail-from", "phaser@ubuntu.example"),
        ]
        # 1. The relay refuses the password: the stops' messages wait in the outbox.
        assert engine.run() == 0
        assert relay.received == []
        refused = database_dump(engine.home / "state.sqlite3")
        assert "535" in refused  # the refusal is recorded with the message
        # 2. The right password: they go out.
        password_file.write_text(SMTP_PASSWORD + "\n")
        engine.later(1)
        assert engine.run() == 0
        assert relay.received, "nothing was mailed: the test would prove nothing about mail"
        sent = "\n".join(r.data.decode("utf-8", "replace") for r in relay.received)
        logins = {r.login for r in relay.received}
    assert logins == {SMTP_USER}
    # 3. A dry run writes the messages it would send as previews.
    engine.later(1)
    assert engine.run("--dry-run") == 0
    # 4. Launchpad rejects the token's secret.
    write_credentials_file(engine.credentials, CONSUMER, LP_TOKEN, WRONG_LP_SECRET)
    engine.later(1)
    assert engine.run() == 1
    assert "rejected the credentials" in caplog.text
    outputs = capsys.readouterr()

    logged = "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
    )
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    places = {
        "log records": logged,
        "stdout and stderr": outputs.out + outputs.err,
        "report directory": files_text(engine.report_dir),
        "state database after the refusal": refused,
        "state database": database_dump(engine.home / "state.sqlite3"),
        "mail previews": files_text(engine.home / "mail-preview"),
        "mail sent": sent,
    }
    assert {where: leaks(text) for where, text in places.items() if leaks(text)} == {}


def echoed_request(secret: str) -> str:
    """What a proxy or a debug page answers: the request, Authorization header included."""
    return (
        "<h1>Internal Server Error</h1><pre>GET /devel/ubuntu HTTP/1.1\r\n"
        f'Authorization: OAuth realm="OAuth", oauth_consumer_key="{CONSUMER}",'
        f' oauth_token="{LP_TOKEN}", oauth_signature="%26{secret}"\r\n</pre>'
    )


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_no_secret_from_error_bodies_or_replies_reaches_any_output(
    engine: Engine, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Launchpad's and the Error Tracker's error bodies and the relay's replies echo the
    secrets back; they are kept out of every output by `errors.error_text`."""
    caplog.set_level(logging.DEBUG)
    engine.launchpad.add_token(CONSUMER, LP_TOKEN, LP_SECRET, admin=True)
    write_credentials_file(engine.credentials, CONSUMER, LP_TOKEN, LP_SECRET)
    password_file = engine.secrets / "smtp-password"
    password_file.write_text(SMTP_PASSWORD + "\n")
    # A 500 echoing the request on a read, and on a write (hello steps, its POST fails).
    engine.launchpad.faults += [
        Fault("GET", r"ws\.op=getPublishedBinaries", body=echoed_request(LP_SECRET)),
        Fault("POST", r"\+binarypub/", body=echoed_request(LP_SECRET)),
    ]
    engine.errors.failures[("package-rate-of-crashes", "zed")] = "500"
    engine.errors.failure_body = echoed_request(LP_SECRET) + f" smtp password {SMTP_PASSWORD}"
    with SmtpServer(
        users={SMTP_USER: SMTP_PASSWORD},
        refuse_data=f"554 5.7.1 rejected: AUTH PLAIN {SMTP_PASSWORD} {LP_SECRET}",
    ) as relay:
        engine.options += [
            *("--smtp-host", "127.0.0.1", "--smtp-port", str(relay.port)),
            *("--smtp-auth", "plain", "--smtp-user", SMTP_USER),
            *("--smtp-password-file", str(password_file)),
            *("--mail-from", "phaser@ubuntu.example"),
        ]
        assert engine.run() == 1
    outputs = capsys.readouterr()
    assert "HTTP 500" in caplog.text  # the failures are there, as status and reason
    # Every log record but the test relay's own (aiosmtpd logs what it sends as "mail.log").
    logged = "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if r.name != "mail.log"
    )
    secrets = (LP_TOKEN, LP_SECRET, SMTP_PASSWORD)
    places = {
        "log records": logged,
        "stdout and stderr": outputs.out + outputs.err,
        "report directory": files_text(engine.report_dir),
        "state database": database_dump(engine.home / "state.sqlite3"),
    }
    found = {where: [s for s in secrets if s in text] for where, text in places.items()}
    assert {where: hits for where, hits in found.items() if hits} == {}


# -- the charm (ops.testing) ------------------------------------------------------------

CREDENTIALS_FILE = (
    f"[1]\nconsumer_key = {CONSUMER}\nconsumer_secret = \naccess_token = {LP_TOKEN}\n"
    f"access_secret = {LP_SECRET}\n"
)


@pytest.fixture
def workload(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> FakeWorkload:
    fake = FakeWorkload(tmp_path_factory.mktemp("unit"))
    monkeypatch.setattr(charm, "SystemWorkload", lambda layout: fake)
    return fake


def test_the_charm_keeps_secrets_in_0600_files_and_nowhere_else(workload: FakeWorkload) -> None:
    ctx = testing.Context(PhasedUpdaterCharm)
    credentials = testing.Secret(tracked_content={"credentials": CREDENTIALS_FILE})
    password = testing.Secret(tracked_content={"password": SMTP_PASSWORD})
    smtp = testing.Relation(
        "smtp",
        remote_app_name="smtp-integrator",
        remote_app_data={
            "host": "smtp.example.com",
            "port": "587",
            "user": SMTP_USER,
            "password_id": password.id,
            "auth_type": "plain",
            "transport_security": "starttls",
            "domain": "example.com",
            "skip_ssl_verify": "False",
            "smtp_sender": "phaser@example.com",
        },
    )
    peers = testing.PeerRelation("phased-updater-peers", peers_data={1: {}})
    state = testing.State(
        leader=True,
        config={"launchpad-credentials": credentials.id},
        secrets={credentials, password},
        relations={smtp, peers},
    )
    state = ctx.run(ctx.on.install(), state)
    state = ctx.run(ctx.on.relation_changed(smtp), state)
    # What the engine printed comes back as the action's log; say it was clean.
    workload.command_results.append(CommandResult(0, "", "INFO cycle done\n"))
    state = ctx.run(ctx.on.action("run-now"), state)
    results = dict(ctx.action_results or {})
    state = ctx.run(ctx.on.action("list-overrides"), state)
    results |= dict(ctx.action_results or {})
    assert isinstance(state.unit_status, ops.ActiveStatus | ops.WaitingStatus), state.unit_status

    layout = Layout()
    for path in (layout.credentials, layout.smtp_password):
        record = workload.files[path]
        assert (record.mode, record.owner) == (0o600, SYSTEM_USER), path
    assert LP_SECRET in workload.files[layout.credentials].content
    assert workload.files[layout.smtp_password].content.strip() == SMTP_PASSWORD

    elsewhere = {
        str(path): record.content
        for path, record in workload.files.items()
        if path not in (layout.credentials, layout.smtp_password)
    }
    places = {
        **elsewhere,
        "commands run": json.dumps(workload.commands),
        "calls": json.dumps(workload.calls),
        "action results": json.dumps(results),
        "statuses": " ".join(str(s) for s in (*ctx.unit_status_history, state.unit_status)),
        "juju-log": "\n".join(entry.message for entry in ctx.juju_log),
        "relation data": json.dumps(
            [dict(r.local_unit_data) | dict(r.local_app_data) for r in state.relations]
        ),
    }
    assert {where: leaks(text) for where, text in places.items() if leaks(text)} == {}
