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


def test_classes_groups_windows_and_reminders_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'freeze_windows = ["Fri 00:00-Mon 12:00"]\n'
        "reminder_days = 3\n"
        "[classes]\n"
        'glacial = { step = 1, interval = "1d" }\n'
        "[sources]\n"
        'grub2 = "glacial"\n'
        "[groups]\n"
        'boot = { sources = ["shim-signed", "grub2-signed"], class = "slow" }\n'
    )
    settings = load_settings(parse("--config", str(config), "--step", "20"))
    assert settings.speed_classes.pace_of("grub2").speed_class == "glacial"
    assert settings.speed_classes.pace_of("hello").step == 20  # the default class's step
    assert settings.groups.pace_of("shim-signed", settings.speed_classes).group == "boot"
    assert settings.freeze_windows.texts() == ("Fri 00:00-Mon 12:00",)
    assert settings.reminder_every == timedelta(days=3)
    # The defaults: no windows, a reminder every 7 days.
    defaults = load_settings(parse())
    assert (defaults.freeze_windows.windows, defaults.reminder_days) == ((), 7)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[sources]\ngrub2 = "glacial"\n', "sources.grub2: unknown class 'glacial'"),
        (
            '[groups]\nboot = ["shim-signed", "grub2"]\nefi = ["shim-signed", "fwupd"]\n',
            "groups.efi: shim-signed is already in group boot",
        ),
        (
            '[groups.boot]\nsources = ["shim-signed", "grub2"]\nclass = "fast"\n',
            "groups.boot.class: unknown class 'fast'",
        ),
        ("[classes]\nslow = { step = 200 }\n", "classes.slow.step: 200 is not a whole number"),
        (
            'freeze_windows = ["Fri 00:00-Mon 12:00", "Sun 00:00-Sun 01:00"]\n',
            "freeze_windows 'Sun 00:00-Sun 01:00': overlaps Fri 00:00-Mon 12:00",
        ),
        ("reminder_days = -1\n", "reminder_days -1: expected a whole number from 0 to 365"),
    ],
)
def test_bad_classes_groups_windows_and_reminders_are_named(
    tmp_path: Path, text: str, named: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(UsageError) as raised:
        load_settings(parse("--config", str(config)))
    assert str(raised.value).startswith(named)


def test_freeze_windows_and_reminder_days_on_the_command_line() -> None:
    settings = load_settings(
        parse("--freeze-windows", "Fri 00:00-Mon 12:00,Wed 22:00-Thu 02:00 no-steps")
    )
    assert settings.freeze_windows.texts() == (
        "Fri 00:00-Mon 12:00",
        "Wed 22:00-Thu 02:00 no-steps",
    )
    assert load_settings(parse("--reminder-days", "0")).reminder_every == timedelta(0)
    with pytest.raises(UsageError, match="freeze_windows 'Fri 00:00'"):
        load_settings(parse("--freeze-windows", "Fri 00:00"))
