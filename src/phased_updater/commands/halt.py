"""`phased-updater halt` and `phased-updater resume`: manual stops by a person."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from phased_updater import manual
from phased_updater.config import Settings, add_common_options, load_settings
from phased_updater.launchpad import LaunchpadFailure
from phased_updater.lock import AlreadyRunning, exclusive

LOCK_WAIT_SECONDS = 300

HALT = """\
Stop an update by hand: set every deb of it to 0 on Launchpad now and add it to the
halts file, so that no cycle resumes it until `phased-updater resume`. The decision is
recorded with who halted it and why, and the report shows it. Without --credentials
(or with --dry-run) only the halts file changes.
"""
RESUME = """\
Lift a manual halt. Launchpad is not changed now: the next cycle resumes the update
at the highest level it reached, unless the Error Tracker still reports a problem.
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
    resume = sub.add_parser("resume", help="lift a manual halt", description=RESUME)
    _target_options(resume)
    resume.set_defaults(handler=handle_resume)


def _settings_and_target(args: argparse.Namespace) -> tuple[Settings, manual.Target]:
    # `--series` here names one series; keep it out of the run settings' series list.
    wanted = manual.target(args.series, args.source, args.version)
    args.series = None
    return load_settings(args), wanted


def _locked(settings: Settings, action: Callable[[], str]) -> int:
    """Run `action` under the cycle lock, waiting for a running cycle, not racing it."""
    try:
        with exclusive(settings.state.with_suffix(".lock"), wait=LOCK_WAIT_SECONDS):
            print(action())
    except (AlreadyRunning, LaunchpadFailure) as error:
        print(f"phased-updater: {error}", file=sys.stderr)
        return 1
    return 0


def handle_halt(args: argparse.Namespace) -> int:
    settings, wanted = _settings_and_target(args)
    now = settings.now or datetime.now(UTC)
    return _locked(settings, lambda: manual.halt(settings, wanted, args.reason, args.by, now))


def handle_resume(args: argparse.Namespace) -> int:
    settings, wanted = _settings_and_target(args)
    return _locked(settings, lambda: manual.resume(settings, wanted))
