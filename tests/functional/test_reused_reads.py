"""Runs inside an update's interval reuse what an earlier run read (`Cycle._reusable`).

A phaser that runs every hour with a 6-hour interval should not read every update's
binaries every hour: between two reads only a write changes them, and the cycle
forgets a read as soon as it writes. So a run inside the interval asks the Error
Tracker (problems can appear at any time) and Launchpad only for what it must write.
Every test compares with what an engine with no earlier reads decides on the same
archive at the same time: reusing a read must never change a decision. (The archive
has no earlier stops: a stop's standing is history, which a fresh engine lacks.)
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from phased_updater.config import Settings
from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import LaunchpadDouble
from tests.doubles.scenarios import SIZED_NOW, sized
from tests.functional.conftest import MakeLaunchpad
from tests.functional.engine import Engine

SOURCES = 12
HOUR = timedelta(hours=1)
INTERVAL = Settings().interval


def made(directory: Path) -> Path:
    directory.mkdir(parents=True)
    return directory


def binaries_reads(launchpad: LaunchpadDouble) -> int:
    """Requests for binaries: one update's (a source publication's), or a whole pocket's."""
    with launchpad.lock:
        return sum(r.query.get("ws.op") == "getPublishedBinaries" for r in launchpad.requests)


def every_update_read_afresh(launchpad: LaunchpadDouble) -> bool:
    """Whether the run listed the binaries of every series' -updates pocket, one request
    per architecture, and read no update's binaries on its own: how a run reads more
    updates than a pocket has architectures (`Cycle._pockets`)."""
    series = {s.series for s in launchpad.archive.sources.values() if s.pocket == "Updates"}
    with launchpad.lock:
        reads = [r for r in launchpad.requests if r.query.get("ws.op") == "getPublishedBinaries"]
    listed = {r.query.get("distro_arch_series") for r in reads if r.path.endswith("/primary")}
    pockets = {
        f'"{launchpad.api_base}ubuntu/{s}/{arch}"'
        for s in series
        for arch in launchpad.archive.arches[s]
    }
    return len(reads) == len(listed) and listed == pockets


def posts(launchpad: LaunchpadDouble) -> int:
    with launchpad.lock:
        return sum(r.method == "POST" for r in launchpad.requests)


def decisions(engine: Engine) -> list[dict[str, Any]]:
    """The run's decisions, without the history that only the engine with one has."""
    packages = engine.report()["packages"]
    return sorted(
        ({k: v for k, v in p.items() if k != "history"} for p in packages),
        key=lambda p: (p["series"], p["source"]),
    )


def fresh_decisions(
    launchpad: LaunchpadDouble, errortracker: ErrorTrackerDouble, engine: Engine, home: Path
) -> list[dict[str, Any]]:
    """What the engine would decide at `engine.now` with no earlier reads (a dry run).

    A copy of its state database without the kept reads: the same history (a stop in
    force is history a decision rests on), every update read afresh.
    """
    fresh = Engine(launchpad, errortracker, made(home), engine.now)
    shutil.copy(engine.home / "state.sqlite3", fresh.home / "state.sqlite3")
    with sqlite3.connect(fresh.home / "state.sqlite3") as database:
        database.execute("DELETE FROM last_reads")
    assert fresh.run("--dry-run") in (0, 1)
    return decisions(fresh)


def test_an_hour_later_only_the_error_tracker_is_asked(
    make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> None:
    launchpad = make_launchpad(sized(SOURCES, stopped=False), clock=SIZED_NOW)
    engine = Engine(launchpad, errortracker, made(tmp_path / "engine"), SIZED_NOW)
    assert engine.run() == 0  # every update steps up (or resumes): written, read forgotten
    assert {p["action"] for p in decisions(engine)} <= {"advance", "resume"}
    engine.later(1)
    assert engine.run() == 0  # read again after the write: waiting now, the read is kept
    assert {p["action"] for p in decisions(engine)} == {"wait"}
    engine.later(1)
    launchpad.reset_requests()
    errortracker.reset_requests()

    assert engine.run() == 0

    assert binaries_reads(launchpad) == 0
    with errortracker.lock:
        assert len(errortracker.requests) == 2 * SOURCES
    assert {p["action"] for p in decisions(engine)} == {"wait"}
    assert decisions(engine) == fresh_decisions(launchpad, errortracker, engine, tmp_path / "fresh")


def test_a_crash_found_inside_the_interval_stops_the_update_from_a_fresh_read(
    make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> None:
    launchpad = make_launchpad(sized(SOURCES, stopped=False), clock=SIZED_NOW)
    engine = Engine(launchpad, errortracker, made(tmp_path / "engine"), SIZED_NOW)
    assert engine.run() == 0
    engine.later(1)
    assert engine.run() == 0
    crashing = decisions(engine)[0]
    errortracker.new_buckets[
        (crashing["source"], crashing["previous_version"], crashing["version"])
    ] = [{"function": "crash_here", "web_link": "https://errors.ubuntu.com/problem/1"}]
    engine.later(1)
    launchpad.reset_requests()

    assert engine.run() == 0

    # The stop writes, so only that update is read again, and written at 0.
    assert binaries_reads(launchpad) == 1
    stopped = [p for p in decisions(engine) if p["action"] == "stop"]
    assert [(p["source"], p["percentage"]) for p in stopped] == [(crashing["source"], 0)]
    engine.later(1)  # the publisher runs: the records written replace the old ones
    written = launchpad.binaries(crashing["series"], crashing["source"], crashing["version"])
    assert {b.pup for b in written if not b.is_debug} == {0}
    # Written, so forgotten: the next run reads it again and keeps it stopped.
    launchpad.reset_requests()
    assert engine.run() == 0
    assert binaries_reads(launchpad) == 1
    assert posts(launchpad) == 0
    assert decisions(engine) == fresh_decisions(launchpad, errortracker, engine, tmp_path / "fresh")


def test_a_read_an_interval_old_is_not_reused(
    make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> None:
    """Dry runs never write, so every read is kept; but never for longer than an interval."""
    launchpad = make_launchpad(sized(SOURCES, stopped=False), clock=SIZED_NOW)
    engine = Engine(launchpad, errortracker, made(tmp_path / "engine"), SIZED_NOW)
    assert engine.run(anonymous=True) == 0
    engine.now += INTERVAL - timedelta(seconds=1)
    launchpad.reset_requests()
    assert engine.run(anonymous=True) == 0
    assert binaries_reads(launchpad) == 0

    engine.now = SIZED_NOW + INTERVAL
    launchpad.reset_requests()
    assert engine.run(anonymous=True) == 0
    assert every_update_read_afresh(launchpad)
    assert decisions(engine) == fresh_decisions(launchpad, errortracker, engine, tmp_path / "fresh")


def test_a_replay_at_an_earlier_time_does_not_reuse_later_reads(
    make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> None:
    launchpad = make_launchpad(sized(SOURCES, stopped=False), clock=SIZED_NOW)
    engine = Engine(launchpad, errortracker, made(tmp_path / "engine"), SIZED_NOW)
    assert engine.run(anonymous=True) == 0
    engine.now = SIZED_NOW - HOUR
    launchpad.reset_requests()
    assert engine.run(anonymous=True) == 0
    assert every_update_read_afresh(launchpad)
