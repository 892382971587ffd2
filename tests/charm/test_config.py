"""config-changed: valid values reach the engine's files; each invalid one blocks the unit."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import ops
import pytest
from ops import testing

from charm import PhasedUpdaterCharm
from tests.charm.fake_workload import FakeWorkload

CONFIG = Path("/etc/phased-updater/config.toml")
CREDENTIALS = Path("/etc/phased-updater/launchpad-credentials")
TIMER = Path("/etc/systemd/system/phased-updater-run.timer")
LP_CREDENTIALS = "[1]\nconsumer_key = phased-updater\naccess_token = t\naccess_secret = s\n"


def engine_config(workload: FakeWorkload) -> dict[str, Any]:
    return tomllib.loads(workload.files[CONFIG].content)


def test_valid_config_reaches_the_engine(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    config: dict[str, str | int | bool] = {
        "step": 25,
        "interval": "1h30m",
        "series": "noble, jammy,noble",
        "launchpad": "staging",
        "errors-url": "https://errors.staging.ubuntu.com",
        "dry-run": True,
        "report-port": 8443,
        "report-url": "https://phasing.example.com/",
    }
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True, config=config))

    assert engine_config(workload) == {
        "launchpad": "staging",
        "errors_url": "https://errors.staging.ubuntu.com",
        "series": ["noble", "jammy"],
        "step": 25,
        "interval": "1h30m",
        "overrides": "/etc/phased-updater/overrides.json",
        "override_command": "juju run phased-updater/leader add-override source={source}"
        ' version={version} problem={problem} by=YOUR-LAUNCHPAD-ID reason="WHY IT IS NOT A'
        ' REGRESSION"',
        "halts": "/etc/phased-updater/halts.json",
        "state": "/var/lib/phased-updater/state.sqlite",
        "report_dir": "/var/lib/phased-updater/report",
        "dry_run": True,
        # The engine gives up starting updates at 40% of the period, before systemd's
        # kill at half of it, so a slow run still mails and reports.
        "run_deadline": "2160s",
        "report_url": "https://phasing.example.com/",
        # The charm's defaults: Ubuntu's weekend freeze, a reminder every 7 days.
        "freeze_windows": ["Fri 00:00-Mon 12:00"],
        "reminder_days": 7,
        "log_level": "info",
    }
    assert "OnUnitInactiveSec=5400s\n" in workload.files[TIMER].content
    serve = workload.files[Path("/etc/systemd/system/phased-updater-serve.service")].content
    assert " --bind 0.0.0.0:8443 --bind [::]:8443 --run-every 5400s\n" in serve
    run = workload.files[Path("/etc/systemd/system/phased-updater-run.service")].content
    assert "TimeoutStartSec=2700s\n" in run
    assert isinstance(out.unit_status, ops.ActiveStatus)


def test_changing_the_interval_rearms_the_timer(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    ctx.run(ctx.on.install(), testing.State(leader=True))
    workload.calls.clear()

    ctx.run(ctx.on.config_changed(), testing.State(leader=True, config={"interval": "1d"}))

    assert "OnUnitInactiveSec=86400s\n" in workload.files[TIMER].content
    # The server learns the new period too (its staleness threshold is twice it).
    assert workload.system_calls() == [
        ("daemon-reload",),
        ("enable --now", "phased-updater-serve.service"),
        ("restart", "phased-updater-serve.service"),
        ("enable --now", "phased-updater-run.timer"),
        ("restart", "phased-updater-run.timer"),
    ]


def test_run_every_runs_the_timer_more_often_than_the_interval(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    ctx.run(ctx.on.install(), testing.State(leader=True))
    workload.calls.clear()

    config = {"interval": "6h", "run-every": "1h"}
    ctx.run(ctx.on.config_changed(), testing.State(leader=True, config=config))

    assert "OnUnitInactiveSec=3600s\n" in workload.files[TIMER].content
    assert engine_config(workload)["interval"] == "6h"  # steps still come every 6 hours
    assert ("restart", "phased-updater-run.timer") in workload.system_calls()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("run-every", "7h", "invalid run-every '7h': must not be longer than interval (6h)"),
        ("run-every", "10m", "invalid run-every '10m': must be at least 15m"),
        ("run-every", "hourly", "invalid run-every 'hourly': expected <integer><unit>"),
        ("step", 0, "invalid step 0: must be between 1 and 100"),
        ("step", 101, "invalid step 101: must be between 1 and 100"),
        ("interval", "banana", "invalid interval 'banana': expected <integer><unit>"),
        ("interval", "10m", "invalid interval '10m': must be at least 15m"),
        ("interval", "30m1h", "invalid interval '30m1h': units must appear once each"),
        ("series", "noble,Jammy!", "invalid series 'noble,Jammy!': 'Jammy!' is not a series"),
        ("launchpad", "prod", "invalid launchpad 'prod': must be production, staging"),
        ("errors-url", "errors.ubuntu.com", "invalid errors-url 'errors.ubuntu.com': must be"),
        ("mail-from", "nobody", "invalid mail-from 'nobody': is not a mail address"),
        ("mail-cc", "a@example.com, oops", "invalid mail-cc 'a@example.com, oops': 'oops' is"),
        ("report-port", 80, "invalid report-port 80: must be between 1024 and 65535"),
        ("report-url", "phasing", "invalid report-url 'phasing': must be an http(s) URL"),
        (
            "phasing",
            '[sources]\ngrub2 = "glacial"\n',
            "invalid phasing 'sources.grub2': unknown class 'glacial' (known: normal, medium,",
        ),
        (
            "phasing",
            '[groups]\nboot = ["shim-signed", "grub2-signed"]\nefi = ["shim-signed", "fwupd"]\n',
            "invalid phasing 'groups.efi': shim-signed is already in group boot",
        ),
        (
            "phasing",
            '[groups.boot]\nsources = ["shim-signed", "grub2-signed"]\nclass = "fast"\n',
            "invalid phasing 'groups.boot.class': unknown class 'fast'",
        ),
        (
            "phasing",
            "[classes]\nslow = { step = 0 }\n",
            "invalid phasing 'classes.slow.step': 0 is not a whole number from 1 to 100",
        ),
        (
            "phasing",
            '[classes]\nfast = { step = 50, interval = "10m" }\n',
            "invalid phasing 'classes.fast.interval': must be at least 15m",
        ),
        ("phasing", "[weekend]\n", "invalid phasing 'weekend': unknown table"),
        ("phasing", "classes = [\n", "invalid phasing '': not valid TOML"),
        (
            "freeze-windows",
            "Fri 00:00-Mon 12:00, Sun 00:00-Sun 01:00",
            "invalid freeze-windows 'Sun 00:00-Sun 01:00': overlaps Fri 00:00-Mon 12:00",
        ),
        (
            "freeze-windows",
            "Friday noon-Monday",
            "invalid freeze-windows 'Friday noon-Monday': expected DAY HH:MM-DAY HH:MM",
        ),
        ("reminder-days", -1, "invalid reminder-days -1: must be between 0 (off) and 365"),
        ("log-level", "verbose", "invalid log-level 'verbose': must be one of debug, info,"),
        ("mail-reply-to", "sru", "invalid mail-reply-to 'sru': 'sru' is not a mail address"),
    ],
)
def test_invalid_option_blocks_and_changes_nothing(
    ctx: testing.Context[PhasedUpdaterCharm],
    workload: FakeWorkload,
    option: str,
    value: str | int,
    message: str,
) -> None:
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True, config={option: value}))

    assert isinstance(out.unit_status, ops.BlockedStatus)
    assert out.unit_status.message.startswith(message)
    assert workload.calls == []


def test_classes_groups_windows_and_reminders_reach_the_engine(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    phasing = (
        "[classes]\n"
        'glacial = { step = 1, interval = "1d" }\n'
        "[sources]\n"
        'openssl = "medium"\n'
        "[groups]\n"
        'boot = { sources = ["shim-signed", "grub2-signed"], class = "glacial" }\n'
        'libfoo = ["libfoo", "foo-tools"]\n'
    )
    config: dict[str, str | int | bool] = {
        "phasing": phasing,
        "freeze-windows": "Fri 00:00 - Mon 12:00, wednesday 22:00-thursday 02:00 no-steps",
        "reminder-days": 3,
    }
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True, config=config))

    written = engine_config(workload)
    assert written["freeze_windows"] == ["Fri 00:00-Mon 12:00", "Wed 22:00-Thu 02:00 no-steps"]
    assert written["reminder_days"] == 3
    assert written["classes"] == {"glacial": {"step": 1, "interval": "1d"}}
    assert written["sources"] == {"openssl": "medium"}
    assert written["groups"] == {
        "boot": {"sources": ["shim-signed", "grub2-signed"], "class": "glacial"},
        "libfoo": {"sources": ["libfoo", "foo-tools"]},
    }
    assert isinstance(out.unit_status, ops.ActiveStatus)


def test_no_freeze_windows_and_no_reminders(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    config: dict[str, str | int | bool] = {"freeze-windows": "", "reminder-days": 0}
    ctx.run(ctx.on.config_changed(), testing.State(leader=True, config=config))

    written = engine_config(workload)
    assert (written["freeze_windows"], written["reminder_days"]) == ([], 0)
    assert "classes" not in written and "groups" not in written


def test_fixing_the_value_unblocks(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    state = ctx.run(ctx.on.config_changed(), testing.State(leader=True, config={"step": 0}))
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True, config={"step": 5}))

    assert isinstance(state.unit_status, ops.BlockedStatus)
    assert isinstance(out.unit_status, ops.ActiveStatus)
    assert engine_config(workload)["step"] == 5


def test_credentials_secret_is_written_0600_and_ends_dry_runs(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    secret = testing.Secret(tracked_content={"credentials": LP_CREDENTIALS})
    state = testing.State(
        leader=True, config={"launchpad-credentials": secret.id}, secrets={secret}
    )

    out = ctx.run(ctx.on.config_changed(), state)

    record = workload.files[CREDENTIALS]
    assert (record.content, record.mode, record.owner) == (LP_CREDENTIALS, 0o600, "phased-updater")
    config = engine_config(workload)
    assert config["credentials"] == str(CREDENTIALS)
    assert config["dry_run"] is False
    assert "anonymous" not in out.unit_status.message


def test_new_secret_revision_is_picked_up(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    secret = testing.Secret(
        tracked_content={"credentials": LP_CREDENTIALS},
        latest_content={"credentials": "[1]\nrotated = yes\n"},
    )
    state = testing.State(
        leader=True, config={"launchpad-credentials": secret.id}, secrets={secret}
    )

    ctx.run(ctx.on.secret_changed(secret), state)

    assert workload.files[CREDENTIALS].content == "[1]\nrotated = yes\n"


def test_unreadable_secret_blocks(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    # An ID the unit cannot see: not granted, or deleted.
    missing = "secret:cs0bn9ue1lnc73ak3fd0"
    state = testing.State(leader=True, config={"launchpad-credentials": missing})

    out = ctx.run(ctx.on.config_changed(), state)

    assert out.unit_status == ops.BlockedStatus(
        f"invalid launchpad-credentials '{missing}': secret not found or not granted to this app"
    )
    assert workload.calls == []


def test_secret_without_the_credentials_key_blocks(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    secret = testing.Secret(tracked_content={"password": "x"})
    state = testing.State(
        leader=True, config={"launchpad-credentials": secret.id}, secrets={secret}
    )

    out = ctx.run(ctx.on.config_changed(), state)

    assert isinstance(out.unit_status, ops.BlockedStatus)
    assert "launchpad-credentials" in out.unit_status.message
    assert "has no 'credentials' key" in out.unit_status.message


def test_removing_the_secret_removes_the_file(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    secret = testing.Secret(tracked_content={"credentials": LP_CREDENTIALS})
    with_secret = testing.State(
        leader=True, config={"launchpad-credentials": secret.id}, secrets={secret}
    )
    ctx.run(ctx.on.config_changed(), with_secret)

    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))

    assert CREDENTIALS not in workload.files
    assert "credentials" not in engine_config(workload)
    assert "anonymous dry runs (no launchpad-credentials)" in out.unit_status.message


def test_juju_proxy_settings_reach_the_run_service(
    ctx: testing.Context[PhasedUpdaterCharm],
    workload: FakeWorkload,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JUJU_CHARM_HTTPS_PROXY", "http://squid.internal:3128")

    ctx.run(ctx.on.config_changed(), testing.State(leader=True))

    service = workload.files[Path("/etc/systemd/system/phased-updater-run.service")].content
    assert 'Environment="HTTPS_PROXY=http://squid.internal:3128"\n' in service
    assert 'Environment="https_proxy=http://squid.internal:3128"\n' in service


REPOSITORY = "https://git.launchpad.net/~ubuntu-sru/+git/phased-update-overrides"


def test_the_overrides_repository_reaches_the_engine_with_the_actions_overrides(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    config = {
        "overrides-repository": REPOSITORY,
        "overrides-branch": "main",
        "overrides-file": "phased-updates-overrides.txt",
    }
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True, config=config))

    engine = engine_config(workload)
    assert (engine["overrides_git"], engine["overrides_git_branch"]) == (REPOSITORY, "main")
    assert engine["overrides_git_file"] == "phased-updates-overrides.txt"
    # Both sources apply: the actions' records stay configured too.
    assert engine["overrides"] == "/etc/phased-updater/overrides.json"
    assert isinstance(out.unit_status, ops.ActiveStatus)


def test_without_a_repository_the_engine_gets_the_actions_overrides_alone(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    # A branch or file without a repository means nothing, and blocks nothing.
    config = {"overrides-branch": "not..checked"}
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True, config=config))

    assert "overrides_git" not in engine_config(workload)
    assert isinstance(out.unit_status, ops.ActiveStatus)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"overrides-repository": "lp:~ubuntu-sru/+git/phased-update-overrides"},
            "invalid overrides-repository 'lp:~ubuntu-sru/+git/phased-update-overrides':"
            " expected a git URL (https://, http://, git://, ssh://, file://)",
        ),
        (
            {"overrides-repository": "ftp://bot:s3cret@git.example/o.git"},
            "invalid overrides-repository 'ftp://[hidden]@git.example/o.git': expected a git URL",
        ),
        (
            {"overrides-repository": REPOSITORY, "overrides-branch": "a..b"},
            "invalid overrides-branch 'a..b': not a git branch name",
        ),
        (
            {"overrides-repository": REPOSITORY, "overrides-file": "../etc/passwd"},
            "invalid overrides-file '../etc/passwd': expected a relative path inside",
        ),
    ],
)
def test_an_overrides_repository_git_cannot_use_blocks_naming_it(
    ctx: testing.Context[PhasedUpdaterCharm],
    workload: FakeWorkload,
    config: dict[str, str],
    message: str,
) -> None:
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True, config=config))

    assert isinstance(out.unit_status, ops.BlockedStatus)
    assert out.unit_status.message.startswith(message)
    assert "s3cret" not in out.unit_status.message
    assert workload.calls == []
