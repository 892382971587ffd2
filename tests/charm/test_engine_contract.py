"""What the charm writes is what the engine reads: the config and the halts file."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from ops import testing
from peer_data import Halt, Override

from charm import PhasedUpdaterCharm
from phased_updater.cli import build_parser
from phased_updater.config import load_settings
from phased_updater.halts import parse_halts
from phased_updater.model import Pace
from phased_updater.overrides import Overrides
from tests.charm.conftest import peer_relation
from tests.charm.fake_workload import FakeWorkload

URL = "https://errors.ubuntu.com/problem/5d6a4a9fd7c03ee8ad4e52d6a4e5fd0ccd1c40a1"


def test_the_engine_accepts_the_config_the_charm_writes(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload, tmp_path: Path
) -> None:
    config: dict[str, str | int | float | bool] = {
        "step": 20,
        "interval": "12h",
        "series": "noble,jammy",
        "dry-run": True,
    }
    ctx.run(ctx.on.config_changed(), testing.State(leader=True, config=config))
    written = tmp_path / "config.toml"
    written.write_text(workload.text("/etc/phased-updater/config.toml"))

    settings = load_settings(build_parser().parse_args(["run", "--config", str(written)]))

    assert settings.step == 20
    assert settings.interval.total_seconds() == 12 * 3600
    assert settings.series == ("noble", "jammy")
    assert settings.errors_url == "https://errors.ubuntu.com/api/1.0/"
    assert settings.dry_run


def test_the_engine_reads_the_classes_groups_windows_and_reminders_the_charm_writes(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload, tmp_path: Path
) -> None:
    phasing = (
        "[classes]\n"
        'glacial = { step = 1, interval = "1d" }\n'
        "slow = { step = 2 }\n"
        "[sources]\n"
        'openssl = "medium"\n'
        'grub2 = "glacial"\n'
        "[groups.boot]\n"
        'sources = ["shim-signed", "grub2-signed"]\n'
    )
    config: dict[str, str | int | float | bool] = {
        "step": 20,
        "phasing": phasing,
        "freeze-windows": "Fri 00:00-Mon 12:00,Wed 22:00-Thu 02:00 no-steps",
        "reminder-days": 14,
    }
    ctx.run(ctx.on.config_changed(), testing.State(leader=True, config=config))
    written = tmp_path / "config.toml"
    written.write_text(workload.text("/etc/phased-updater/config.toml"))

    settings = load_settings(build_parser().parse_args(["run", "--config", str(written)]))

    classes = settings.speed_classes
    assert classes.pace_of("hello") == Pace("normal", 20, timedelta(hours=6))
    assert classes.pace_of("openssl") == Pace("medium", 5, timedelta(hours=6))
    assert classes.pace_of("grub2") == Pace("glacial", 1, timedelta(days=1))
    assert classes.pace_of("shim") == Pace("slow", 2, timedelta(hours=6))
    # The group's class: the slowest of its sources' (both are in slow).
    assert settings.groups.pace_of("grub2-signed", classes) == Pace(
        "slow", 2, timedelta(hours=6), "boot"
    )
    assert settings.freeze_windows.texts() == (
        "Fri 00:00-Mon 12:00",
        "Wed 22:00-Thu 02:00 no-steps",
    )
    assert settings.reminder_days == 14


def test_the_engine_reads_the_overrides_and_halts_the_charm_renders(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    peers = peer_relation(
        overrides=[Override("openssl", "3.0.13-0ubuntu3.5", URL)],
        halts=[
            Halt("noble", "glibc", "2.39-0ubuntu8.4", "boot", "sru", "2025-01-01T00:00:00+00:00")
        ],
    )
    ctx.run(ctx.on.config_changed(), testing.State(leader=True, relations=[peers]))

    overrides = Overrides.parse(workload.text("/etc/phased-updater/overrides.csv"))
    assert [(o.source, o.version, o.thing) for o in overrides.items] == [
        ("openssl", "3.0.13-0ubuntu3.5", URL)
    ]
    assert overrides.errors == ()
    halts = parse_halts(workload.text("/etc/phased-updater/halts.json"))
    assert list(halts) == [("noble", "glibc", "2.39-0ubuntu8.4")]
    assert json.loads(workload.text("/etc/phased-updater/halts.json"))["halts"][0]["by"] == "sru"
