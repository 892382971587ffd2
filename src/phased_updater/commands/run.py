"""`phased-updater run`: one phasing cycle."""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, datetime

from phased_updater import mailing, report
from phased_updater.config import Settings, add_common_options, load_settings
from phased_updater.cycle import EXIT_INCOMPLETE, Cycle
from phased_updater.errors import UsageError
from phased_updater.errortracker import ErrorTrackerClient
from phased_updater.halts import load_halts
from phased_updater.launchpad import (
    Connection,
    LaunchpadArchive,
    connect,
    load_credentials,
    prune_cache,
    resolve_service_root,
)
from phased_updater.lock import AlreadyRunning, exclusive
from phased_updater.overrides import Overrides
from phased_updater.store import Store

log = logging.getLogger("phased_updater.run")

DESCRIPTION = """\
Run one phasing cycle. For every update phasing in a supported series' -updates
pocket, ask the Error Tracker about new crashes and an increased crash rate, then
raise its Phased-Update-Percentage by one step, stop it at 0, resume it after an
override, or leave it alone when the Error Tracker cannot answer. Every decision is
recorded in the state database and the report is written to --report-dir.

Exit status: 0 every update was evaluated; 1 some could not be (the others were still
processed); 2 bad usage or configuration (nothing was done).
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "run",
        help="run one phasing cycle",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_options(parser)
    parser.add_argument(
        "--series", metavar="NAME[,NAME...]", help="default: every supported series"
    )
    parser.add_argument(
        "--step", metavar="N", help="percentage points per step, 1..100 (default 10)"
    )
    parser.add_argument(
        "--interval", metavar="DURATION", help="time between steps: 90m, 6h, 1d ... (default 6h)"
    )
    parser.add_argument(
        "--lookback",
        metavar="DURATION",
        help="only look at source publications copied to -updates within this time (default 90d)",
    )
    parser.add_argument(
        "--overrides", metavar="FILE", help="CSV of 'source, version, problem URL | increased-rate'"
    )
    parser.add_argument(
        "--halts", metavar="FILE", help="JSON list of manual halts (see `phased-updater halt`)"
    )
    parser.add_argument(
        "--launchpad-workers",
        metavar="N",
        help="Launchpad clients, and so requests in flight to Launchpad (default 4)",
    )
    parser.add_argument(
        "--errors-workers", metavar="N", help="requests in flight to the Error Tracker (default 4)"
    )
    parser.add_argument(
        "--errors-timeout",
        metavar="SECONDS",
        help="give up on an Error Tracker request after this long (default 60)",
    )
    parser.add_argument(
        "--launchpad-timeout",
        metavar="SECONDS",
        help="give up on a Launchpad request after this long (default 60)",
    )
    mailing.add_options(parser)
    parser.set_defaults(handler=handle)


def run_once(settings: Settings) -> int:
    """A whole cycle with its report; the caller has validated `settings`."""
    now = settings.now or datetime.now(UTC)
    service_root = resolve_service_root(settings.launchpad)
    overrides = Overrides.load(settings.overrides) if settings.overrides else Overrides()
    halts = load_halts(settings.halts)
    if settings.credentials is not None:
        load_credentials(settings.credentials)  # a bad file is a usage error, before any run
    if settings.anonymous and not settings.dry_run:
        log.info("no --credentials: logging in anonymously, so this is a dry run")
    store = Store.open(settings.state)
    prune_cache(settings.cache_dir, time.time())
    try:
        connection = Connection(
            service_root,
            settings.credentials,
            settings.cache_dir,
            timeout=settings.launchpad_timeout,
        )

        def connect_archive(archive_link: str | None) -> LaunchpadArchive:
            return LaunchpadArchive(connect(connection), archive_link)

        # Mail (issue 4): queued with each STOP decision, looked up and sent after the cycle.
        mail_session = mailing.prepare(settings, lambda: connect_archive(None).lp, store, now)
        cycle = Cycle(
            settings,
            connect_archive,
            ErrorTrackerClient(settings.errors_url, timeout=(10.0, settings.errors_timeout)),
            store,
            overrides,
            halts,
            now,
            listeners=[mail_session.on_decision],
        )
        result = cycle.run()
        mail_session.finish()
        status = result.exit_status
        run = store.run(result.run_id)
        if settings.report_dir is not None and run is not None:
            try:
                for path in report.publish_run(settings.report_dir, settings, store, run, now):
                    log.info("wrote %s", path)
            except OSError as error:
                message = f"cannot write the report to {settings.report_dir}: {error}"
                log.error("%s", message)
                store.add_run_failure(result.run_id, EXIT_INCOMPLETE, message)
                status = EXIT_INCOMPLETE
        log.info("cycle done: %s", result.summary())
        return status
    finally:
        store.close()


def handle(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    if settings.overrides is not None and not settings.overrides.is_file():
        raise UsageError(f"--overrides {str(settings.overrides)!r}: no such file")
    try:
        with exclusive(settings.state.with_suffix(".lock")):
            return run_once(settings)
    except AlreadyRunning as error:
        log.error("%s", error)
        return EXIT_INCOMPLETE
