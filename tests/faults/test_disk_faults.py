"""A report directory that cannot be written, or a disk that fills up mid-write.

The run still applies and records its decisions, then fails loudly about the report
(exit 1, an ERROR line), and the previous report stays served whole: every file is
written to a temporary file and renamed over the old one.

Tests run as root here, where permission bits stop nothing, so "read-only" is made
with the immutable attribute as root and with chmod otherwise, and "full" with
RLIMIT_FSIZE in a child process (the kernel then answers EFBIG, as ENOSPC would).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from phased_updater.atomic_write import STALE_AFTER_SECONDS
from phased_updater.store import Store
from tests.doubles.scenarios import CLEAN_UPDATE
from tests.faults.invariants import levels
from tests.functional.engine import Engine

HELLO = " ".join(CLEAN_UPDATE[:3])


def temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """No file can be created in `directory`, even by root, until the block ends."""
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", str(directory)], capture_output=True, check=False)
        if made.returncode != 0:
            pytest.skip(f"chattr +i is not possible here: {made.stderr.decode().strip()}")
        undo = ["chattr", "-i", str(directory)]
    else:
        directory.chmod(0o555)
        undo = ["chmod", "0755", str(directory)]
    try:
        with pytest.raises(OSError):
            (directory / "probe").write_text("")
        yield
    finally:
        subprocess.run(undo, check=True)


def assert_decided_and_recorded(engine: Engine, run_id: int, level: int) -> None:
    assert levels(engine.launchpad)[HELLO] == level
    store = Store.open(engine.home / "state.sqlite3")
    try:
        run = store.run(run_id)
        assert run is not None and run.finished is not None  # the cycle itself completed
        decided = {r.source: r for r in store.decisions_for_run(run_id)}
    finally:
        store.close()
    assert decided["hello"].to_percentage == level and decided["hello"].applied
    # The history says what the process exited with, and why.
    assert run.exit_status == 1
    assert any("cannot write the report" in f for f in run.summary["failures"]), run.summary


def report_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR and "cannot write the report" in r.getMessage()
    ]


def test_a_report_dir_under_a_regular_file_fails_loudly_after_applying(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = engine.home / "not-a-directory"
    blocker.write_text("")
    assert engine.run("--report-dir", str(blocker / "report")) == 1
    assert report_errors(caplog), caplog.text
    assert_decided_and_recorded(engine, 1, 20)


def test_a_read_only_report_dir_keeps_the_previous_report_whole(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    assert engine.run() == 0
    before = snapshot(engine.report_dir)
    assert set(before) == {
        "index.html",
        "phased-updates.html",
        "phased-updates.json",
        "run-status.json",
    }
    engine.later(6)
    with read_only(engine.report_dir):
        assert engine.run() == 1
        assert snapshot(engine.report_dir) == before
    assert report_errors(caplog), caplog.text
    assert temporaries(engine.report_dir) == []
    assert_decided_and_recorded(engine, 2, 30)
    # Once the directory is writable again, the next run brings the report up to date.
    engine.later(1)
    assert engine.run() == 0
    assert engine.report()["run"] == 3


WRITE_UNDER_A_FILE_SIZE_LIMIT = """
import resource, sys
from pathlib import Path
from phased_updater.atomic_write import write_atomically

limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
write_atomically(Path(sys.argv[1]), b"new report " * limit)
"""


def test_a_disk_filling_up_mid_write_keeps_the_previous_file_whole(
    engine: Engine, tmp_path: Path
) -> None:
    assert engine.run() == 0
    index = engine.report_dir / "index.html"
    before = index.read_bytes()
    limit = len(before) // 2  # the new page would be past the end of the "disk"
    completed = subprocess.run(
        [sys.executable, "-c", WRITE_UNDER_A_FILE_SIZE_LIMIT, str(index), str(limit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    assert "File too large" in completed.stderr  # EFBIG: the write did fail part-way
    assert index.read_bytes() == before
    assert temporaries(engine.report_dir) == []


def test_temporary_files_of_a_killed_writer_are_removed_later(engine: Engine) -> None:
    engine.report_dir.mkdir()
    stale = engine.report_dir / ".index.html.k1ll3d"
    fresh = engine.report_dir / ".index.html.wr1t1n"  # perhaps another writer's, right now
    for leftover in (stale, fresh):
        leftover.write_text("half a page")
    old = stale.stat().st_mtime - STALE_AFTER_SECONDS - 60
    os.utime(stale, (old, old))
    assert engine.run() == 0
    assert temporaries(engine.report_dir) == [fresh.name]
