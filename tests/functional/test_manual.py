"""halt, resume and overrides check, through the CLI against the doubles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phased_updater.cli import main
from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import LaunchpadDouble
from tests.doubles.scenarios import CLEAN_UPDATE, DEMO_NOW
from tests.functional.engine import Engine


@pytest.fixture
def engine(launchpad: LaunchpadDouble, errortracker: ErrorTrackerDouble, tmp_path: Path) -> Engine:
    (tmp_path / "halts.json").write_text('{"halts": []}\n')
    return Engine(
        launchpad, errortracker, tmp_path, DEMO_NOW, ["--halts", str(tmp_path / "halts.json")]
    )


def manual(engine: Engine, command: str, *extra: str, anonymous: bool = False) -> int:
    argv = [
        command,
        "--launchpad",
        engine.launchpad.service_root,
        "--state",
        str(engine.home / "state.sqlite3"),
        "--halts",
        str(engine.home / "halts.json"),
        "--now",
        engine.now.isoformat(),
        "--series",
        CLEAN_UPDATE.series,
        "--source",
        CLEAN_UPDATE.source,
        "--version",
        CLEAN_UPDATE.version,
        *extra,
    ]
    if not anonymous:
        argv += ["--credentials", str(engine.credentials)]
    return main(argv)


def test_halt_stops_now_and_no_cycle_resumes_it(engine: Engine) -> None:
    assert manual(engine, "halt", "--reason", "breaks boot on arm64", "--by", "sru-alice") == 0
    assert set(engine.percentages(*CLEAN_UPDATE[:3]).values()) == {0}
    halts = json.loads((engine.home / "halts.json").read_text())["halts"]
    assert [(h["source"], h["by"]) for h in halts] == [("hello", "sru-alice")]
    for _ in range(2):
        engine.later(6)
        engine.run()
        hello = engine.package("hello")
        assert (hello["state"], hello["percentage"]) == ("halted", 0)
        assert "sru-alice" in hello["reason"]
        assert "breaks boot on arm64" in hello["reason"]
    assert hello["history"][0]["action"] == "halt"


def test_resume_lifts_the_halt_and_the_next_cycle_resumes(engine: Engine) -> None:
    engine.run()  # 10% -> 20%
    engine.later(1)
    assert manual(engine, "halt", "--reason", "r", "--by", "me") == 0
    assert manual(engine, "resume", "--by", "me", "--reason", "fixed") == 0
    assert set(engine.percentages(*CLEAN_UPDATE[:3]).values()) == {0}
    engine.later(1)
    engine.run()
    hello = engine.package("hello")
    assert (hello["action"], hello["percentage"]) == ("resume", 20)


def test_resume_of_an_update_nobody_knows_is_refused(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert manual(engine, "resume", "--by", "me", "--reason", "typo?") == 2
    assert "neither halted nor known to the state database" in capsys.readouterr().err


def test_anonymous_halt_only_records_the_halt(engine: Engine) -> None:
    assert manual(engine, "halt", "--reason", "r", "--by", "me", anonymous=True) == 0
    assert engine.posts() == []
    assert (engine.home / "halts.json").exists()


@pytest.mark.parametrize(
    ("option", "value"), [("--source", "Bad Name"), ("--version", "not a version")]
)
def test_halt_validates_its_target(
    engine: Engine, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    assert manual(engine, "halt", option, value, "--reason", "r", "--by", "me") == 2
    assert value in capsys.readouterr().err


def test_overrides_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.csv"
    good.write_text("# ok\nfoo, 1.0-1, increased-rate\n")
    assert main(["overrides", "check", str(good)]) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("foo, 1.0-1\n")
    assert main(["overrides", "check", str(bad)]) == 2
    assert "line 1" in capsys.readouterr().err
