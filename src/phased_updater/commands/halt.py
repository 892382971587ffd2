"""`phased-updater halt` and `phased-updater resume`: manual stops by a person."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from phased_updater import halts
from phased_updater.commands.options import (
    add_common_options,
    check_clock_for_writes,
    launchpad_setup,
)
from phased_updater.config import Settings, load_settings
from phased_updater.debian import check_source_name, check_version, is_series_name
from phased_updater.errors import UsageError
from phased_updater.lock import AlreadyRunning, exclusive
from phased_updater.model import UpdateKey
from phased_updater.sources.launchpad import Connection, LaunchpadFailure, resolve_service_root

LOCK_WAIT_SECONDS = 300

HALT = """\
Stop an update by hand: set every deb of it to 0 on Launchpad now and add it to the
halts file, so that no cycle resumes it until `phased-updater resume`. The decision is
recorded with who halted it and why, and the report shows it. Without --credentials
(or with --dry-run) only the halts file changes.
"""
RESUME = """\
Lift any stop: a halt, a person's stop on Launchpad, an automatic stop, or an update
held because there is nothing to compare its crashes with. Who resumed it and why is
recorded and shown in the report. Launchpad is not changed now: the next cycle takes
the update back to the highest level it reached, the problems then on record counting
as acknowledged by you, unless a problem found later stops it again.
"""


def _target_options(parser: argparse.ArgumentParser) -> None:
    add_common_options(parser)
    parser.add_argument("--halts", metavar="FILE", help="the halts file (JSON)")
    parser.add_argument("--series", required=True, metavar="NAME")
    parser.add_argument("--source", required=True, metavar="PACKAGE")
    parser.add_argument("--version", required=True, metavar="VERSION")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    halt = sub.add_parser("halt", help="stop an update by hand", description=HALT)
    _target_options(halt)
    halt.add_argument("--reason", required=True, help="shown in the report")
    halt.add_argument("--by", required=True, metavar="WHO", help="shown in the report")
    halt.set_defaults(handler=handle_halt)
    resume = sub.add_parser("resume", help="lift any stop of an update", description=RESUME)
    _target_options(resume)
    resume.add_argument("--by", required=True, metavar="WHO", help="shown in the report")
    resume.add_argument("--reason", required=True, help="shown in the report")
    resume.set_defaults(handler=handle_resume)


def target(series: str, source: str, version: str) -> UpdateKey:
    """The update named by --series, --source and --version; UsageError naming a bad one."""
    try:
        check_source_name(source, "--source")
        check_version(version, "--version")
    except ValueError as error:
        raise UsageError(str(error)) from None
    if not is_series_name(series):
        raise UsageError(f"--series {series!r}: not an Ubuntu series name")
    return UpdateKey(series, source, version)


def _setup(settings: Settings, *, writes: bool) -> halts.HaltSetup:
    """`writes`: the command changes Launchpad (unless it is a dry run)."""
    connection = None
    if writes and not settings.effective_dry_run:
        with launchpad_setup():
            root = resolve_service_root(settings.launchpad)
        connection = Connection(root, settings.credentials, settings.cache_dir)
    return halts.HaltSetup(
        settings.halts, settings.state, connection, settings.step, settings.interval
    )


def _settings_and_target(args: argparse.Namespace) -> tuple[Settings, UpdateKey]:
    # `--series` here names one series; keep it out of the run settings' series list.
    wanted = target(args.series, args.source, args.version)
    args.series = None
    return load_settings(args), wanted


def _locked(settings: Settings, action: Callable[[], str]) -> int:
    """Run `action` under the cycle lock, waiting for a running cycle, not racing it."""
    try:
        with (
            exclusive(settings.state.with_suffix(".lock"), wait=LOCK_WAIT_SECONDS),
            launchpad_setup(),
        ):
            print(action())
    except (AlreadyRunning, LaunchpadFailure) as error:
        print(f"phased-updater: {error}", file=sys.stderr)
        return 1
    return 0


def handle_halt(args: argparse.Namespace) -> int:
    settings, wanted = _settings_and_target(args)
    check_clock_for_writes(settings, datetime.now(UTC))
    setup = _setup(settings, writes=True)
    now = settings.now or datetime.now(UTC)
    return _locked(settings, lambda: halts.halt(setup, wanted, args.reason, args.by, now))


def handle_resume(args: argparse.Namespace) -> int:
    settings, wanted = _settings_and_target(args)
    setup = _setup(settings, writes=False)
    now = settings.now or datetime.now(UTC)
    return _locked(settings, lambda: halts.resume(setup, wanted, args.by, args.reason, now))
