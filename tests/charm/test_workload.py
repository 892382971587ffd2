"""The real workload module's pure parts and file handling, on a temporary tree."""

from __future__ import annotations

import os
import tomllib
from datetime import UTC, datetime
from pathlib import Path

from layout import Layout
from status_summary import LastRun
from workload import SystemWorkload, engine_release, parse_last_run, parse_next_elapse
from workload_files import render_toml

from charm import ENGINE_SOURCE


def layout(tmp_path: Path) -> Layout:
    return Layout(
        opt=tmp_path / "opt", etc=tmp_path / "etc", var=tmp_path / "var", systemd=tmp_path / "sd"
    )


def test_parse_next_elapse() -> None:
    output = '[{"next": 1735740000000000, "left": 1, "unit": "phased-updater-run.timer"}]'

    assert parse_next_elapse(output) == datetime(2025, 1, 1, 14, 0, tzinfo=UTC)
    assert parse_next_elapse('[{"next": 0}]') is None
    assert parse_next_elapse("[]") is None
    assert parse_next_elapse("not json") is None


def test_parse_last_run() -> None:
    failed = "Result=exit-code\nExecMainStatus=1\nExecMainExitTimestampMonotonic=123456\n"
    fine = "Result=success\nExecMainStatus=0\nExecMainExitTimestampMonotonic=99\n"
    never = "Result=success\nExecMainStatus=0\nExecMainExitTimestampMonotonic=0\n"

    assert parse_last_run(failed) == LastRun(succeeded=False, exit_status=1)
    assert parse_last_run(fine) == LastRun(succeeded=True, exit_status=0)
    assert parse_last_run(never) is None


def test_write_file_is_atomic_and_reports_changes(tmp_path: Path) -> None:
    workload = SystemWorkload(layout(tmp_path))
    path = tmp_path / "etc" / "launchpad-credentials"

    assert workload.write_file(path, "secret", 0o600, None) is True
    assert workload.write_file(path, "secret", 0o600, None) is False
    assert workload.write_file(path, "secret", 0o640, None) is True
    assert path.read_text() == "secret"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["launchpad-credentials"]


def test_install_engine_switches_releases_and_keeps_recent_ones(tmp_path: Path) -> None:
    unit = layout(tmp_path)
    unit.opt.mkdir()
    workload = SystemWorkload(unit)

    assert workload.install_engine(ENGINE_SOURCE, "r1") is True
    assert workload.install_engine(ENGINE_SOURCE, "r1") is False
    assert (unit.current / "phased_updater" / "cli.py").is_file()
    for release in ("r2", "r3", "r4"):
        assert workload.install_engine(ENGINE_SOURCE, release) is True

    assert os.readlink(unit.current) == str(unit.releases / "r4")
    # The previous release stays for a cycle that started before the switch.
    assert sorted(p.name for p in unit.releases.iterdir()) == ["r3", "r4"]


def test_engine_release_names_version_and_content() -> None:
    release = engine_release(ENGINE_SOURCE)

    version, digest = release.rsplit("-", 1)
    assert version and len(digest) == 12


def test_render_toml_round_trips() -> None:
    settings: dict[str, str | int | bool | list[str]] = {
        "a": 'quote " and \\ backslash',
        "b": 3,
        "c": True,
        "d": ["x", "ü"],
    }

    assert tomllib.loads(render_toml(settings)) == settings
