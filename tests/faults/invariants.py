"""What must hold after any fault, checked against the Launchpad double's own records.

The double keeps every binary publication record it ever created (a write adds a new
Pending record dated with the double's clock), so the history of each update's level
can be rebuilt from it, whatever the engine believed or recorded.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from phased_updater.model import FULLY_PHASED
from tests.doubles.launchpad import LaunchpadDouble

ACTIVE = ("Pending", "Published")
# The policy steps once an update has been at its level for the interval less a tenth.
# Restated here rather than imported, so that a bug in the policy cannot hide itself.
SLACK = 0.1


def _percentage(pup: int | None) -> int:
    return FULLY_PHASED if pup is None else pup


def _name(launchpad: LaunchpadDouble, source_id: int) -> str:
    source = launchpad.archive.sources[source_id]
    return f"{source.series} {source.name} {source.version}"


def step_violations(launchpad: LaunchpadDouble, step: int, interval: timedelta) -> list[str]:
    """Every time an update's level rose by more than a step, or twice within an interval.

    An update's level is the highest current percentage of its debs (what the engine
    reads). Records are replayed in creation order; the first record of each binary
    is the upload itself. A rise back to a level reached before is a resume, which
    the policy allows at any time; a rise to a new high must be at most one step
    above the previous high, and an interval less a tenth after the previous rise.
    """
    by_source: dict[int, list[tuple[datetime, int, str, int]]] = defaultdict(list)
    with launchpad.lock:
        for record in launchpad.archive.binaries.values():
            if not record.is_debug and record.pocket == "Updates":
                by_source[record.source_id].append(
                    (
                        record.date_created,
                        record.id,
                        f"{record.name}/{record.arch}",
                        _percentage(record.pup),
                    )
                )
    violations = []
    for source_id, records in by_source.items():
        records.sort()
        current: dict[str, int] = {}
        highest = -1
        last_rise: datetime | None = None
        for created, _id, binary, pup in records:
            first = binary not in current
            before = max(current.values(), default=-1)
            current[binary] = pup
            level = max(current.values())
            if first or level <= before:
                highest = max(highest, level)
                last_rise = last_rise or created
                continue
            if level > highest:
                too_far = level - max(highest, 0) > step
                too_soon = (
                    before > 0
                    and last_rise is not None
                    and created - last_rise < interval * (1 - SLACK)
                )
                if too_far or too_soon:
                    violations.append(
                        f"{_name(launchpad, source_id)}: {before}% -> {level}% at {created}"
                        f" (highest before {highest}%, previous rise {last_rise})"
                    )
                highest = level
            last_rise = created
    return violations


def _current(launchpad: LaunchpadDouble) -> dict[int, dict[str, int]]:
    """The newest active percentage of every deb in -updates, by upload and name/arch."""
    newest: dict[int, dict[str, tuple[datetime, int, int | None]]] = defaultdict(dict)
    with launchpad.lock:
        for record in launchpad.archive.binaries.values():
            if record.is_debug or record.status not in ACTIVE or record.pocket != "Updates":
                continue
            key = f"{record.name}/{record.arch}"
            candidate = (record.date_created, record.id, record.pup)
            best = newest[record.source_id].get(key)
            if best is None or candidate > best:
                newest[record.source_id][key] = candidate
    return {
        source_id: {key: _percentage(value[2]) for key, value in debs.items()}
        for source_id, debs in newest.items()
    }


def unconverged(launchpad: LaunchpadDouble) -> list[str]:
    """Uploads whose debs do not all carry the same percentage."""
    return [
        f"{_name(launchpad, source_id)}: {sorted(debs.items())}"
        for source_id, debs in _current(launchpad).items()
        if len(set(debs.values())) > 1
    ]


def levels(launchpad: LaunchpadDouble) -> dict[str, int]:
    """Each upload's current level (its debs' highest percentage), by "series source version"."""
    return {
        _name(launchpad, source_id): max(debs.values())
        for source_id, debs in _current(launchpad).items()
    }


def database_problems(path: Path) -> list[str]:
    """What is wrong with a state database after a crash: integrity, orphans, gaps."""
    db = sqlite3.connect(path)
    try:
        problems = []
        [(integrity,)] = db.execute("PRAGMA integrity_check").fetchall()
        if integrity != "ok":
            problems.append(f"integrity_check: {integrity}")
        orphans = db.execute("PRAGMA foreign_key_check").fetchall()
        if orphans:
            problems.append(f"decisions of no run: {orphans}")
        unfinished_with_status = db.execute(
            "SELECT id FROM runs WHERE (finished IS NULL) != (exit_status IS NULL)"
        ).fetchall()
        if unfinished_with_status:
            problems.append(f"half-finished run rows: {unfinished_with_status}")
        twice = db.execute(
            "SELECT run_id, series, source, version, COUNT(*) FROM decisions"
            " GROUP BY run_id, series, source, version HAVING COUNT(*) > 1"
        ).fetchall()
        if twice:
            problems.append(f"an update decided twice in one run: {twice}")
        return problems
    finally:
        db.close()


def report_problems(report_dir: Path, state: Path) -> list[str]:
    """What is wrong with a published report: half a file, or a run that never finished.

    The report may be older than the latest run (a killed run publishes nothing), but it
    must be whole, and it must describe a finished run, dated when that run finished.
    """
    json_path, html_path = report_dir / "phased-updates.json", report_dir / "index.html"
    if not json_path.exists() and not html_path.exists():
        return []
    problems = []
    try:
        report = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return [f"phased-updates.json unreadable: {error}"]
    if not html_path.read_text(encoding="utf-8").rstrip().endswith("</html>"):
        problems.append("index.html is not whole")
    db = sqlite3.connect(state)
    try:
        row = db.execute("SELECT finished FROM runs WHERE id = ?", (report["run"],)).fetchone()
    finally:
        db.close()
    if row is None or row[0] is None:
        problems.append(f"the report shows run {report['run']}, which never finished")
    elif report["generated"] != row[0]:
        problems.append(f"the report says {report['generated']}, its run finished {row[0]}")
    return problems
