"""Two cycles started at once (the timer, and a person's run-now action), as two real
processes on one state database: the second exits 1 at once with a clear message and
touches nothing; a holder killed with SIGKILL leaves no stale lock behind."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.functional.engine import Engine

HELD = "another phased-updater cycle holds"


def start(engine: Engine, *extra: str) -> subprocess.Popen[str]:
    engine.launchpad.clock = engine.now
    return subprocess.Popen(
        [sys.executable, "-m", "phased_updater.cli", *engine.argv(*extra)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_lock(engine: Engine, lock: Path, process: subprocess.Popen[str]) -> None:
    """Until `process` holds the lock: a cycle takes it before its first Launchpad request."""
    assert engine.launchpad.wait_for(lambda: bool(engine.launchpad.requests), 30.0), (
        "the first cycle never reached Launchpad"
    )
    assert process.poll() is None, "the first cycle ended before it was seen holding the lock"
    assert lock.read_text().strip() == str(process.pid)


def runs_recorded(engine: Engine) -> int:
    db = sqlite3.connect(engine.home / "state.sqlite3")
    try:
        return int(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    finally:
        db.close()


def test_a_second_cycle_exits_with_a_clear_message_while_the_first_runs(engine: Engine) -> None:
    engine.launchpad.latency = 0.05  # the first cycle lasts a few seconds
    first = start(engine)
    wait_for_lock(engine, engine.home / "state.lock", first)
    second = start(engine)
    _out, err = second.communicate(timeout=60)
    assert second.returncode == 1
    assert HELD in err
    assert str(engine.home / "state.lock") in err
    assert "Traceback" not in err
    assert first.poll() is None, "the second cycle should have been refused while the first ran"
    _out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert runs_recorded(engine) == 1  # the refused cycle recorded nothing


def test_a_killed_holder_leaves_no_stale_lock(engine: Engine) -> None:
    engine.launchpad.latency = 0.05
    first = start(engine)
    wait_for_lock(engine, engine.home / "state.lock", first)
    first.kill()  # SIGKILL, by pid
    first.communicate(timeout=30)
    second = start(engine)
    _out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert HELD not in err
