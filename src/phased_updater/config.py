"""Settings for a run: defaults, then the TOML config file, then the command line.

The TOML keys are the long options with underscores (`errors_url`, `report_dir`, ...).
Every value is validated here, before anything else happens, so that a bad value
stops the program with one line naming it and never half-runs a cycle.

Three tables have no option of their own, only `--config`: `[classes]` and `[sources]`
(speed classes, `speed`) and `[groups]` (phasing groups, `groups`).

`Settings` is the whole parsed configuration, and only the commands see it whole:
each component is handed what it uses (the cycle its `CycleOptions`, the Launchpad
client its `Connection`, the mail session the fields its `MailSettings` names).
The command-line options themselves are declared in `commands/options.py`.
"""

from __future__ import annotations

import argparse
import os
import re
import string
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from phased_updater.duration import parse_duration
from phased_updater.duration import parse_timestamp as parse_iso_timestamp
from phased_updater.errors import EntryError, UsageError
from phased_updater.freeze import FreezeCalendar
from phased_updater.groups import Groups, parse_groups
from phased_updater.log_format import LEVELS
from phased_updater.override_feedback import COMMAND_FIELDS, HowToOverride
from phased_updater.speed import (
    MINIMUM_INTERVAL,
    SpeedClass,
    SpeedClasses,
    parse_classes,
    parse_sources,
)
from phased_updater.text import redact

DEFAULT_ERRORS_URL = "https://errors.ubuntu.com/api/1.0/"
# The values of smtp_auth and smtp_security; the charm maps the smtp relation onto them.
SMTP_AUTH = ("none", "plain")
SMTP_SECURITY = ("none", "starttls", "tls")
NOW_YEARS = (1970, 9000)
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
# The overrides' git repository: the URLs git fetches without help, and the defaults.
GIT_SCHEMES = ("https", "http", "git", "ssh", "file")
DEFAULT_OVERRIDES_BRANCH = "main"
DEFAULT_OVERRIDES_FILE = "phased-updates-overrides.txt"
_BRANCH = re.compile(r"[A-Za-z0-9._+-]+(?:/[A-Za-z0-9._+-]+)*")
DEFAULT_REMINDER_DAYS = 7


def default_state() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "phased-updater" / "state.sqlite3"


@dataclass(frozen=True)
class Settings:
    launchpad: str = "production"
    credentials: Path | None = None
    errors_url: str = DEFAULT_ERRORS_URL
    series: tuple[str, ...] = ()
    step: int = 10
    interval: timedelta = timedelta(hours=6)
    lookback: timedelta | None = None  # bounds discovery; None: since the last listing
    # After this long on the real clock a run starts no further update (cycle.py).
    run_deadline: timedelta = timedelta(hours=1)
    overrides: Path | None = None
    overrides_git: str | None = None
    overrides_git_branch: str = DEFAULT_OVERRIDES_BRANCH
    overrides_git_file: str = DEFAULT_OVERRIDES_FILE
    overrides_git_timeout: float = 60.0
    override_command: str | None = None
    halts: Path | None = None
    state: Path = field(default_factory=default_state)
    report_dir: Path | None = None
    report_url: str | None = None
    dry_run: bool = False
    now: datetime | None = None
    launchpad_workers: int = 4
    errors_workers: int = 4
    errors_timeout: float = 60.0
    launchpad_timeout: float = 60.0
    mail_from: str | None = None
    mail_cc: tuple[str, ...] = ()
    mail_reply_to: tuple[str, ...] = ()  # empty: replies go to the Cc list
    mail_subject_prefix: str | None = None  # e.g. "[phased-updater]", then a space
    mail_preview_dir: Path | None = None
    mail_robots: tuple[str, ...] = ()
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password_file: Path | None = None
    smtp_auth: str = "none"
    smtp_security: str = "none"
    smtp_skip_verify: bool = False
    smtp_timeout: float = 30.0
    # The least severe log records written (log_format.LEVELS); None: --log-level's.
    log_level: str | None = None
    # Days between reminders of an automatic stop left unresolved; 0: no reminders.
    reminder_days: int = DEFAULT_REMINDER_DAYS
    freeze_windows: FreezeCalendar = field(default_factory=FreezeCalendar)
    classes: tuple[SpeedClass, ...] = ()  # the [classes] table
    sources: tuple[tuple[str, str], ...] = ()  # the [sources] table
    groups: Groups = field(default_factory=Groups)  # the [groups] table

    @property
    def speed_classes(self) -> SpeedClasses:
        """The classes in force; the default one steps `step` every `interval`."""
        return SpeedClasses(self.step, self.interval, self.classes, self.sources)

    @property
    def reminder_every(self) -> timedelta:
        return timedelta(days=self.reminder_days)

    @property
    def cache_dir(self) -> Path:
        """launchpadlib's WADL cache, shared by every run and every worker."""
        return self.state.parent / "launchpadlib-cache"

    @property
    def anonymous(self) -> bool:
        return self.credentials is None

    @property
    def effective_dry_run(self) -> bool:
        """Without credentials nothing can be written: the run is a dry run."""
        return self.dry_run or self.anonymous

    @property
    def effective_report_dir(self) -> Path:
        """Where the report goes: --report-dir, else `report/` beside the state database
        (a run always leaves a report, as the charm's does; `serve --report-dir` it)."""
        return self.report_dir or self.state.parent / "report"

    @property
    def effective_mail_preview_dir(self) -> Path:
        return self.mail_preview_dir or self.state.parent / "mail-preview"

    @property
    def overrides_cache_dir(self) -> Path:
        """The overrides' git repository as fetched, and the last good copy of its file."""
        return self.state.parent / "overrides-git"

    @property
    def how_to_override(self) -> HowToOverride:
        """How this deployment takes a new override, for the report and the mail."""
        return HowToOverride(
            repository=redact(self.overrides_git) if self.overrides_git else None,
            branch=self.overrides_git_branch,
            path=self.overrides_git_file,
            command=self.override_command,
            file=str(self.overrides) if self.overrides else None,
        )


