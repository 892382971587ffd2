"""Manual halts and resumes: a person stops an update, and only a person lifts it.

Halting writes the halt to the halts file (so every later cycle keeps the update at
0), then sets every deb of the update to 0 on Launchpad at once and records that as a
decision, so the history says who halted it and why. Resuming only lifts the halt:
the next cycle decides, by the usual rules, whether the update resumes or stays
stopped on a problem the Error Tracker still reports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from phased_updater.config import Settings
from phased_updater.cycle import writes_for
from phased_updater.debian import check_source_name, check_version
from phased_updater.errors import UsageError
from phased_updater.halts import load_halts, save_halts
from phased_updater.launchpad import Connection, LaunchpadArchive, connect, resolve_service_root
from phased_updater.model import CrashCheck, Halt, Update
from phased_updater.overrides import Overrides
from phased_updater.policy import decide
from phased_updater.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    series: str
    source: str
    version: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.series, self.source, self.version)

    def __str__(self) -> str:
        return f"{self.source} {self.version} in {self.series}-updates"


def target(series: str, source: str, version: str) -> Target:
    try:
        check_source_name(source, "--source")
        check_version(version, "--version")
    except ValueError as error:
        raise UsageError(str(error)) from None
    if not series.isalpha() or not series.islower():
        raise UsageError(f"--series {series!r}: not an Ubuntu series name")
    return Target(series, source, version)


def _halts_file(settings: Settings) -> None:
    if settings.halts is None:
        raise UsageError("no halts file configured: set `halts` in the config or pass --halts")


def _find_update(settings: Settings, wanted: Target) -> tuple[LaunchpadArchive, Update]:
    connection = Connection(
        resolve_service_root(settings.launchpad), settings.credentials, settings.cache_dir
    )
    archive = LaunchpadArchive(connect(connection))
    [series] = archive.supported_series((wanted.series,))
    update = archive.read_update(series, wanted.source, wanted.version)
    if update is None:
        raise UsageError(f"{wanted} is not phasing: nothing to halt")
    return archive, update


def halt(settings: Settings, wanted: Target, reason: str, by: str, now: datetime) -> str:
    """Halt `wanted`; returns a one-line summary."""
    _halts_file(settings)
    assert settings.halts is not None  # noqa: S101 - checked just above, for the type checker
    if not reason.strip() or not by.strip():
        raise UsageError("--reason and --by are required: the report shows who halted and why")
    halts = load_halts(settings.halts)
    entry = halts.get(wanted.key) or Halt(*wanted.key, reason.strip(), by.strip(), now)
    if settings.effective_dry_run:
        save_halts(settings.halts, {**halts, wanted.key: entry})
        return f"halt of {wanted} recorded; Launchpad not changed (dry run)"
    archive, update = _find_update(settings, wanted)
    # The file first: should the writes below fail, no cycle can resume the update.
    save_halts(settings.halts, {**halts, wanted.key: entry})
    decision = decide(
        update, CrashCheck(), Overrides(), entry, now, settings.step, settings.interval
    )
    binaries = {b.self_link: b for b in update.binaries}
    for self_link, percentage in writes_for(update, decision):
        archive.set_percentage(binaries[self_link], percentage)
    store = Store.open(settings.state)
    try:
        run_id = store.start_run(now, False, settings.step, settings.interval)
        store.record(run_id, now, update, decision, applied=True)
        store.finish_run(run_id, now, 0, {"halt": str(wanted), "by": entry.by})
    finally:
        store.close()
    return f"halted {wanted} at {decision.from_percentage}% (now 0%) by {entry.by}: {entry.reason}"


def resume(settings: Settings, wanted: Target) -> str:
    _halts_file(settings)
    assert settings.halts is not None  # noqa: S101 - checked just above, for the type checker
    halts = load_halts(settings.halts)
    if wanted.key not in halts:
        held = ", ".join(f"{s}/{p}/{v}" for s, p, v in sorted(halts)) or "none"
        raise UsageError(f"{wanted} is not halted by hand (manual halts: {held})")
    del halts[wanted.key]
    save_halts(settings.halts, halts)
    return f"lifted the halt of {wanted}; the next cycle decides whether it resumes"
