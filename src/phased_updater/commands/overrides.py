"""`phased-updater overrides check`, and the overrides of a run, read from every source.

`load_overrides` reads what the settings name, applied together: the git branch
(`overrides_git`, fetched) first, then the local file (`overrides`: the SRU team's CSV,
or the `.json` records of the charm's actions). `overrides check` reads the same
sources (the branch into a temporary directory, so it never touches a run's copy) and
prints what the report's overrides panel shows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from phased_updater.config import Settings, load_settings, parse_now
from phased_updater.errors import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE, UsageError
from phased_updater.model import NotEvaluated
from phased_updater.override_feedback import RECENT, OverridesReport, SourceStatus, describe, place
from phased_updater.overrides import Overrides
from phased_updater.sources import git_overrides
from phased_updater.sources.git_overrides import GitSource, NoCopy
from phased_updater.store import Store, StoreError

DESCRIPTION = """\
Check overrides before a run uses them: FILE (one `source, version, problem URL |
increased-rate` a line; blank lines and # comments allowed), or without FILE every
source the configuration names (the git branch of --overrides-git, fetched now, and
--overrides). Prints each override with where it came from, then each malformed line
(number and reason), each duplicate, and each override that matches no update the
latest run in --state saw (with a hint for a near version or name). Exit status: 2 if
any line is malformed, 1 if the branch cannot be fetched, else 0. A cycle skips
malformed lines and applies the others, so check a file before you install it.
"""


@dataclass(frozen=True)
class LoadedOverrides:
    """The overrides of every source, applied together, and what each source said."""

    overrides: Overrides
    sources: tuple[SourceStatus, ...]

    def failures(self, now: datetime) -> list[str]:
        """A run's failures: each source whose fetch failed, and the copy used instead."""
        return [text for source in self.sources if (text := source.failure(now)) is not None]


def load_overrides(settings: Settings, now: datetime, cache: Path) -> LoadedOverrides:
    """Every configured source. UsageError for a local file that cannot be read; NoCopy
    when the branch cannot be fetched and no earlier copy is in `cache`."""
    parts: list[Overrides] = []
    sources: list[SourceStatus] = []
    if settings.overrides_git is not None:
        source = GitSource(
            settings.overrides_git, settings.overrides_git_branch, settings.overrides_git_file
        )
        copy = git_overrides.fetch(source, cache, now, settings.overrides_git_timeout)
        found = copy.overrides()
        parts.append(found)
        sources.append(copy.status(len(found.read)))
    if settings.overrides is not None:
        path = settings.overrides
        try:
            found = Overrides.load(path)
        except OSError as error:
            raise UsageError(f"overrides {str(path)!r}: {error.strerror}") from None
        except ValueError as error:
            raise UsageError(f"overrides {str(path)!r}: {error}") from None
        parts.append(found)
        kind = "actions" if path.suffix == ".json" else "file"
        sources.append(SourceStatus(kind, str(path), count=len(found.read)))
    return LoadedOverrides(Overrides.combine(parts), tuple(sources))


def overrides_report(
    loaded: LoadedOverrides,
    settings: Settings,
    store: Store,
    updates: Iterable[tuple[str, str]],
    now: datetime,
) -> OverridesReport:
    """What a run (or `check`) says about the overrides, given the updates it saw."""
    return OverridesReport.build(
        loaded.overrides,
        loaded.sources,
        updates,
        store.decided_updates(),
        now - RECENT,
        settings.how_to_override,
    )


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "overrides",
        help="check the overrides",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="overrides_command", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="validate FILE, or every configured source",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("file", metavar="FILE", nargs="?", help="default: the configured sources")
    check.add_argument(
        "--config", metavar="FILE", help="TOML file with the same keys as the long options"
    )
    add_source_options(check)
    check.add_argument(
        "--state", metavar="FILE", help="the database whose latest run the overrides are checked on"
    )
    check.add_argument("--now", metavar="TIMESTAMP", help="behave as if it were this time")
    check.set_defaults(handler=handle_check)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """Where overrides come from; each is also a key of the TOML config."""
    parser.add_argument(
        "--overrides",
        metavar="FILE",
        help="the SRU team's CSV ('source, version, problem URL | increased-rate' lines),"
        " or the .json records of the charm's actions",
    )
    parser.add_argument(
        "--overrides-git",
        dest="overrides_git",
        metavar="URL",
        help="a git repository holding the overrides file, fetched every run",
    )
    parser.add_argument(
        "--overrides-git-branch",
        dest="overrides_git_branch",
        metavar="NAME",
        help="its branch (default main)",
    )
    parser.add_argument(
        "--overrides-git-file",
        dest="overrides_git_file",
        metavar="PATH",
        help="the file in it (default phased-updates-overrides.txt)",
    )
    parser.add_argument(
        "--overrides-git-timeout",
        dest="overrides_git_timeout",
        metavar="SECONDS",
        help="give up on fetching it after this long (default 60)",
    )


def _latest_updates(store: Store) -> list[tuple[str, str]] | None:
    """(source, version) of every update the latest finished run saw; None without one."""
    run = store.latest_run()
    if run is None:
        return None
    updates = [(record.source, record.version) for record in store.decisions_for_run(run.id)]
    entries = run.summary.get("not_evaluated", [])
    missed = map(NotEvaluated.from_json, entries if isinstance(entries, list) else [])
    return updates + [(m.source, m.version) for m in missed if m is not None]


def handle_check(args: argparse.Namespace) -> int:
    if args.file is not None:
        args.overrides = args.file
    settings = load_settings(args)
    if settings.overrides is None and settings.overrides_git is None:
        raise UsageError("overrides check: name a FILE, or configure overrides or overrides_git")
    now = parse_now(args.now) if args.now else datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="phased-updater-check-") as cache:
        try:
            loaded = load_overrides(settings, now, Path(cache))
        except NoCopy as error:
            print(str(error), file=sys.stderr)
            return EXIT_INCOMPLETE
    found = loaded.overrides
    # Without a run to compare with, only what the lines themselves say.
    report = OverridesReport(
        loaded.sources, (), 0, found.errors, found.duplicates, (), settings.how_to_override
    )
    updates, unread = None, f"no run in {settings.state}"
    if settings.state.is_file():
        try:
            store = Store.open(settings.state, read_only=True)  # a check changes nothing
        except StoreError as error:
            unread = str(error)
        else:
            try:
                updates = _latest_updates(store)
                if updates is not None:
                    report = overrides_report(loaded, settings, store, updates, now)
            finally:
                store.close()
    for item in found.items:
        origin = describe(item.origin)
        print(f"{place(item)}: {item.to_csv()}{f' ({origin})' if origin else ''}")
    for line in report.warnings():
        print(line, file=sys.stderr)
    if updates is None:
        print(f"not checked against the updates being phased: {unread}")
    print(
        f"{len(found.items)} override(s), {len(report.malformed)} malformed line(s),"
        f" {len(report.duplicates)} duplicate(s), {len(report.unmatched)} matching no update"
    )
    return EXIT_USAGE if report.malformed else EXIT_OK
