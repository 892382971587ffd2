"""`phased-updater run`: one phasing cycle."""

from __future__ import annotations

import argparse
import gc
import logging
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from phased_updater import __version__, log_format
from phased_updater.commands.options import (
    add_common_options,
    add_mail_options,
    check_clock_for_writes,
    check_credentials_file,
    check_report_dir_apart,
    launchpad_setup,
)
from phased_updater.commands.overrides import (
    LoadedOverrides,
    add_source_options,
    load_overrides,
    overrides_report,
)
from phased_updater.config import Settings, load_settings
from phased_updater.cycle import Cycle, CycleOptions, CycleResult
from phased_updater.duration import format_duration
from phased_updater.errors import EXIT_INCOMPLETE, EXIT_OK, UsageError, error_text
from phased_updater.halts import load_halts
from phased_updater.lock import AlreadyRunning, exclusive
from phased_updater.mail import outbox
from phased_updater.mail.session import MailSession, MailSummary
from phased_updater.report import run_status
from phased_updater.report.publish import publish
from phased_updater.sources import errortracker
from phased_updater.sources.errortracker import ErrorTrackerClient
from phased_updater.sources.git_overrides import NoCopy
from phased_updater.sources.launchpad import (
    ArchiveRef,
    Connection,
    LaunchpadArchive,
    connect,
    prune_cache,
    resolve_service_root,
)
from phased_updater.sources.people import directory_factory
from phased_updater.sources.request_counts import RequestCounts, count_launchpad_requests
from phased_updater.store import Store
from phased_updater.text import one_line

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

