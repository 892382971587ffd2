from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from phased_updater.cli import build_parser
from phased_updater.config import load_settings
from phased_updater.errors import UsageError


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["run", *argv])


def test_defaults() -> None:
    settings = load_settings(parse())
    assert (settings.step, settings.interval, settings.launchpad) == (
        10,
        timedelta(hours=6),
        "production",
    )
    assert settings.effective_dry_run  # no credentials


def test_the_command_line_wins_over_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('step = 5\ninterval = "1d"\nseries = ["jammy", "noble"]\ndry_run = true\n')
    settings = load_settings(parse("--config", str(config), "--step", "20"))
    assert settings.step == 20
    assert settings.interval == timedelta(days=1)
    assert settings.series == ("jammy", "noble")
    assert settings.dry_run


def test_now_is_parsed_as_utc() -> None:
    settings = load_settings(parse("--now", "2026-11-24T06:00:00"))
    assert settings.now == datetime(2026, 11, 24, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--step", "0"], "step 0"),
        (["--step", "101"], "step 101"),
        (["--step", "ten"], "'ten'"),
        (["--interval", "banana"], "'banana'"),
        (["--errors-url", "ftp://x"], "'ftp://x'"),
        (["--now", "yesterday"], "'yesterday'"),
    ],
)
def test_bad_values_are_named(argv: list[str], named: str) -> None:
    with pytest.raises(UsageError, match=named):
        load_settings(parse(*argv))


def test_unknown_and_malformed_config_keys_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("stepp = 5\n")
    with pytest.raises(UsageError, match=r"unknown key.*stepp"):
        load_settings(parse("--config", str(config)))
    config.write_text("step = [\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_settings(parse("--config", str(config)))
    with pytest.raises(UsageError, match=r"missing\.toml"):
        load_settings(parse("--config", str(tmp_path / "missing.toml")))
