"""Inputs that once made the phaser write the wrong level to Launchpad, or publish a secret.

Each test drives the real CLI against the Launchpad double and counts what reached
Launchpad: a lost halts file, an upload with one deb unlike the others, a `--now` in
the future and a report directory beside the credentials. (A database of another
schema: tests/faults/test_state_database.py; error bodies that echo secrets:
tests/faults/test_secrets.py.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from phased_updater.cli import main
from tests.doubles.launchpad import LaunchpadDouble
from tests.doubles.scenarios import CLEAN_UPDATE
from tests.functional.engine import Engine
from tests.functional.launchpad_people import SruMember

HELLO = ("--series", "noble", "--source", "hello", "--version", CLEAN_UPDATE.version)


def hello_debs(engine: Engine) -> dict[str, int | None]:
    return engine.percentages(*CLEAN_UPDATE[:3])


@pytest.fixture
def halts(engine: Engine) -> Path:
    path = engine.home / "halts.json"
    path.write_text('{"halts": []}\n')
    return path


def halt_hello(engine: Engine, halts: Path) -> int:
    """`phased-updater halt` of hello, as an SRU member runs it (no cycle options)."""
    cycle_options, engine.options = engine.options, []
    try:
        return engine.command("halt", *HELLO, "--halts", str(halts), "--reason", "boot loop",
                              "--by", "sru-alice")  # fmt: skip
    finally:
        engine.options = cycle_options


# -- 1. a missing halts file lifts no halt ---------------------------------------------


def test_a_missing_halts_file_is_refused_and_nothing_is_written(
    engine: Engine, halts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert halt_hello(engine, halts) == 0
    assert set(hello_debs(engine).values()) == {0}
    halts.rename(halts.with_suffix(".bak"))
    posts = len(engine.posts())
    engine.later(7)
    capsys.readouterr()

    assert engine.run("--halts", str(halts)) == 2

    [line] = capsys.readouterr().err.strip().splitlines()
    assert f"--halts {str(halts)!r}: no such file" in line
    assert len(engine.posts()) == posts
    assert set(hello_debs(engine).values()) == {0}


def test_a_halt_the_file_lost_is_kept_from_the_database_and_the_report_says_so(
    engine: Engine, halts: Path
) -> None:
    assert halt_hello(engine, halts) == 0
    halts.write_text('{"halts": []}\n')  # the line is gone, the file is still there
    engine.later(7)

    assert engine.run("--halts", str(halts)) == 0

    hello = engine.package("hello")
    assert (hello["state"], hello["percentage"]) == ("halted", 0)
    assert "boot loop" in hello["reason"] and "halts file" in hello["reason"]
    assert set(hello_debs(engine).values()) == {0}


# -- 2. one deb unlike the others ------------------------------------------------------


def test_one_deb_without_a_pup_does_not_complete_the_upload(
    engine: Engine, launchpad: LaunchpadDouble
) -> None:
    # hello's arm64 deb lost its p-u-p (published late, or fully phased by hand).
    with launchpad.lock:
        [arm64] = [
            b
            for b in launchpad.archive.binaries.values()
            if (b.source_name, b.source_version, b.arch, b.is_debug, b.status)
            == ("hello", CLEAN_UPDATE.version, "arm64", False, "Published")
        ]
        arm64.pup = None

    assert engine.run() == 0

    hello = engine.package("hello")
    assert (hello["action"], hello["state"], hello["percentage"]) == ("advance", "phasing", 20)
    engine.later(0.1)
    # Every deb is brought to the upload's level: the null one too, and none to 100.
    assert set(hello_debs(engine).values()) == {20}


def test_one_deb_a_person_set_to_0_is_not_raised_with_the_others(
    engine: Engine, launchpad: LaunchpadDouble, tmp_path: Path
) -> None:
    sru = SruMember(launchpad, tmp_path)
    version = CLEAN_UPDATE[:3]
    assert sru.change_override(*version, 0, at=engine.now - timedelta(hours=1), arch="arm64")
    launchpad.publish()

    assert engine.run() == 0

    hello = engine.package("hello")
    assert (hello["state"], hello["by"]) == ("halted", "~sru-steve")
    engine.later(0.1)
    assert hello_debs(engine) == {"hello/amd64": 10, "hello/arm64": 0}


# -- 3. a writing run runs at the real time --------------------------------------------


def test_a_writing_run_with_now_in_the_future_is_refused(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    engine.now = datetime.now(UTC) + timedelta(days=1)

    assert engine.run() == 2

    [line] = capsys.readouterr().err.strip().splitlines()
    assert "ahead of the real clock" in line and "--dry-run" in line
    assert engine.posts() == []
    assert not (engine.home / "state.sqlite3").exists()


def test_a_replay_with_now_in_the_future_is_a_dry_run_that_writes_nothing(
    engine: Engine,
) -> None:
    for days in (1, 2, 3, 4):
        engine.now = datetime.now(UTC) + timedelta(days=days)
        assert engine.run("--dry-run") == 0
    assert engine.posts() == []
    assert set(hello_debs(engine).values()) == {10}


# -- 6. the published directory holds no secret ----------------------------------------


@pytest.mark.parametrize(
    "where",
    ["the report directory itself", "a folder inside it", "the folder it sits in"],
)
def test_a_report_dir_beside_the_credentials_is_refused(
    engine: Engine, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    report = engine.report_dir
    credentials = {
        "the report directory itself": report / "launchpad-credentials",
        "a folder inside it": report / "private" / "launchpad-credentials",
        "the folder it sits in": report.parent / "launchpad-credentials",
    }[where]
    engine.credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.write_bytes(engine.credentials.read_bytes())

    assert engine.run("--credentials", str(credentials)) == 2

    [line] = capsys.readouterr().err.strip().splitlines()
    assert "report_dir" in line and "credentials" in line and "published" in line
    assert engine.posts() == []
    assert not (report / "index.html").exists()


def test_a_report_dir_beside_the_smtp_password_is_refused_by_report_too(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert engine.run() == 0
    password = engine.report_dir / "smtp-password"
    password.write_text("hunter2\n")
    config = engine.home / "config.toml"
    config.write_text(
        f'state = "{engine.home / "state.sqlite3"}"\n'
        f'report_dir = "{engine.report_dir}"\n'
        'smtp_host = "127.0.0.1"\n'
        f'smtp_password_file = "{password}"\n'
    )
    capsys.readouterr()

    assert main(["report", "--config", str(config)]) == 2

    [line] = capsys.readouterr().err.strip().splitlines()
    assert "report_dir" in line and "smtp_password_file" in line
