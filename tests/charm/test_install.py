"""install and upgrade-charm: packages, user, engine release, files, systemd units."""

from __future__ import annotations

import tomllib
from pathlib import Path

import ops
from layout import Layout
from ops import testing
from workload import engine_release

from charm import ENGINE_SOURCE, PhasedUpdaterCharm
from tests.charm.fake_workload import FakeWorkload

LAYOUT = Layout()

RUN_SERVICE = """\
# Written by the phased-updater charm; local changes are overwritten.
[Unit]
Description=phased-updater: one cycle of phased updates
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
User=phased-updater
Group=phased-updater
ExecStart=/usr/bin/flock --nonblock --conflict-exit-code 75 /var/lib/phased-updater/cycle.lock \
/opt/phased-updater/bin/phased-updater run --config /etc/phased-updater/config.toml
TimeoutStartSec=10800s
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
PrivateTmp=yes
PrivateDevices=yes
DevicePolicy=closed
PrivateUsers=yes
ProtectHome=yes
ProtectSystem=strict
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
KeyringMode=private
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
UMask=0027
ReadWritePaths=/var/lib/phased-updater
"""

RUN_TIMER = """\
# Written by the phased-updater charm; local changes are overwritten.
[Unit]
Description=phased-updater: run a cycle periodically (leader only)

[Timer]
OnActiveSec=2min
OnUnitInactiveSec=21600s
Unit=phased-updater-run.service

[Install]
WantedBy=timers.target
"""

SERVE_SERVICE = """\
# Written by the phased-updater charm; local changes are overwritten.
[Unit]
Description=phased-updater: HTTP server for the phasing report
After=network.target

[Service]
Type=simple
User=phased-updater
Group=phased-updater
ExecStart=/opt/phased-updater/bin/phased-updater serve --report-dir \
/var/lib/phased-updater/report --bind 0.0.0.0:8080 --bind [::]:8080 --run-every 21600s
Restart=on-failure
RestartSec=5
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
PrivateTmp=yes
PrivateDevices=yes
DevicePolicy=closed
PrivateUsers=yes
ProtectHome=yes
ProtectSystem=strict
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
KeyringMode=private
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
UMask=0027

[Install]
WantedBy=multi-user.target
"""

WRAPPER = """\
#!/bin/sh
# Written by the phased-updater charm; local changes are overwritten.
# Pins the engine release for the whole process; see the charm's workload_files.py.
release=$(readlink -f "/opt/phased-updater/current") || exit 70
PYTHONPATH="$release" exec /usr/bin/python3 -m phased_updater.cli "$@"
"""

CONFIG = """\
# Written by the phased-updater charm; local changes are overwritten.
launchpad = "production"
errors_url = "https://errors.ubuntu.com/api/1.0/"
series = []
step = 10
interval = "6h"
freeze_windows = ["Fri 00:00-Mon 12:00"]
reminder_days = 7
log_level = "info"
overrides = "/etc/phased-updater/overrides.json"
override_command = "juju run phased-updater/leader add-override source={source} \
version={version} problem={problem} by=YOUR-LAUNCHPAD-ID reason=\\"WHY IT IS NOT A REGRESSION\\""
halts = "/etc/phased-updater/halts.json"
state = "/var/lib/phased-updater/state.sqlite"
report_dir = "/var/lib/phased-updater/report"
dry_run = true
run_deadline = "8640s"
"""


def test_install_sets_up_the_unit(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    out = ctx.run(ctx.on.install(), testing.State(leader=True))

    assert ctx.unit_status_history[-1] == ops.MaintenanceStatus("installing phased-updater")
    assert isinstance(out.unit_status, ops.ActiveStatus)
    assert workload.system_calls() == [
        (
            "apt-get install",
            "python3-launchpadlib",
            "python3-requests",
            "python3-jinja2",
            "python3-waitress",
            "python3-prometheus-client",
            "git",
        ),
        ("useradd", "phased-updater", "/var/lib/phased-updater"),
        ("install_engine", str(ENGINE_SOURCE), engine_release(ENGINE_SOURCE)),
        ("daemon-reload",),
        ("enable --now", "phased-updater-serve.service"),
        ("restart", "phased-updater-serve.service"),
        ("enable --now", "phased-updater-run.timer"),
        ("restart", "phased-updater-run.timer"),
    ]


def test_install_writes_files_with_owner_and_mode(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    ctx.run(ctx.on.install(), testing.State(leader=True))

    expected = {
        "/etc/systemd/system/phased-updater-run.service": (RUN_SERVICE, 0o644, None),
        "/etc/systemd/system/phased-updater-run.timer": (RUN_TIMER, 0o644, None),
        "/etc/systemd/system/phased-updater-serve.service": (SERVE_SERVICE, 0o644, None),
        "/opt/phased-updater/bin/phased-updater": (WRAPPER, 0o755, None),
        "/etc/phased-updater/config.toml": (CONFIG, 0o640, "phased-updater"),
    }
    for path, (content, mode, owner) in expected.items():
        record = workload.files[Path(path)]
        assert (record.content, record.mode, record.owner) == (content, mode, owner), path
    assert tomllib.loads(CONFIG)["dry_run"] is True
    # Without the secret there is no credentials file at all.
    assert Path("/etc/phased-updater/launchpad-credentials") not in workload.files
    assert ("ensure_dir", "/var/lib/phased-updater", "0o750", "phased-updater") in workload.calls
    assert ("ensure_dir", "/etc/phased-updater", "0o750", "phased-updater") in workload.calls


def test_second_hook_changes_nothing(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    state = ctx.run(ctx.on.install(), testing.State(leader=True))
    workload.calls.clear()

    ctx.run(ctx.on.config_changed(), state)

    # Only idempotent enables: no reload, no restart, no reinstall.
    assert workload.system_calls() == [
        ("enable --now", "phased-updater-serve.service"),
        ("enable --now", "phased-updater-run.timer"),
    ]


def test_upgrade_charm_switches_release_and_restarts_the_server(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    state = ctx.run(ctx.on.install(), testing.State(leader=True))
    workload.current_release = "0.0.9-0123456789ab"  # what the previous charm installed
    workload.calls.clear()

    out = ctx.run(ctx.on.upgrade_charm(), state)

    assert ctx.unit_status_history[-1] == ops.MaintenanceStatus("installing phased-updater")
    assert workload.system_calls() == [
        ("install_engine", str(ENGINE_SOURCE), engine_release(ENGINE_SOURCE)),
        ("enable --now", "phased-updater-serve.service"),
        ("restart", "phased-updater-serve.service"),
        ("enable --now", "phased-updater-run.timer"),
    ]
    # The timer is not restarted: a running cycle finishes on its own release.
    assert ("restart", "phased-updater-run.timer") not in workload.calls
    assert isinstance(out.unit_status, ops.ActiveStatus)


def test_install_on_a_non_leader_keeps_the_timer_off(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    out = ctx.run(ctx.on.install(), testing.State(leader=False))

    assert ("disable --now", "phased-updater-run.timer") in workload.calls
    assert ("enable --now", "phased-updater-run.timer") not in workload.calls
    assert ("enable --now", "phased-updater-serve.service") in workload.calls
    assert out.unit_status == ops.ActiveStatus(
        "standby: the leader runs the cycles; anonymous dry runs (no launchpad-credentials); "
        "email off (no smtp integration)"
    )
