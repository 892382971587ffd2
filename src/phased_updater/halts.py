"""Manual halts: updates a person stopped, which the engine never resumes by itself.

The halts file is JSON, `{"halts": [{"series", "source", "version", "reason", "by",
"at"}]}`. Unlike the overrides file, a malformed halts file stops the run (exit 2):
ignoring a halt would let the engine resume an update that a person deliberately
stopped.

`halt` writes the halt to the file and to the state database first (so every later
cycle keeps the update at 0, even if the file is lost), then sets every deb of the
update to 0 on Launchpad at once and records that as a decision, so the history says
who halted it and why. `resume` lifts any stop (a halt, a person's stop on Launchpad,
an automatic stop, an update held for want of a comparison) by recording who resumed
it and why; the next cycle decides as for a phasing update at the level it resumes to
(its peak), the problems then on record counting as acknowledged by that person.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from phased_updater.debian import check_source_name, check_version
from phased_updater.duration import format_timestamp, parse_timestamp
from phased_updater.errors import UsageError
from phased_updater.model import CrashCheck, Halt, Update, UpdateKey
from phased_updater.overrides import Overrides
from phased_updater.policy import decide, writes_for
from phased_updater.sources.launchpad import Connection, Gone, LaunchpadArchive, connect
from phased_updater.store import Store
from phased_updater.text import encodable

_FIELDS = ("series", "source", "version", "reason", "by", "at")

Halts = dict[UpdateKey, Halt]


def _halt(index: int, item: Any) -> Halt:
    if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in _FIELDS):
        raise ValueError(f"entry {index} needs the string fields {', '.join(_FIELDS)}")
    check_source_name(item["source"])
    check_version(item["version"])
    return Halt(
        series=item["series"],
        source=item["source"],
        version=item["version"],
        # A hand-edited file may carry "\udcff": kept, it could not be stored or shown.
        reason=encodable(item["reason"]),
        by=encodable(item["by"]),
        at=parse_timestamp(item["at"]),
    )


def parse_halts(text: str) -> Halts:
    data = json.loads(text) if text.strip() else {"halts": []}
    if not isinstance(data, dict) or not isinstance(data.get("halts"), list):
        raise ValueError('expected an object {"halts": [...]}')
    halts = [_halt(i, item) for i, item in enumerate(data["halts"])]
    return {h.key: h for h in halts}


def load_halts(path: Path | None) -> Halts:
    if path is None or not path.exists():
        return {}
    try:
        return parse_halts(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"halts file {str(path)!r}: {error.strerror}") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise UsageError(f"halts file {str(path)!r}: {error}") from None


def save_halts(path: Path, halts: Halts) -> None:
    """Replace the file atomically, so a reader never sees half a list."""
    entries = [
        {**asdict(h), "at": format_timestamp(h.at)}
        for h in sorted(halts.values(), key=lambda h: h.key)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".halts-")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump({"halts": entries}, stream, indent=2)
        stream.write("\n")
    os.replace(temporary, path)


@dataclass(frozen=True)
class HaltSetup:
    """What halting and resuming need of the settings."""

    halts: Path | None  # None: no halts file (only `resume` works without one)
    state: Path
    connection: Connection | None  # None: a dry run, Launchpad is not changed
    step: int
    interval: timedelta


def describe(key: UpdateKey) -> str:
    return f"{key.source} {key.version} in {key.series}-updates"


def _find_update(connection: Connection, wanted: UpdateKey) -> tuple[LaunchpadArchive, Update]:
    archive = LaunchpadArchive(connect(connection))
    [series] = archive.supported_series((wanted.series,))
    update = archive.read_update(series, wanted.source, wanted.version)
    if isinstance(update, Gone):
        raise UsageError(f"{describe(wanted)} is not phasing ({update.why}): nothing to halt")
    return archive, update


def halt(setup: HaltSetup, wanted: UpdateKey, reason: str, by: str, now: datetime) -> str:
    """Halt `wanted`; returns a one-line summary."""
    if not reason.strip() or not by.strip():
        raise UsageError("--reason and --by are required: the report shows who halted and why")
    # Arguments that were not UTF-8 arrive as lone surrogates: made storable and showable.
    reason, by = encodable(reason.strip()), encodable(by.strip())
    if setup.halts is None:
        raise UsageError("no halts file configured: set `halts` in the config or pass --halts")
    halts = load_halts(setup.halts)
    entry = halts.get(wanted) or Halt(*wanted, reason, by, now)
    archive_and_update = None
    if setup.connection is not None:
        archive_and_update = _find_update(setup.connection, wanted)
    # The file and the database first: should the writes below fail, no cycle can
    # resume the update.
    save_halts(setup.halts, {**halts, wanted: entry})
    store = Store.open(setup.state)
    try:
        store.record_manual("halt", wanted, entry.by, entry.reason, now)
        if archive_and_update is None:
            return f"halt of {describe(wanted)} recorded; Launchpad not changed (dry run)"
        archive, update = archive_and_update
        decision = decide(update, CrashCheck(), Overrides(), entry, now, setup.step, setup.interval)
        binaries = {b.self_link: b for b in update.binaries}
        for self_link, percentage in writes_for(update, decision):
            archive.set_percentage(binaries[self_link], percentage)
        run_id = store.start_run(now, False, setup.step, setup.interval)
        store.record(run_id, now, update, decision, applied=True)
        store.finish_run(run_id, now, 0, {"halt": describe(wanted), "by": entry.by})
    finally:
        store.close()
    return (
        f"halted {describe(wanted)} at {decision.from_percentage}% (now 0%)"
        f" by {entry.by}: {entry.reason}"
    )


def resume(setup: HaltSetup, wanted: UpdateKey, by: str, reason: str, now: datetime) -> str:
    """Lift whatever stop `wanted` is in; returns a one-line summary."""
    if not reason.strip() or not by.strip():
        raise UsageError("--by and --reason are required: the report shows who resumed and why")
    # Arguments that were not UTF-8 arrive as lone surrogates: made storable and showable.
    reason, by = encodable(reason.strip()), encodable(by.strip())
    halts = load_halts(setup.halts)
    store = Store.open(setup.state)
    try:
        history = store.history(*wanted)
        if wanted not in halts and not history:
            raise UsageError(
                f"{describe(wanted)} is neither halted nor known to the state database"
                f" {str(setup.state)!r}: check the series, source and version"
            )
        if wanted in halts and setup.halts is not None:
            del halts[wanted]
            save_halts(setup.halts, halts)
        store.record_manual("resume", wanted, by, reason, now)
    finally:
        store.close()
    peak = max((record.highest_percentage for record in history), default=0)
    return (
        f"resume of {describe(wanted)} recorded (by {by}); the next cycle lifts its"
        f" stop and phases it from {peak}% unless a new problem stops it again"
    )
