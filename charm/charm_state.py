"""Juju's untyped config, secrets and relation data, parsed once into one typed state.

Nothing outside this module reads a raw option, secret or databag: the charm builds a
`CharmState` with `CharmState.from_charm` at the start of every hook, or learns from
`ConfigurationError` which option holds which bad value.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import ops
from cos_agent import Topology
from peer_data import LEADER_KEY, PeerDataError, PeerRecords

from phased_updater.config import (
    DEFAULT_OVERRIDES_BRANCH,
    DEFAULT_OVERRIDES_FILE,
    SMTP_SECURITY,
    git_branch_problem,
    git_file_problem,
    git_url_problem,
)
from phased_updater.debian import is_series_name
from phased_updater.duration import parse_duration
from phased_updater.errors import EntryError
from phased_updater.freeze import FreezeCalendar
from phased_updater.groups import Group, Groups, parse_groups
from phased_updater.log_format import DEFAULT_LEVEL, LEVELS
from phased_updater.speed import SpeedClass, SpeedClasses, parse_classes, parse_sources
from phased_updater.text import one_line, redact

MIN_INTERVAL_SECONDS = 15 * 60
LAUNCHPAD_INSTANCES = ("production", "staging", "qastaging")
# The relations this state is read from (metadata.yaml names them).
PEER = "phased-updater-peers"
VHOST_CONFIG = "apache-vhost-config"
SMTP = "smtp"
# Deliberately loose: a mail address is checked by the relay; this rejects typos and
# anything that could break out of a mail header (whitespace, commas, angle brackets).
_MAIL_ADDRESS = re.compile(r"[^@\s,<>\"]+@[^@\s,<>\"]+")
# smtp-integrator's auth_type values, as the engine's smtp_auth values (config.SMTP_AUTH).
SMTP_AUTH_TYPES = {"none": "none", "not_provided": "none", "plain": "plain"}
# Reading the report server's port as an unprivileged user needs an unprivileged port.
MIN_REPORT_PORT = 1024


class ConfigurationError(ValueError):
    """A value the charm cannot use: names where it came from, the value and why."""

    def __init__(self, option: str, value: object, reason: str) -> None:
        self.option = option
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {option} {value!r}: {reason}")


def _is_http_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _split_list(text: str) -> tuple[str, ...]:
    items = (item.strip() for item in text.split(","))
    return tuple(dict.fromkeys(item for item in items if item))


def _duration(option: str, text: str) -> timedelta:
    try:
        duration = parse_duration(text)
    except ValueError as error:
        # The engine's message repeats the value; keep only the reason.
        reason = str(error).split(": ", 1)[-1]
        raise ConfigurationError(option, text, reason) from None
    if duration.total_seconds() < MIN_INTERVAL_SECONDS:
        raise ConfigurationError(option, text, "must be at least 15m")
    return duration


# Ubuntu's proposal (ubuntu-release, January 2025): nothing reaches 100% between
# Friday 00:00 and Monday 12:00 UTC, while nobody watches.
DEFAULT_FREEZE_WINDOWS = "Fri 00:00-Mon 12:00"
PHASING_TABLES = ("classes", "sources", "groups")


@dataclass(frozen=True)
class PhasingTables:
    """The `phasing` option, parsed and checked by the engine's own parsers."""

    classes: tuple[SpeedClass, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()
    groups: tuple[Group, ...] = ()


def parse_phasing(text: str, step: int, interval: timedelta) -> PhasingTables:
    """The `phasing` option's TOML; ConfigurationError naming the bad entry."""
    if not text.strip():
        return PhasingTables()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError("phasing", "", f"not valid TOML ({error})") from None
    for table in data:
        if table not in PHASING_TABLES:
            raise ConfigurationError(
                "phasing", table, "unknown table: expected [classes], [sources] or [groups]"
            )
    try:
        classes = parse_classes(data.get("classes", {}))
        sources = parse_sources(data.get("sources", {}))
        groups = Groups(parse_groups(data.get("groups", {})))
        groups.check(SpeedClasses(step, interval, classes, sources))
    except EntryError as error:
        raise ConfigurationError("phasing", error.entry, error.reason) from None
    for speed in classes:
        if speed.interval is not None and speed.interval.total_seconds() < MIN_INTERVAL_SECONDS:
            raise ConfigurationError(
                "phasing", f"classes.{speed.name}.interval", "must be at least 15m"
            )
    return PhasingTables(classes, sources, groups.groups)


def parse_freeze_windows(text: str) -> tuple[str, ...]:
    """The `freeze-windows` option, as the engine writes each window."""
    try:
        return FreezeCalendar.parse(_split_list(text)).texts()
    except EntryError as error:
        raise ConfigurationError("freeze-windows", error.entry, error.reason) from None


@dataclass(frozen=True, kw_only=True)
class CharmConfig:
    """`juju config`, loaded with CharmBase.load_config; raises ConfigurationError."""

    step: int = 10
    interval: str = "6h"
    run_every: str = ""
    series: str = ""
    launchpad: str = "production"
    launchpad_credentials: ops.Secret | None = None
    errors_url: str = "https://errors.ubuntu.com/api/1.0/"
    dry_run: bool = False
    mail_from: str = ""
    mail_cc: str = ""
    mail_reply_to: str = ""
    mail_subject_prefix: str = ""
    log_level: str = DEFAULT_LEVEL
    report_port: int = 8080
    report_url: str = ""
    # The git branch the SRU team keeps its overrides in; empty: the actions' alone.
    overrides_repository: str = ""
    overrides_branch: str = DEFAULT_OVERRIDES_BRANCH
    overrides_file: str = DEFAULT_OVERRIDES_FILE
    phasing: str = ""
    freeze_windows: str = DEFAULT_FREEZE_WINDOWS
    reminder_days: int = 7
    # Derived, typed forms of the strings above.
    run_every_seconds: int = field(init=False)  # the timer's period
    series_list: tuple[str, ...] = field(init=False)
    mail_cc_list: tuple[str, ...] = field(init=False)
    mail_reply_to_list: tuple[str, ...] = field(init=False)
    phasing_tables: PhasingTables = field(init=False)
    freeze_window_list: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not 1 <= self.step <= 100:
            raise ConfigurationError("step", self.step, "must be between 1 and 100")
        interval = _duration("interval", self.interval)
        run_every = interval
        if self.run_every:
            run_every = _duration("run-every", self.run_every)
            if run_every > interval:
                # Steps would then come every run-every, not every interval.
                raise ConfigurationError(
                    "run-every",
                    self.run_every,
                    f"must not be longer than interval ({self.interval})",
                )
        series = _split_list(self.series)
        for name in series:
            if not is_series_name(name):
                raise ConfigurationError(
                    "series", self.series, f"{name!r} is not a series name such as noble"
                )
        if self.launchpad not in LAUNCHPAD_INSTANCES and not _is_http_url(self.launchpad):
            raise ConfigurationError(
                "launchpad", self.launchpad, "must be production, staging, qastaging or a URL"
            )
        if not _is_http_url(self.errors_url):
            raise ConfigurationError("errors-url", self.errors_url, "must be an http(s) URL")
        if self.mail_from and not _MAIL_ADDRESS.fullmatch(self.mail_from):
            raise ConfigurationError("mail-from", self.mail_from, "is not a mail address")
        cc = _split_list(self.mail_cc)
        for address in cc:
            if not _MAIL_ADDRESS.fullmatch(address):
                raise ConfigurationError(
                    "mail-cc", self.mail_cc, f"{address!r} is not a mail address"
                )
        reply_to = _split_list(self.mail_reply_to)
        for address in reply_to:
            if not _MAIL_ADDRESS.fullmatch(address):
                raise ConfigurationError(
                    "mail-reply-to", self.mail_reply_to, f"{address!r} is not a mail address"
                )
        if one_line(self.mail_subject_prefix) != self.mail_subject_prefix.strip():
            raise ConfigurationError(
                "mail-subject-prefix", self.mail_subject_prefix, "must be one line of text"
            )
        if self.log_level not in LEVELS:
            raise ConfigurationError(
                "log-level", self.log_level, f"must be one of {', '.join(LEVELS)}"
            )
        if not MIN_REPORT_PORT <= self.report_port <= 65535:
            raise ConfigurationError(
                "report-port", self.report_port, f"must be between {MIN_REPORT_PORT} and 65535"
            )
        if self.report_url and not _is_http_url(self.report_url):
            raise ConfigurationError("report-url", self.report_url, "must be an http(s) URL")
        # The engine's own rules, so that the unit never writes a config it refuses.
        if self.overrides_repository:
            for option, value, problem in (
                ("overrides-repository", self.overrides_repository, git_url_problem),
                ("overrides-branch", self.overrides_branch, git_branch_problem),
                ("overrides-file", self.overrides_file, git_file_problem),
            ):
                reason = problem(value)
                if reason is not None:
                    raise ConfigurationError(option, redact(value), reason)
        if not 0 <= self.reminder_days <= 365:
            raise ConfigurationError(
                "reminder-days", self.reminder_days, "must be between 0 (off) and 365"
            )
        object.__setattr__(self, "run_every_seconds", int(run_every.total_seconds()))
        object.__setattr__(self, "series_list", series)
        object.__setattr__(self, "mail_cc_list", cc)
        object.__setattr__(self, "mail_reply_to_list", reply_to)
        object.__setattr__(self, "phasing_tables", parse_phasing(self.phasing, self.step, interval))
        object.__setattr__(self, "freeze_window_list", parse_freeze_windows(self.freeze_windows))


def _secret_value(
    option: str,
    secret_id: str,
    read: Callable[[], Mapping[str, str]],
    key: str,
    not_found: str,
) -> str | None:
    """`key` of a secret's content (None when it has no such key), or why it cannot be read."""
    try:
        content = read()
    except ops.SecretNotFoundError:
        raise ConfigurationError(option, secret_id, not_found) from None
    except ops.ModelError as error:
        raise ConfigurationError(option, secret_id, f"unreadable: {error}") from None
    return content.get(key)


def read_launchpad_credentials(secret: ops.Secret | None) -> str | None:
    """The credentials file's text; None when the option is unset."""
    if secret is None:
        return None
    secret_id = secret.id or "(unknown id)"
    credentials = _secret_value(
        "launchpad-credentials",
        secret_id,
        lambda: secret.get_content(refresh=True),
        "credentials",
        "secret not found or not granted to this app",
    )
    if credentials is None or not credentials.strip():
        raise ConfigurationError(
            "launchpad-credentials", secret_id, "the secret has no 'credentials' key"
        )
    return credentials


@dataclass(frozen=True)
class SmtpSettings:
    """The smtp-integrator's application data, in the engine's terms."""

    host: str
    port: int
    user: str
    password: str | None
    auth: str
    security: str
    skip_verify: bool
    sender: str

    @classmethod
    def from_databag(
        cls,
        databag: Mapping[str, str],
        read_secret: Callable[[str], Mapping[str, str]],
        *,
        provider: str = "smtp-integrator",
        app: str = "phased-updater",
    ) -> SmtpSettings | None:
        """None while the provider has not written its data yet.

        Data the engine could not send mail with raises ConfigurationError naming what
        to change: `auth_type=plain` without a user or password (smtp-integrator
        accepts both), and a password secret this application cannot read (a
        `password_secret` of the user's own, which smtp-integrator does not grant).
        The `smtp-legacy` endpoint's clear `password` field is used as it is.
        """
        host = databag.get("host", "")
        if not host:
            return None
        port_text = databag.get("port", "25")
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ConfigurationError("smtp relation port", port_text, "is not a TCP port")
        auth_type = databag.get("auth_type", "none")
        if auth_type not in SMTP_AUTH_TYPES:
            raise ConfigurationError("smtp relation auth_type", auth_type, "is not none or plain")
        security = databag.get("transport_security", "none")
        if security not in SMTP_SECURITY:
            raise ConfigurationError(
                "smtp relation transport_security", security, "is not none, starttls or tls"
            )
        user = databag.get("user", "")
        password = _relation_password(databag, read_secret, app)
        if SMTP_AUTH_TYPES[auth_type] == "plain":
            if not user:
                raise ConfigurationError(
                    "smtp relation user",
                    user,
                    "auth_type is plain, so the relay needs a user: "
                    f"juju config {provider} user=NAME (or auth_type=none)",
                )
            if password is None:
                raise ConfigurationError(
                    "smtp relation password_id",
                    "",
                    "auth_type is plain but no password was sent: "
                    f"juju config {provider} password_secret=SECRET_URI (or auth_type=none)",
                )
        return cls(
            host=host,
            port=int(port_text),
            user=user,
            password=password,
            auth=SMTP_AUTH_TYPES[auth_type],
            security=security,
            skip_verify=databag.get("skip_ssl_verify", "false").lower() == "true",
            sender=databag.get("smtp_sender", ""),
        )


def _relation_password(
    databag: Mapping[str, str], read_secret: Callable[[str], Mapping[str, str]], app: str
) -> str | None:
    """The password from `password_id`'s secret, or smtp-legacy's clear `password`."""
    password_id = databag.get("password_id", "")
    if not password_id:
        legacy = databag.get("password", "")
        return legacy or None
    option = "smtp relation password_id"
    grant = (
        f"not readable by {app}: a password_secret of your own must be granted, "
        f"run juju grant-secret {password_id} {app}"
    )
    password = _secret_value(
        option, password_id, lambda: read_secret(password_id), "password", grant
    )
    if password is None:
        raise ConfigurationError(option, password_id, "the secret has no 'password' key")
    return password


@dataclass(frozen=True)
class CharmState:
    """Everything the unit should look like, from config, secrets, relations and leadership."""

    config: CharmConfig
    is_leader: bool
    launchpad_credentials: str | None = None
    smtp: SmtpSettings | None = None
    smtp_related: bool = False
    peers: PeerRecords = dataclasses.field(default_factory=PeerRecords)
    # From apache2's `servername` over apache-vhost-config, when report-url is unset.
    apache_servername: str = ""
    # The unit the peer data names as leader ("" before a leader wrote it).
    leader_unit: str = ""
    proxy_env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    topology: Topology = dataclasses.field(
        default_factory=lambda: Topology("", "", "phased-updater", "phased-updater")
    )

    @classmethod
    def from_charm(cls, charm: ops.CharmBase) -> CharmState:
        """Read config, secrets, relations and leadership; ConfigurationError names a bad value."""
        config = charm.load_config(CharmConfig, errors="raise")
        model = charm.model
        smtp_relation = model.get_relation(SMTP)
        smtp = None
        if smtp_relation is not None and smtp_relation.app is not None:
            smtp = SmtpSettings.from_databag(
                smtp_relation.data[smtp_relation.app],
                lambda secret_id: model.get_secret(id=secret_id).get_content(refresh=True),
                provider=smtp_relation.app.name,
                app=charm.app.name,
            )
        # apache2 answers with `servername` in its unit data; several apache2
        # applications may be integrated, so the first one (by unit name) names the report.
        servernames = sorted(
            (unit.name, relation.data[unit].get("servername", ""))
            for relation in model.relations[VHOST_CONFIG]
            for unit in relation.units
        )
        peer = model.get_relation(PEER)
        return cls(
            config=config,
            is_leader=charm.unit.is_leader(),
            launchpad_credentials=read_launchpad_credentials(config.launchpad_credentials),
            smtp=smtp,
            smtp_related=smtp_relation is not None,
            peers=load_peer_records(peer.data[charm.app]) if peer else PeerRecords(),
            leader_unit=peer.data[charm.app].get(LEADER_KEY, "") if peer else "",
            apache_servername=next((name for _, name in servernames if name), ""),
            proxy_env=proxy_environment(os.environ),
            topology=Topology(model.name, model.uuid, charm.app.name, charm.meta.name),
        )

    @property
    def anonymous(self) -> bool:
        """Without Launchpad credentials every run is an anonymous dry run."""
        return self.launchpad_credentials is None

    @property
    def dry_run(self) -> bool:
        return self.config.dry_run or self.anonymous

    @property
    def report_url(self) -> str:
        if self.config.report_url:
            return self.config.report_url
        return f"http://{self.apache_servername}/" if self.apache_servername else ""

    @property
    def mail_from(self) -> str:
        if self.config.mail_from:
            return self.config.mail_from
        return self.smtp.sender if self.smtp else ""


def load_peer_records(databag: Mapping[str, str]) -> PeerRecords:
    try:
        return PeerRecords.load(databag)
    except PeerDataError as error:
        raise ConfigurationError("peer relation data", "", str(error)) from None


PROXY_VARIABLES = {
    "JUJU_CHARM_HTTP_PROXY": "HTTP_PROXY",
    "JUJU_CHARM_HTTPS_PROXY": "HTTPS_PROXY",
    "JUJU_CHARM_NO_PROXY": "NO_PROXY",
}


def proxy_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Juju's model proxy settings, for the engine's services (upper and lower case)."""
    result: dict[str, str] = {}
    for juju_name, name in PROXY_VARIABLES.items():
        value = environ.get(juju_name, "")
        if value:
            result[name] = value
            result[name.lower()] = value
    return result
