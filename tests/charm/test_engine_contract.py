"""What the charm writes is what the engine reads: the config, the overrides and the halts."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ops import testing
from peer_data import Halt, Override

from charm import PhasedUpdaterCharm
from phased_updater.cli import build_parser
from phased_updater.config import load_settings
from phased_updater.halts import parse_halts
from phased_updater.model import Pace, Problem, ProblemKind
from phased_updater.override_feedback import describe
from phased_updater.overrides import Origin, Overrides
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
        "log-level": "warning",
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
    assert settings.log_level == "warning"


def test_the_engine_reads_the_overrides_and_halts_the_charm_renders(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload, tmp_path: Path
) -> None:
    peers = peer_relation(
        overrides=[
            Override(
                "openssl", "3.0.13-0ubuntu3.5", URL, "alice", "old crash", "2025-01-02T03:04:05Z"
            ),
            Override("glibc", "2.39-0ubuntu8.4", "increased-rate"),  # recorded before attribution
        ],
        halts=[
            Halt("noble", "glibc", "2.39-0ubuntu8.4", "boot", "sru", "2025-01-01T00:00:00+00:00")
        ],
    )
    ctx.run(ctx.on.config_changed(), testing.State(leader=True, relations=[peers]))
    written = tmp_path / "overrides.json"
    written.write_text(workload.text("/etc/phased-updater/overrides.json"))

    overrides = Overrides.load(written)

    assert [(o.source, o.version, o.thing) for o in overrides.items] == [
        ("openssl", "3.0.13-0ubuntu3.5", URL),
        ("glibc", "2.39-0ubuntu8.4", "increased-rate"),
    ]
    assert overrides.errors == ()
    first = overrides.items[0].origin
    assert first == Origin(
        "action",
        str(written),
        by="alice",
        at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        reason="old crash",
    )
    assert describe(first) == "added by alice with add-override on 2025-01-02: old crash"
    assert overrides.items[1].origin == Origin("action", str(written))
    halts = parse_halts(workload.text("/etc/phased-updater/halts.json"))
    assert list(halts) == [("noble", "glibc", "2.39-0ubuntu8.4")]
    assert json.loads(workload.text("/etc/phased-updater/halts.json"))["halts"][0]["by"] == "sru"


def test_the_engine_takes_the_repository_and_the_override_command_the_charm_configures(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload, tmp_path: Path
) -> None:
    config: dict[str, str | int | float | bool] = {
        "overrides-repository": "https://git.launchpad.net/~ubuntu-sru/+git/phased-update-overrides",
        "overrides-branch": "release/2025",
        "overrides-file": "lists/phased-updates-overrides.txt",
    }
    ctx.run(ctx.on.config_changed(), testing.State(leader=True, config=config))
    written = tmp_path / "config.toml"
    written.write_text(workload.text("/etc/phased-updater/config.toml"))

    settings = load_settings(build_parser().parse_args(["run", "--config", str(written)]))

    assert settings.overrides_git == config["overrides-repository"]
    assert settings.overrides_git_branch == "release/2025"
    assert settings.overrides_git_file == "lists/phased-updates-overrides.txt"
    assert settings.overrides == Path("/etc/phased-updater/overrides.json")
    how = settings.how_to_override
    assert how.request("ubuntu-sru").startswith(
        "propose a change to lists/phased-updates-overrides.txt on branch release/2025 of"
        " https://git.launchpad.net/~ubuntu-sru/+git/phased-update-overrides"
    )
    assert how.command_example() == (
        "juju run phased-updater/leader add-override source=SOURCE version=VERSION"
        ' problem=PROBLEM-URL by=YOUR-LAUNCHPAD-ID reason="WHY IT IS NOT A REGRESSION"'
    )


def test_without_a_repository_the_engine_tells_people_the_juju_command(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload, tmp_path: Path
) -> None:
    ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    written = tmp_path / "config.toml"
    written.write_text(workload.text("/etc/phased-updater/config.toml"))

    settings = load_settings(build_parser().parse_args(["run", "--config", str(written)]))

    assert settings.overrides_git is None
    step = settings.how_to_override.step(
        "openssl", "3.0.13-0ubuntu3.5", Problem(ProblemKind.NEW_CRASH, URL + "?x=1&y=2")
    )
    # Copied into a shell, every value stays one word.
    words = shlex.split(step)
    assert words[:4] == ["juju", "run", "phased-updater/leader", "add-override"]
    assert words[4:7] == ["source=openssl", "version=3.0.13-0ubuntu3.5", f"problem={URL}?x=1&y=2"]
    assert words[7:] == ["by=YOUR-LAUNCHPAD-ID", "reason=WHY IT IS NOT A REGRESSION"]
