"""`phased-updater report`: render the report of the latest finished run again."""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace

from phased_updater.commands.options import check_report_dir_apart
from phased_updater.config import load_settings
from phased_updater.errors import EXIT_INCOMPLETE, UsageError
from phased_updater.mail import outbox
from phased_updater.report.publish import publish
from phased_updater.store import Store

log = logging.getLogger("phased_updater.report")

EXIT_NO_RUN = EXIT_INCOMPLETE

DESCRIPTION = """\
Write index.html and phased-updates.json into --report-dir again, from the state
database alone, for the latest finished run: after an upgrade changed the report's
layout, or to put it on another host. Nothing is asked of Launchpad or the Error
Tracker, and the history in the database is only read.

Exit status: 0 written; 1 the database holds no finished run, or the report could
not be written; 2 bad usage.
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "report",
        help="render the report of the latest run again from the database",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", metavar="FILE", help="TOML file with the same keys as the long options"
    )
    parser.add_argument("--state", metavar="FILE", help="the SQLite history to read")
    parser.add_argument(
        "--report-dir",
        dest="report_dir",
        metavar="DIR",
        help="where the report is written (default: report/ beside --state)",
    )
    parser.add_argument(
        "--now",
        metavar="TIMESTAMP",
        help="what relative times are measured from, ISO 8601 (default: the run's end)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    settings = replace(settings, report_dir=settings.effective_report_dir)
    check_report_dir_apart(settings)
    if not settings.state.is_file():
        raise UsageError(f"--state {str(settings.state)!r}: no such file")
    store = Store.open(settings.state, read_only=True)
    try:
        run = store.latest_run(finished=True)
        if run is None:
            log.error("%s holds no finished run: nothing to report", settings.state)
            return EXIT_NO_RUN
        try:
            paths = publish(
                settings.effective_report_dir,
                store,
                run,
                now=settings.now,
                deliveries=outbox.deliveries(store),
                email_off=settings.smtp_host is None,
            )
        except OSError as error:
            log.error("cannot write the report to %s: %s", settings.report_dir, error)
            return EXIT_NO_RUN
    finally:
        store.close()
    for path in paths:
        log.info("wrote %s (run %d)", path, run.id)
    return 0
