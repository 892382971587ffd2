"""Bad values and broken databases: one line naming the value and the reason, exit 2.

Run as a user runs it, in a real process: no traceback, the last line of stderr names
the option (or the file) and what is wrong, and nothing is written anywhere. A locked
database is tried in-process, where the store's wait can be shortened.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from phased_updater import store
from phased_updater.cli import main
from tests.functional.engine import Engine

Setup = Callable[[Engine], list[str]]


def _state_is_a_directory(engine: Engine) -> list[str]:
    (engine.home / "state-dir").mkdir()
    return ["--state", str(engine.home / "state-dir")]


def _halts_is_a_directory(engine: Engine) -> list[str]:
    (engine.home / "halts-dir").mkdir()
    return ["--halts", str(engine.home / "halts-dir")]


def _nul_in_a_toml_path(engine: Engine) -> list[str]:
    config = engine.home / "config.toml"
    config.write_text('overrides = "over\\u0000rides.csv"\n')
    return ["--config", str(config)]


def _database(content: bytes) -> Setup:
    def setup(engine: Engine) -> list[str]:
        (engine.home / "state.sqlite3").write_bytes(content)
        return []

    return setup


def _read_only_database(engine: Engine) -> list[str]:
    assert main(engine.argv("--dry-run")) == 0
    for path in engine.home.rglob("*"):
        os.chown(path, engine.home.stat().st_uid, engine.home.stat().st_gid)
    (engine.home / "state.sqlite3").chmod(0o444)
    return []


def _directory_not_writable(engine: Engine) -> list[str]:
    home = engine.home / "ro"
    home.mkdir()
    home.chmod(0o555)
    return ["--state", str(home / "state.sqlite3")]


CASES: dict[str, tuple[Setup, str]] = {
    "superscript step": (lambda e: ["--step", "²"], "step '²'"),
    "superscript workers": (lambda e: ["--launchpad-workers", "²"], "launchpad_workers '²'"),
    "step=--5": (lambda e: ["--step=--5"], "step '--5'"),
    "unclosed IPv6 Launchpad URL": (lambda e: ["--launchpad", "http://[::1"], "http://[::1"),
    "port out of range": (lambda e: ["--launchpad", "http://127.0.0.1:99999/"], "99999"),
    "NUL in a TOML path": (_nul_in_a_toml_path, "NUL"),
    "state is a directory": (_state_is_a_directory, "state-dir"),
    "halts is a directory": (_halts_is_a_directory, "halts-dir"),
    "corrupt database": (
        _database(b"SQLite format 3\x00" + b"\x13" * 4096),
        "state.sqlite3",
    ),
    "random bytes": (_database(os.urandom(8192)), "state.sqlite3"),
    "read-only database": (_read_only_database, "state.sqlite3"),
    "directory not writable": (_directory_not_writable, "/ro/state"),
}


NOBODY = 65534


@pytest.fixture
def unprivileged(engine: Engine) -> Iterator[Engine]:
    """The engine as a user that file modes bind: root writes to read-only files, so
    under root the process runs as nobody, in a home nobody owns."""
    if os.geteuid() != 0:
        yield engine
        return
    try:
        subprocess.run([sys.executable, "-c", "pass"], user=NOBODY, group=NOBODY,
                       extra_groups=[], check=True, timeout=60, cwd="/")  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"root, and nobody cannot run {sys.executable}")
    home = Path(tempfile.mkdtemp(prefix="phased-updater-"))
    try:
        home.chmod(0o755)
        unprivileged = Engine(engine.launchpad, engine.errors, home, engine.now, engine.options)
        for path in [home, *home.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)
        yield unprivileged
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("case", ["read-only database", "directory not writable"])
def test_permissions_are_named_in_one_line(unprivileged: Engine, case: str) -> None:
    setup, named = CASES[case]
    check_one_line(unprivileged, setup, named)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c not in ("read-only database", "directory not writable")]
)
def test_a_bad_value_gives_one_line_naming_it_and_exit_2(engine: Engine, case: str) -> None:
    setup, named = CASES[case]
    check_one_line(engine, setup, named)


def check_one_line(engine: Engine, setup: Setup, named: str) -> None:
    extra = setup(engine)
    index = engine.report_dir / "index.html"
    before = index.read_bytes() if index.exists() else None
    as_nobody = os.geteuid() == 0 and engine.home.stat().st_uid == NOBODY
    result = subprocess.run(
        [sys.executable, "-m", "phased_updater.cli", *engine.argv(*extra)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        user=NOBODY if as_nobody else None,
        group=NOBODY if as_nobody else None,
        extra_groups=[] if as_nobody else None,
        cwd=engine.home,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("phased-updater run: ") and named in last, last
    assert engine.posts() == []
    assert (index.read_bytes() if index.exists() else None) == before


def test_a_locked_database_is_one_line_naming_the_file(
    engine: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "BUSY_TIMEOUT_SECONDS", 0.3)
    assert engine.run("--dry-run") == 0
    posts = len(engine.posts())
    holder = sqlite3.connect(engine.home / "state.sqlite3")
    holder.execute("BEGIN EXCLUSIVE")
    capsys.readouterr()
    try:
        status = engine.run()
    finally:
        holder.rollback()
        holder.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert status in (1, 2)
    assert "state.sqlite3" in err[-1] and "locked" in err[-1]
    assert len(engine.posts()) == posts


def test_report_reads_a_read_only_database(engine: Engine, tmp_path: Path) -> None:
    assert engine.run() == 0
    state = engine.home / "state.sqlite3"
    state.chmod(0o444)
    engine.home.chmod(0o555)  # not even a journal can be made beside it
    try:
        status = main(["report", "--state", str(state), "--report-dir", str(tmp_path / "r")])
    finally:
        engine.home.chmod(0o755)
    assert status == 0
    assert (tmp_path / "r" / "index.html").exists()
