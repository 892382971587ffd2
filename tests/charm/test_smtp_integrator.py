"""Every smtp-integrator configuration: the unit either blocks saying what to do, or
writes a config.toml with which the engine can send (its own SmtpConfig accepts it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import ops
import pytest
from ops import testing

from charm import PhasedUpdaterCharm
from phased_updater.cli import build_parser
from phased_updater.config import load_settings
from phased_updater.mail.smtp import SmtpConfig
from tests.charm.fake_workload import FakeWorkload
from tests.charm.smtp_integrator import CONFIGURATIONS, GRANTED_SECRET_ID, Published, publish

CONFIG = Path("/etc/phased-updater/config.toml")
PASSWORD = Path("/etc/phased-updater/smtp-password")

# What `juju status` says for the ones that cannot send.
BLOCKED = {
    "plain+user-secret": (
        "invalid smtp relation password_id 'secret:cu0own0user0secret0': not readable by "
        "phased-updater: a password_secret of your own must be granted, run "
        "juju grant-secret secret:cu0own0user0secret0 phased-updater"
    ),
    "plain-without-user": (
        "invalid smtp relation user '': auth_type is plain, so the relay needs a user: "
        "juju config smtp-integrator user=NAME (or auth_type=none)"
    ),
}
# The engine's view of the rest: (port, auth, security, user, skip_verify).
SENDS = {
    "none": (25, "none", "none", None, False),
    "plain+password": (587, "plain", "none", "phaser", False),
    "starttls": (587, "plain", "starttls", "phaser", False),
    "tls": (465, "plain", "tls", "phaser", False),
    "skip-verify+sender+domain+recipients": (25, "none", "starttls", None, True),
    "not_provided": (25, "none", "none", None, False),
    "legacy": (25, "plain", "none", "phaser", False),
}


def state_for(published: Published) -> tuple[testing.State, testing.Relation]:
    secrets = []
    if published.granted_secret is not None:
        secrets.append(testing.Secret(tracked_content=published.granted_secret))
    databag = dict(published.databag)
    if secrets:
        databag["password_id"] = secrets[0].id
    relation = testing.Relation("smtp", remote_app_name="smtp-integrator", remote_app_data=databag)
    return testing.State(leader=True, relations={relation}, secrets=secrets), relation


def test_every_configuration_is_covered() -> None:
    assert set(BLOCKED) | set(SENDS) == set(CONFIGURATIONS)


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_each_smtp_integrator_configuration(
    name: str,
    ctx: testing.Context[PhasedUpdaterCharm],
    workload: FakeWorkload,
    tmp_path: Path,
) -> None:
    published = publish(CONFIGURATIONS[name])
    assert published.databag.get("password_id") in (None, GRANTED_SECRET_ID) or (
        published.user_secret_id
    )
    state, relation = state_for(published)

    out = ctx.run(ctx.on.relation_changed(relation), state)

    if name in BLOCKED:
        assert out.unit_status == ops.BlockedStatus(BLOCKED[name])
        assert "s3cret" not in out.unit_status.message
        assert CONFIG not in workload.files  # nothing half-applied
        return
    assert isinstance(out.unit_status, ops.ActiveStatus), out.unit_status
    # The engine's own checks on what the charm wrote (the password path moved here).
    text = workload.files[CONFIG].content.replace(str(PASSWORD), str(tmp_path / "password"))
    (tmp_path / "config.toml").write_text(text)
    if PASSWORD in workload.files:
        (tmp_path / "password").write_text(workload.files[PASSWORD].content)
        assert workload.files[PASSWORD].mode == 0o600
    settings = load_settings(
        build_parser().parse_args(["run", "--config", str(tmp_path / "config.toml")])
    )
    smtp: Any = SmtpConfig.from_settings(settings)
    assert smtp is not None
    assert (smtp.port, smtp.auth, smtp.security, smtp.user, smtp.skip_verify) == SENDS[name]
    if smtp.auth == "plain":
        assert smtp.password == "s3cret"


def test_granting_the_user_secret_unblocks(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    published = publish(CONFIGURATIONS["plain+user-secret"])
    secret = testing.Secret(tracked_content={"password": "own"}, owner=None)
    databag = {**published.databag, "password_id": secret.id}
    relation = testing.Relation("smtp", remote_app_name="smtp-integrator", remote_app_data=databag)
    blocked = ctx.run(
        ctx.on.relation_changed(relation), testing.State(leader=True, relations={relation})
    )
    assert "juju grant-secret" in blocked.unit_status.message

    # `juju grant-secret` runs no hook on this unit: the next one (update-status) reads it.
    granted = dataclasses.replace(blocked, secrets=frozenset({secret}))
    out = ctx.run(ctx.on.update_status(), granted)

    assert isinstance(out.unit_status, ops.ActiveStatus)
    assert workload.files[PASSWORD].content == "own"