KEYS = {f.name for f in fields(Settings)} - {"now"}


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{key} {value!r}: expected a non-empty string")
    return value.strip()


def _int(key: str, value: Any, low: int, high: int) -> int:
    # ASCII digits only: str.isdigit is true for "²", which int() refuses.
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise UsageError(f"{key} {value!r}: expected a whole number from {low} to {high}")
    return value


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
        return value.lower() in ("true", "yes", "1")
    raise UsageError(f"{key} {value!r}: expected true or false")


def _list(key: str, value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise UsageError(f"{key} {value!r}: expected a comma-separated list")
    # Each once, in the order given: `--series noble,noble` processes noble once.
    return tuple(dict.fromkeys(item.strip() for item in items if item.strip()))


def _seconds(key: str, value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if isinstance(value, bool) or not 0 < seconds <= 3600:
        raise UsageError(f"{key} {value!r}: expected a number of seconds from 0 to 3600")
    return seconds


def _path(key: str, value: Any) -> Path:
    text = _text(key, value)
    if "\0" in text:
        raise UsageError(f"{key} {text!r}: a path cannot contain a NUL character")
    try:
        return Path(text).expanduser()
    except RuntimeError:  # "~name" for a user that does not exist
        raise UsageError(f"{key} {text!r}: no such user's home directory") from None


def _url(key: str, value: Any) -> str:
    text = _text(key, value)
    if not text.startswith(("http://", "https://")):
        raise UsageError(f"{key} {text!r}: expected an http(s) URL")
    return text


def git_url_problem(url: str) -> str | None:
    """Why git cannot fetch overrides from `url`; None when it can. The charm uses it too."""
    parts = urlsplit(url)
    if parts.scheme not in GIT_SCHEMES or re.search(r"\s", url):
        schemes = ", ".join(f"{scheme}://" for scheme in GIT_SCHEMES)
        return (
            f"expected a git URL ({schemes}), e.g."
            " https://git.launchpad.net/~ubuntu-sru/+git/phased-update-overrides"
        )
    if parts.scheme != "file" and not parts.hostname:
        return "the URL names no host"
    if parts.scheme == "file" and not parts.path:
        return "the URL names no directory"
    return None


def git_branch_problem(branch: str) -> str | None:
    """Why `branch` is not a branch name git accepts; None when it is one."""
    if (
        not _BRANCH.fullmatch(branch)
        or branch.startswith(("-", "."))
        or ".." in branch
        or branch.endswith((".", ".lock"))
        or "/." in branch
    ):
        return "not a git branch name"
    return None


def git_file_problem(path: str) -> str | None:
    """Why `path` is not a file inside a repository; None when it is one."""
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts) or not path.isprintable():
        return "expected a relative path inside the repository, e.g. phased-updates-overrides.txt"
    return None


def command_problem(template: str) -> str | None:
    """Why `template` is not an override command with {source}, {version} and {problem}."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        return f"not a command template ({error})"
    if names != set(COMMAND_FIELDS):
        return "expected a command with {source}, {version} and {problem}, and no other {field}"
    return None


def _checked(key: str, value: Any, problem: Callable[[str], str | None]) -> str:
    text = _text(key, value)
    reason = problem(text)
    if reason is not None:
        raise UsageError(f"{key} {redact(text)!r}: {reason}")
    return text


def _duration(key: str, value: Any) -> timedelta:
    try:
        duration = parse_duration(_text(key, value))
    except ValueError as error:
        raise UsageError(f"{key}: {error}") from None
    if key == "interval" and duration < MINIMUM_INTERVAL:
        raise UsageError(f"interval {value!r}: must be at least 1m")
    return duration


def _structured(key: str, value: Any, parse: Any) -> Any:
    """A table or list parsed by its own module, whose EntryError names the entry."""
    try:
        return parse(value)
    except EntryError as error:
        if key == "freeze_windows":
            raise UsageError(f"freeze_windows {error.entry!r}: {error.reason}") from None
        raise UsageError(str(error)) from None


def _freeze_windows(value: Any) -> FreezeCalendar:
    return FreezeCalendar.parse(_list("freeze_windows", value))


def _choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise UsageError(f"{key} {value!r}: expected one of {', '.join(choices)}")
    return str(value)


def parse_now(text: str) -> datetime:
    """`--now`: an ISO 8601 timestamp; one without a zone is UTC; years 1970 to 9000.

    The engine reckons back and forth from it by days and years: a date at the ends of
    what `datetime` holds would overflow there, so it is refused here instead.
    """
    try:
        moment = parse_iso_timestamp(text)
    except ValueError as error:
        raise UsageError(f"--now {error}") from None
    if not NOW_YEARS[0] <= moment.year <= NOW_YEARS[1]:
        raise UsageError(f"--now {text!r}: out of range (years {NOW_YEARS[0]} to {NOW_YEARS[1]})")
    return moment


def _convert(key: str, value: Any) -> Any:
    match key:
        case "launchpad" | "mail_from" | "smtp_host" | "smtp_user":
            return _text(key, value)
        case "errors_url" | "report_url":
            return _url(key, value)
        case "overrides_git":
            return _checked(key, value, git_url_problem)
        case "overrides_git_branch":
            return _checked(key, value, git_branch_problem)
        case "overrides_git_file":
            return _checked(key, value, git_file_problem)
        case "override_command":
            return _checked(key, value, command_problem)
        case "credentials" | "overrides" | "halts" | "state" | "report_dir":
            return _path(key, value)
        case "mail_preview_dir" | "smtp_password_file":
            return _path(key, value)
        case "mail_subject_prefix":
            return _text(key, value)
        case "series" | "mail_cc" | "mail_reply_to" | "mail_robots":
            return _list(key, value)
        case "step":
            return _int(key, value, 1, 100)
        case "interval" | "lookback" | "run_deadline":
            return _duration(key, value)
        case "launchpad_workers" | "errors_workers":
            return _int(key, value, 1, 32)
        case "errors_timeout" | "launchpad_timeout" | "smtp_timeout" | "overrides_git_timeout":
            return _seconds(key, value)
        case "smtp_port":
            return _int(key, value, 1, 65535)
        case "dry_run" | "smtp_skip_verify":
            return _bool(key, value)
        case "smtp_auth":
            return _choice(key, value, SMTP_AUTH)
        case "smtp_security":
            return _choice(key, value, SMTP_SECURITY)
        case "log_level":
            return _choice(key, value, LEVELS)
        case "reminder_days":
            return _int(key, value, 0, 365)
        case "freeze_windows":
            return _structured(key, value, _freeze_windows)
        case "classes":
            return _structured(key, value, parse_classes)
        case "sources":
            return _structured(key, value, parse_sources)
        case "groups":
            return _structured(key, value, lambda v: Groups(parse_groups(v)))
    raise UsageError(f"unknown setting {key!r}")


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"--config {str(path)!r}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"--config {str(path)!r}: not valid TOML ({error})") from None
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise UsageError(f"--config {str(path)!r}: unknown key(s) {', '.join(unknown)}")
    return data


def load_settings(args: argparse.Namespace) -> Settings:
    """Defaults < the TOML file named by --config < options given on the command line."""
    raw: dict[str, Any] = {}
    config = getattr(args, "config", None)
    if config is not None:
        raw.update(read_config_file(Path(config)))
    for key in KEYS:
        value = getattr(args, key, None)
        if value is not None and value is not False:
            raw[key] = value
    values = {key: _convert(key, value) for key, value in raw.items()}
    now = getattr(args, "now", None)
    if now is not None:
        values["now"] = parse_now(now)
    settings = Settings(**values)
    check_phasing(settings)
    return settings


def check_phasing(settings: Settings) -> None:
    """The classes the [sources] and [groups] tables name exist."""
    try:
        settings.groups.check(settings.speed_classes)
    except ValueError as error:
        raise UsageError(str(error)) from None
