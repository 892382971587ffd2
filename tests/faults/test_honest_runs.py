"""A run's record says what really happened: no failure may look like success.

A crash while rendering is recorded with exit 1 and its reason; a usage error found
inside the cycle (a misspelt series) records no run, so `report` cannot publish an
empty "successful" one; `report` renders the latest cycle, not a halt's pseudo-run;
`/healthz` answers 503 once the report is older than two run periods.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from phased_updater import store
from phased_updater.cli import main
from phased_updater.commands.serve import create
from phased_updater.report import page
from tests.doubles.scenarios import CLEAN_UPDATE
from tests.functional.engine import Engine
from tests.functional.report_server import running


def runs(engine: Engine) -> list[tuple[int, int | None, dict[str, Any]]]:
    with sqlite3.connect(engine.home / "state.sqlite3") as database:
        rows = database.execute("SELECT id, exit_status, summary FROM runs ORDER BY id").fetchall()
    return [(id_, status, json.loads(summary or "{}")) for id_, status, summary in rows]


def test_a_crash_while_rendering_is_recorded_with_exit_1_and_its_reason(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(view: object) -> str:
        raise RuntimeError("template bug: 'None' has no attribute 'iso'")

    # A bug in our own rendering, planted where the page is drawn.
    monkeypatch.setattr(page, "render", broken)

    assert engine.run() == 1

    [(_, status, summary)] = runs(engine)
    assert status == 1
    failures = summary["failures"]
    assert isinstance(failures, list) and len(failures) == 1
    failure = str(failures[0])
    assert "cannot write the report" in failure and "template bug" in failure
    snapshot = json.loads((engine.report_dir / "run-status.json").read_text())
    assert snapshot["exit_status"] == 1


def test_a_misspelt_series_records_no_run_and_leaves_the_report_alone(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert engine.run() == 0
    before = (engine.report_dir / "phased-updates.json").read_bytes()
    capsys.readouterr()

    assert engine.run("--series", "nobel") == 2

    # The one line besides the log's (its records start with their time).
    [line] = [e for e in capsys.readouterr().err.splitlines() if e.startswith("phased-updater ")]
    assert "nobel" in line
    assert len(runs(engine)) == 1
    assert (engine.report_dir / "phased-updates.json").read_bytes() == before
    # `report` still renders the last real run, with every update in it.
    assert main(["report", "--state", str(engine.home / "state.sqlite3"),
                 "--report-dir", str(engine.report_dir)]) == 0  # fmt: skip
    assert len(engine.report()["packages"]) > 1


def test_report_after_a_halt_renders_the_latest_cycle_not_the_halt(engine: Engine) -> None:
    assert engine.run() == 0
    cycle = engine.report()["run"]
    halts = engine.home / "halts.json"
    halts.write_text('{"halts": []}\n')
    engine.options = []
    hello = ("--series", "noble", "--source", "hello", "--version", CLEAN_UPDATE.version)
    assert engine.command("halt", *hello, "--halts", str(halts), "--reason", "boot loop",
                          "--by", "sru-alice") == 0  # fmt: skip
    assert len(runs(engine)) == 2  # the halt's own record of its decision

    assert main(["report", "--state", str(engine.home / "state.sqlite3"),
                 "--report-dir", str(engine.report_dir)]) == 0  # fmt: skip

    document = engine.report()
    assert document["run"] == cycle
    assert {p["source"] for p in document["packages"]} >= {"hello", "libfoo", "cryptkit"}


def test_healthz_is_503_once_the_report_is_older_than_two_periods(engine: Engine) -> None:
    assert engine.run() == 0
    now = [engine.now + timedelta(hours=1)]

    def clock() -> datetime:
        return now[0]

    server = create(engine.report_dir, "127.0.0.1:0", run_every_seconds=3600, clock=clock,
                    asyncore_loop_timeout=0.05)  # fmt: skip
    with running(server) as port:
        url = f"http://127.0.0.1:{port}/healthz"
        assert status_of(url) == 200
        now[0] = engine.now + timedelta(hours=2, seconds=1)  # two periods of 1h
        assert status_of(url) == 503


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_a_database_failing_mid_command_is_one_line_not_a_traceback(
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(store, "BUSY_TIMEOUT_SECONDS", 0.5)
    assert engine.run() == 0
    halts = tmp_path / "halts.json"
    halts.write_text('{"halts": []}\n')
    # Another process holds the write lock for longer than the store waits.
    holder = sqlite3.connect(engine.home / "state.sqlite3")
    holder.execute("BEGIN IMMEDIATE")
    engine.options = []
    capsys.readouterr()
    try:
        hello = ("--series", "noble", "--source", "hello", "--version", CLEAN_UPDATE.version)
        status = engine.command("halt", *hello, "--halts", str(halts), "--reason", "x",
                                "--by", "sru-alice", "--dry-run")  # fmt: skip
    finally:
        holder.rollback()
        holder.close()

    err = capsys.readouterr().err
    assert status in (1, 2)
    assert "Traceback" not in err
    assert "locked" in err
