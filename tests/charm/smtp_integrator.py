"""What smtp-integrator writes into its application databag, for each way it is configured.

Written from the `smtp` interface's documented behaviour (see the reference notes on
smtp-integrator), not from its code: every value is a string; an option left unset is
not sent; `skip_ssl_verify` is Python's `str(bool)`; `recipients` is a JSON list;
with its `password` option it creates a secret, grants it to the relation and sends
its id as `password_id`; with `password_secret` (the user's own secret) it sends that
id but grants nothing; its `smtp-legacy` endpoint sends the password in clear as
`password`. It accepts `auth_type=plain` without a user.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class IntegratorConfig:
    """smtp-integrator's options, as `juju config smtp-integrator` sets them."""

    host: str = "smtp.example.com"
    port: int = 25
    user: str = ""
    password: str = ""  # the integrator makes a secret of it and grants it
    password_secret: str = ""  # a user's own secret: passed on, not granted
    auth_type: str = "none"
    transport_security: str = "none"
    domain: str = ""
    skip_ssl_verify: bool = False
    smtp_sender: str = ""
    recipients: tuple[str, ...] = ()
    legacy: bool = False  # integrated over smtp-legacy rather than smtp


@dataclass(frozen=True)
class Published:
    """The application databag, and the secret the relation may read (if any)."""

    databag: dict[str, str]
    granted_secret: dict[str, str] | None = None  # the content of password_id, if granted
    user_secret_id: str = ""  # a password_secret id the relation was never granted
    notes: list[str] = field(default_factory=list)


GRANTED_SECRET_ID = "secret:granted-by-integrator"


def publish(config: IntegratorConfig) -> Published:
    databag = {
        "host": config.host,
        "port": str(config.port),
        "auth_type": config.auth_type,
        "transport_security": config.transport_security,
        "skip_ssl_verify": str(config.skip_ssl_verify),
    }
    for key in ("user", "domain", "smtp_sender"):
        value = getattr(config, key)
        if value:
            databag[key] = value
    if config.recipients:
        databag["recipients"] = json.dumps(list(config.recipients))
    if config.legacy:
        if config.password:
            databag["password"] = config.password
        return Published(databag)
    if config.password:
        databag["password_id"] = GRANTED_SECRET_ID
        return Published(databag, granted_secret={"password": config.password})
    if config.password_secret:
        databag["password_id"] = config.password_secret
        return Published(databag, user_secret_id=config.password_secret)
    return Published(databag)


# Each configuration the issue lists, by name.
CONFIGURATIONS: dict[str, IntegratorConfig] = {
    "none": IntegratorConfig(),
    "plain+password": IntegratorConfig(
        port=587, user="phaser", password="s3cret", auth_type="plain"
    ),
    "plain+user-secret": IntegratorConfig(
        port=587, user="phaser", password_secret="secret:cu0own0user0secret0", auth_type="plain"
    ),
    "starttls": IntegratorConfig(
        port=587,
        user="phaser",
        password="s3cret",
        auth_type="plain",
        transport_security="starttls",
    ),
    "tls": IntegratorConfig(
        port=465, user="phaser", password="s3cret", auth_type="plain", transport_security="tls"
    ),
    "skip-verify+sender+domain+recipients": IntegratorConfig(
        transport_security="starttls",
        skip_ssl_verify=True,
        smtp_sender="phaser@example.com",
        domain="example.com",
        recipients=("sru@example.com", "ops@example.com"),
    ),
    "not_provided": IntegratorConfig(auth_type="not_provided"),
    "plain-without-user": IntegratorConfig(password="s3cret", auth_type="plain"),
    "legacy": IntegratorConfig(user="phaser", password="s3cret", auth_type="plain", legacy=True),
}