EPILOG = """\
speed classes and phasing groups (tables of the --config file only):
  [classes]   classes of your own, or other steps for medium and slow:
                glacial = { step = 1, interval = "1d" }
              built in: normal (--step every --interval, the default class),
              medium (5 points) and slow (1 point)
  [sources]   a source's class, over the built-in slow set (grub2, grub2-signed,
              grub2-unsigned, shim, shim-signed, secureboot-db):
                openssl = "medium"
  [groups]    sources whose updates in a series move together, at the group's
              class (by default the slowest of its sources' classes):
                boot = { sources = ["shim-signed", "grub2-signed"], class = "slow" }
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "run",
        help="run one phasing cycle",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_options(parser)
    parser.add_argument(
        "--series", metavar="NAME[,NAME...]", help="default: every supported series"
    )
    parser.add_argument(
        "--step",
        metavar="N",
        help="percentage points per step of the default class (normal), 1..100 (default 10)",
    )
    parser.add_argument(
        "--interval", metavar="DURATION", help="time between steps: 90m, 6h, 1d ... (default 6h)"
    )
    parser.add_argument(
        "--freeze-windows",
        dest="freeze_windows",
        metavar="WINDOW[,WINDOW...]",
        help="weekly UTC windows in which no update completes, e.g. 'Fri 00:00-Mon 12:00';"
        " add ' no-steps' to a window to hold every step in it (default: none)",
    )
    parser.add_argument(
        "--lookback",
        metavar="DURATION",
        help="look for new publications copied to -updates within this time (default: since"
        " the series was last listed; a fresh database lists everything once). Updates the"
        " database knows are read however old",
    )
    parser.add_argument(
        "--run-deadline",
        dest="run_deadline",
        metavar="DURATION",
        help="after this long the run starts no further update; those left are reported"
        " as not evaluated and keep their level (default 1h)",
    )
    add_source_options(parser)
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
    add_mail_options(parser)
    parser.set_defaults(handler=handle)


def cycle_options(settings: Settings) -> CycleOptions:
    return CycleOptions(
        step=settings.step,
        interval=settings.interval,
        lookback=settings.lookback,
        series=settings.series,
        dry_run=settings.effective_dry_run,
        anonymous=settings.anonymous,
        launchpad_workers=settings.launchpad_workers,
        errors_workers=settings.errors_workers,
        run_deadline=settings.run_deadline,
        speed=settings.speed_classes,
        groups=settings.groups,
        freeze=settings.freeze_windows,
    )


def run_once(settings: Settings) -> int:
    """A whole cycle with its report; the caller has validated `settings`."""
    started = time.monotonic()
    now = settings.now or datetime.now(UTC)
    with launchpad_setup():
        service_root = resolve_service_root(settings.launchpad)
    halts = load_halts(settings.halts)
    consumer = None
    if settings.credentials is not None:
        # A bad file is a usage error, before any run.
        consumer = check_credentials_file(settings.credentials)
    log.info("%s", opening_line(settings, service_root, consumer))
    if settings.anonymous and not settings.dry_run:
        log.info("no --credentials: logging in anonymously, so this is a dry run")
    try:
        overrides = load_overrides(settings, now, settings.overrides_cache_dir)
    except NoCopy as error:
        # Never a run without its overrides: it would stop what they let phase.
        log.error("%s: no cycle runs without them", error)
        return EXIT_INCOMPLETE
    store = Store.open(settings.state)
    prune_cache(settings.cache_dir, time.time())
    try:
        connection = Connection(
            service_root,
            settings.credentials,
            settings.cache_dir,
            timeout=settings.launchpad_timeout,
        )

        counts = RequestCounts()

        def connect_archive(found: ArchiveRef | None) -> LaunchpadArchive:
            archive = LaunchpadArchive(count_launchpad_requests(connect(connection), counts), found)
            # A client's parsed WADL (some 64,000 objects) lives as long as the run:
            # frozen, the collector no longer walks it at each full collection (0.2 s
            # with four clients on the benchmark's machine, paid under the GIL, and
            # while the report renders). Unfrozen when the run ends.
            gc.freeze()
            return archive

        # Stops are queued with their decisions, looked up and sent after the cycle.
        mail_session = MailSession(settings, directory_factory(connection), store, now)
        errors = ErrorTrackerClient(
            settings.errors_url,
            timeout=(min(10.0, settings.errors_timeout), settings.errors_timeout),
            counts=counts,
        )
        cycle = Cycle(
            cycle_options(settings),
            connect_archive,
            errors,
            store,
            overrides.overrides,
            halts,
            now,
            listeners=[mail_session.on_decision],
        )
        with launchpad_setup():
            result = cycle.run()
        outage = errortracker.outage(errors)
        if outage is not None:
            log.error("%s", outage)
            store.add_run_failure(result.run_id, EXIT_INCOMPLETE, outage)
        mail = mail_session.finish()
        status = max(result.exit_status, record_overrides(settings, store, overrides, result, now))
        run = store.run(result.run_id)
        if settings.report_dir is not None and run is not None:
            deliveries = outbox.deliveries(store)
            try:
                paths = publish(
                    settings.report_dir,
                    store,
                    run,
                    now=now,
                    deliveries=deliveries,
                    email_off=settings.smtp_host is None,
                )
                for path in paths:
                    log.info("wrote %s", path)
            except Exception as error:
                # The disk, or a bug in rendering: the run's row says so, and exit 1.
                message = f"cannot write the report to {settings.report_dir}: {error_text(error)}"
                log.error("%s", message, exc_info=not isinstance(error, OSError))
                store.add_run_failure(result.run_id, EXIT_INCOMPLETE, message)
                status = EXIT_INCOMPLETE
            write_run_status(settings.report_dir, store, result.run_id, deliveries, counts)
        log.log(
            logging.INFO if status == EXIT_OK else logging.WARNING,
            "%s",
            closing_line(result, mail, status, time.monotonic() - started),
        )
        return status
    finally:
        store.close()
        gc.unfreeze()


def opening_line(settings: Settings, service_root: str, consumer: str | None) -> str:
    """What the run is about to do, before it does anything."""
    who = f"as consumer {one_line(consumer, 80)}" if consumer is not None else "anonymous"
    series = ",".join(settings.series) or "every supported series"
    mode = "dry run" if settings.effective_dry_run else "writes to Launchpad"
    return (
        f"phased-updater {__version__}: Launchpad {service_root} {who},"
        f" Error Tracker {settings.errors_url}, series {series},"
        f" step {settings.step} every {format_duration(settings.interval)}, {mode}"
    )


def closing_line(result: CycleResult, mail: MailSummary, status: int, seconds: float) -> str:
    """The run in `key=value` pairs, for the log: counts, exit status and duration."""
    states = Counter(str(o.decision.state) for o in result.outcomes)
    pairs: list[tuple[str, object]] = [
        ("run", result.run_id),
        ("status", status),
        ("updates", len(result.outcomes)),
        *sorted(states.items()),
        ("not_evaluated", len(result.not_evaluated)),
        ("failures", len(result.failures)),
        ("mail_queued", mail.queued),
        ("mail_sent", mail.sent),
        ("mail_pending", mail.still_pending),
        ("duration", f"{seconds:.1f}s"),
    ]
    return "cycle done: " + " ".join(f"{key}={value}" for key, value in pairs)


def write_run_status(
    report_dir: Path,
    store: Store,
    run_id: int,
    deliveries: list[outbox.Delivery],
    counts: RequestCounts,
) -> None:
    """run-status.json for monitoring; a failure to write it fails nothing else."""
    run = store.run(run_id)
    if run is None:
        return
    try:
        run_status.write_snapshot(
            report_dir, run_status.build_snapshot(store, run, deliveries, counts)
        )
    except OSError as error:
        log.error("cannot write %s to %s: %s", run_status.SNAPSHOT_NAME, report_dir, error)


def record_overrides(
    settings: Settings,
    store: Store,
    loaded: LoadedOverrides,
    result: CycleResult,
    now: datetime,
) -> int:
    """Keep the overrides' sources and feedback with the run, log it; its exit status.

    A fetch that failed (the last good copy was used) is a failure of the run: exit 1.
    """
    updates = [(o.update.source, o.update.version) for o in result.outcomes]
    updates += [(n.source, n.version) for n in result.not_evaluated]
    report = overrides_report(loaded, settings, store, updates, now)
    for line in report.warnings():
        log.warning("%s", line)
    store.note_run(result.run_id, "overrides", report.to_json())
    failures = loaded.failures(now)
    for failure in failures:
        store.add_run_failure(result.run_id, EXIT_INCOMPLETE, failure)
    return EXIT_INCOMPLETE if failures else EXIT_OK


def handle(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    if settings.log_level is not None:
        # The config file's `log_level` (the charm's log-level), unless --log-level was given.
        log_format.configure(settings.log_level)
    settings = replace(settings, report_dir=settings.effective_report_dir)
    if settings.overrides is not None and not settings.overrides.is_file():
        raise UsageError(f"--overrides {str(settings.overrides)!r}: no such file")
    check_clock_for_writes(settings, datetime.now(UTC))
    check_report_dir_apart(settings)
    if settings.halts is not None and not settings.halts.is_file():
        # Read as "no halts", a lost file would lift every halt in it.
        raise UsageError(
            f"--halts {str(settings.halts)!r}: no such file; a halts file with none is"
            ' {"halts": []}'
        )
    try:
        with exclusive(settings.state.with_suffix(".lock")):
            return run_once(settings)
    except AlreadyRunning as error:
        log.error("%s", error)
        return EXIT_INCOMPLETE
