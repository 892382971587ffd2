"""The command-line options shared by several commands, and the CLI's view of setup errors.

Every option here is also a key of the TOML config (`config.py` reads both). This is
the only place that turns a Launchpad `SetupError` into a message naming an option.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from phased_updater.config import (
    DEFAULT_ERRORS_URL,
    SMTP_AUTH,
    SMTP_SECURITY,
    Settings,
    default_state,
)
from phased_updater.duration import format_duration, format_timestamp
from phased_updater.errors import UsageError
from phased_updater.sources.launchpad import SetupError, read_credentials


@contextmanager
def launchpad_setup() -> Iterator[None]:
    """Turn a Launchpad setting that cannot work into a usage error naming its option."""
    try:
        yield
    except SetupError as error:
        raise UsageError(f"--{error.setting} {error.shown_value}: {error.reason}") from None


# How far ahead of the real clock a run that writes may be told it is (`--now`).
WRITING_CLOCK_SLACK = timedelta(minutes=5)


def check_clock_for_writes(settings: Settings, real_now: datetime) -> None:
    """A run that writes to Launchpad runs at the real time, give or take a few minutes.

    The time an update has been at its level comes from Launchpad's real dates, so a
    `--now` days ahead would step it once per run; a replay is a dry run.
    """
    if settings.now is None or settings.effective_dry_run:
        return
    ahead = settings.now - real_now
    if ahead > WRITING_CLOCK_SLACK:
        raise UsageError(
            f"--now {format_timestamp(settings.now)!r}: {format_duration(ahead)} ahead of the"
            " real clock; a run that writes to Launchpad runs at the real time (add --dry-run"
            " to replay)"
        )


def check_report_dir_apart(settings: Settings) -> None:
    """The published directory never holds, nor sits beside, a secret file.

    `serve` and apache2 publish `report_dir`; the credentials and the SMTP password
    must be neither in it (at any depth) nor in the directory it sits in, so a
    misconfigured path cannot publish them. The charm keeps them in /etc.
    """
    if settings.report_dir is None:
        return
    report_dir = settings.report_dir.resolve()
    secrets = {
        "credentials": settings.credentials,
        "smtp_password_file": settings.smtp_password_file,
    }
    for key, path in secrets.items():
        if path is None:
            continue
        home = path.resolve().parent
        if home.is_relative_to(report_dir) or report_dir.is_relative_to(home):
            raise UsageError(
                f"report_dir {str(settings.report_dir)!r}: {key} {str(path)!r} would be"
                " published with it; keep secret files outside the report's directory and"
                " its parent"
            )


def check_credentials_file(path: Path) -> str:
    """`--credentials FILE`, read before anything runs; UsageError naming only the path.

    Returns the consumer name the file logs in with, to say who the run acts as.
    """
    with launchpad_setup():
        return str(read_credentials(path).consumer.key)


def add_mail_options(parser: argparse.ArgumentParser) -> None:
    """The mail options of `run`; each is also a key of the TOML config."""
    group = parser.add_argument_group(
        "email",
        "mail the signer and creator of an update when phasing stops it, and remind them"
        " while the stop stays unresolved",
    )
    group.add_argument("--smtp-host", dest="smtp_host", metavar="HOST", help="without it, no email")
    group.add_argument("--smtp-port", dest="smtp_port", metavar="PORT", help="default 25")
    group.add_argument("--smtp-user", dest="smtp_user", metavar="USER")
    group.add_argument(
        "--smtp-password-file",
        dest="smtp_password_file",
        metavar="FILE",
        help="file whose first line is the SMTP password",
    )
    group.add_argument(
        "--smtp-timeout",
        dest="smtp_timeout",
        metavar="SECONDS",
        help="give up on the relay after this long (default 30)",
    )
    group.add_argument("--smtp-auth", dest="smtp_auth", choices=SMTP_AUTH, help="default none")
    group.add_argument(
        "--smtp-security", dest="smtp_security", choices=SMTP_SECURITY, help="default none"
    )
    group.add_argument(
        "--smtp-skip-verify",
        dest="smtp_skip_verify",
        action="store_true",
        help="do not verify the relay's TLS certificate (only for a relay you trust)",
    )
    group.add_argument("--mail-from", dest="mail_from", metavar="ADDRESS", help="sender address")
    group.add_argument(
        "--mail-cc", dest="mail_cc", metavar="ADDRESS[,ADDRESS...]", help="copy every message"
    )
    group.add_argument(
        "--mail-reply-to",
        dest="mail_reply_to",
        metavar="ADDRESS[,ADDRESS...]",
        help="where replies go (default: the --mail-cc list)",
    )
    group.add_argument(
        "--mail-subject-prefix",
        dest="mail_subject_prefix",
        metavar="TEXT",
        help="put before every subject, e.g. '[phased-updater]' (default: none)",
    )
    group.add_argument(
        "--mail-robots",
        dest="mail_robots",
        metavar="NAME[,NAME...]",
        help="more Launchpad accounts never mailed (katie and ubuntu-archive-robot always)",
    )
    group.add_argument(
        "--reminder-days",
        dest="reminder_days",
        metavar="N",
        help="remind the signer, creator and Cc list of an automatic stop left unresolved"
        " every N days (default 7; 0: no reminders)",
    )
    group.add_argument(
        "--mail-preview-dir",
        dest="mail_preview_dir",
        metavar="DIR",
        help="where a dry run writes the messages it would send (default: mail-preview/"
        " beside the state database)",
    )


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that talks to Launchpad or the database shares."""
    parser.add_argument(
        "--config", metavar="FILE", help="TOML file with the same keys as the long options"
    )
    parser.add_argument(
        "--launchpad",
        metavar="ROOT",
        help="production (default), staging, qastaging, or a service root URL",
    )
    parser.add_argument(
        "--credentials", metavar="FILE", help="launchpadlib credentials file; without it, a dry run"
    )
    parser.add_argument(
        "--errors-url",
        dest="errors_url",
        metavar="URL",
        help=f"Error Tracker API (default {DEFAULT_ERRORS_URL})",
    )
    parser.add_argument(
        "--state", metavar="FILE", help=f"SQLite history (default {default_state()})"
    )
    parser.add_argument(
        "--report-dir",
        dest="report_dir",
        metavar="DIR",
        help="where the report is written (default: report/ beside --state)",
    )
    parser.add_argument(
        "--dry-run",
        dest="dry_run",
        action="store_true",
        help="decide, record and report, but write nothing to Launchpad and send no email",
    )
    parser.add_argument(
        "--now",
        metavar="TIMESTAMP",
        help="behave as if it were this ISO 8601 UTC time (replays, tests)",
    )
