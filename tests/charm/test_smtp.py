"""smtp (smtp-integrator): application data and its password secret reach the engine."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import ops
from ops import testing

from charm import PhasedUpdaterCharm
from tests.charm.fake_workload import FakeWorkload

CONFIG = Path("/etc/phased-updater/config.toml")
PASSWORD = Path("/etc/phased-updater/smtp-password")


def smtp_relation(password_id: str, **extra: str) -> testing.Relation:
    data = {
        "host": "smtp.example.com",
        "port": "587",
        "user": "phaser",
        "password_id": password_id,
        "auth_type": "plain",
        "transport_security": "starttls",
        "domain": "example.com",
        "skip_ssl_verify": "False",
        "smtp_sender": "phaser@example.com",
        **extra,
    }
    return testing.Relation("smtp", remote_app_name="smtp-integrator", remote_app_data=data)


def engine_config(workload: FakeWorkload) -> dict[str, Any]:
    return tomllib.loads(workload.files[CONFIG].content)


def test_relation_changed_configures_mail(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    password = testing.Secret(tracked_content={"password": "s3cret"})
    smtp = smtp_relation(password.id)
    state = testing.State(
        leader=True, relations={smtp}, secrets={password}, config={"mail-cc": "sru@example.com"}
    )

    out = ctx.run(ctx.on.relation_changed(smtp), state)

    config = engine_config(workload)
    assert {key: value for key, value in config.items() if key.startswith(("smtp", "mail"))} == {
        "smtp_host": "smtp.example.com",
        "smtp_port": 587,
        "smtp_auth": "plain",
        "smtp_security": "starttls",
        "smtp_skip_verify": False,
        "smtp_user": "phaser",
        "smtp_password_file": str(PASSWORD),
        "mail_from": "phaser@example.com",
        "mail_cc": ["sru@example.com"],
    }
    record = workload.files[PASSWORD]
    assert (record.content, record.mode, record.owner) == ("s3cret", 0o600, "phased-updater")
    assert "email off" not in out.unit_status.message


def test_reply_to_and_subject_prefix_reach_the_engine(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    password = testing.Secret(tracked_content={"password": "s3cret"})
    smtp = smtp_relation(password.id)
    config: dict[str, str | int | float | bool] = {
        "mail-cc": "sru@example.com",
        "mail-reply-to": "ubuntu-release@example.com, sru@example.com",
        "mail-subject-prefix": " [phased-updater] ",
    }
    state = testing.State(leader=True, relations={smtp}, secrets={password}, config=config)

    ctx.run(ctx.on.relation_changed(smtp), state)

    written = engine_config(workload)
    assert written["mail_reply_to"] == ["ubuntu-release@example.com", "sru@example.com"]
    assert written["mail_subject_prefix"] == "[phased-updater]"


def test_mail_from_option_wins_over_the_relation_sender(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    password = testing.Secret(tracked_content={"password": "s3cret"})
    smtp = smtp_relation(password.id)
    state = testing.State(
        leader=True,
        relations={smtp},
        secrets={password},
        config={"mail-from": "ubuntu-sru-bot@canonical.com"},
    )

    ctx.run(ctx.on.relation_changed(smtp), state)

    assert engine_config(workload)["mail_from"] == "ubuntu-sru-bot@canonical.com"


def test_secret_changed_rewrites_the_password(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    password = testing.Secret(
        tracked_content={"password": "s3cret"}, latest_content={"password": "rotated"}
    )
    smtp = smtp_relation(password.id)
    state = testing.State(leader=True, relations={smtp}, secrets={password})

    ctx.run(ctx.on.secret_changed(password), state)

    assert workload.files[PASSWORD].content == "rotated"


def test_no_auth_means_no_password_file(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    smtp = testing.Relation(
        "smtp",
        remote_app_name="smtp-integrator",
        remote_app_data={"host": "relay.internal", "port": "25", "auth_type": "none"},
    )

    ctx.run(ctx.on.relation_changed(smtp), testing.State(leader=True, relations={smtp}))

    config = engine_config(workload)
    assert (config["smtp_host"], config["smtp_port"], config["smtp_auth"]) == (
        "relay.internal",
        25,
        "none",
    )
    assert "smtp_password_file" not in config
    assert PASSWORD not in workload.files


def test_broken_relation_turns_mail_off(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    password = testing.Secret(tracked_content={"password": "s3cret"})
    smtp = smtp_relation(password.id)
    state = ctx.run(
        ctx.on.relation_changed(smtp),
        testing.State(leader=True, relations={smtp}, secrets={password}),
    )

    out = ctx.run(ctx.on.relation_broken(smtp), state)

    assert not any(key.startswith("smtp") for key in engine_config(workload))
    assert PASSWORD not in workload.files
    assert "email off (no smtp integration)" in out.unit_status.message


def test_relation_without_data_yet(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    smtp = testing.Relation("smtp", remote_app_name="smtp-integrator")

    out = ctx.run(ctx.on.relation_changed(smtp), testing.State(leader=True, relations={smtp}))

    assert "email off (waiting for smtp data)" in out.unit_status.message


def test_bad_port_blocks(ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload) -> None:
    smtp = testing.Relation(
        "smtp", remote_app_name="smtp-integrator", remote_app_data={"host": "h", "port": "smtp"}
    )

    out = ctx.run(ctx.on.relation_changed(smtp), testing.State(leader=True, relations={smtp}))

    assert out.unit_status == ops.BlockedStatus(
        "invalid smtp relation port 'smtp': is not a TCP port"
    )
    assert workload.calls == []


def test_unreadable_password_secret_blocks(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    smtp = smtp_relation("secret:cs0bn9ue1lnc73ak3fd0")

    out = ctx.run(ctx.on.relation_changed(smtp), testing.State(leader=True, relations={smtp}))

    assert out.unit_status == ops.BlockedStatus(
        "invalid smtp relation password_id 'secret:cs0bn9ue1lnc73ak3fd0': not readable by "
        "phased-updater: a password_secret of your own must be granted, run "
        "juju grant-secret secret:cs0bn9ue1lnc73ak3fd0 phased-updater"
    )


def test_a_relay_without_a_sender_and_no_mail_from_says_email_is_held(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    password = testing.Secret(tracked_content={"password": "s3cret"})
    smtp = smtp_relation(password.id, smtp_sender="")
    state = testing.State(leader=True, relations={smtp}, secrets={password})

    out = ctx.run(ctx.on.relation_changed(smtp), state)

    assert "mail_from" not in engine_config(workload)
    assert "email held: set mail-from" in out.unit_status.message
