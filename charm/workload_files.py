"""The text of every file the charm writes on the unit: config, overrides, halts, units.

Pure functions of the charm state and the `Layout`: no I/O, so tests assert the exact
contents.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from charm_state import CharmState, PhasingTables
from layout import RUN_SERVICE, SYSTEM_USER, Layout
from peer_data import Halt, Override

from phased_updater.duration import format_duration

# flock's exit status when another cycle holds the lock (EX_TEMPFAIL).
CYCLE_BUSY_EXIT = 75
# The first run after the timer starts (install, new leader, changed interval).
FIRST_RUN_DELAY = "2min"
# How the report and the stop mail tell the SRU team to add an override here.
OVERRIDE_COMMAND = (
    "juju run {app}/leader add-override source={{source}} version={{version}}"
    ' problem={{problem}} by=YOUR-LAUNCHPAD-ID reason="WHY IT IS NOT A REGRESSION"'
)

HEADER = "Written by the phased-updater charm; local changes are overwritten."


def render_wrapper(layout: Layout) -> str:
    """The `phased-updater` command: resolves the current release once, at start.

    Python imports lazily, so running from the `current` symlink itself would let an
    upgrade-charm switch half of a running cycle's modules to the new release.
    """
    return (
        "#!/bin/sh\n"
        f"# {HEADER}\n"
        "# Pins the engine release for the whole process; see the charm's workload_files.py.\n"
        f'release=$(readlink -f "{layout.current}") || exit 70\n'
        'PYTHONPATH="$release" exec /usr/bin/python3 -m phased_updater.cli "$@"\n'
    )


def _toml_value(value: str | int | bool | Sequence[str]) -> str:
    # JSON string escapes are valid TOML basic-string escapes.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return "[" + ", ".join(json.dumps(item, ensure_ascii=False) for item in value) + "]"


def render_toml(settings: Mapping[str, str | int | bool | Sequence[str]]) -> str:
    """A flat TOML document, keys in the given order."""
    lines = [f"# {HEADER}"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def render_phasing(tables: PhasingTables) -> str:
    """The engine's [classes], [sources] and [groups] tables ("" when all are empty)."""
    lines: list[str] = []
    if tables.classes:
        lines += ["", "[classes]"]
        for speed in tables.classes:
            spec = f"step = {speed.step}"
            if speed.interval is not None:
                spec += f", interval = {_toml_value(format_duration(speed.interval))}"
            lines.append(f"{_toml_value(speed.name)} = {{ {spec} }}")
    if tables.sources:
        lines += ["", "[sources]"]
        lines += [f"{_toml_value(source)} = {_toml_value(name)}" for source, name in tables.sources]
    for group in tables.groups:
        lines += ["", f"[groups.{_toml_value(group.name)}]"]
        lines.append(f"sources = {_toml_value(list(group.sources))}")
        if group.speed_class is not None:
            lines.append(f"class = {_toml_value(group.speed_class)}")
    return "\n".join(lines) + "\n" if lines else ""


def render_config(state: CharmState, layout: Layout) -> str:
    """The engine's config.toml: options as the engine names them (see its README)."""
    config = state.config
    settings: dict[str, str | int | bool | Sequence[str]] = {
        "launchpad": config.launchpad,
        "errors_url": config.errors_url,
        "series": list(config.series_list),
        "step": config.step,
        "interval": config.interval,
        "freeze_windows": list(config.freeze_window_list),
        "reminder_days": config.reminder_days,
        "log_level": config.log_level,
        "overrides": str(layout.overrides),
        "override_command": OVERRIDE_COMMAND.format(app=state.topology.application),
        "halts": str(layout.halts),
        "state": str(layout.state),
        "report_dir": str(layout.report_dir),
        "dry_run": state.dry_run,
        "run_deadline": f"{run_deadline_seconds(config.run_every_seconds)}s",
    }
    if config.overrides_repository:
        settings |= {
            "overrides_git": config.overrides_repository,
            "overrides_git_branch": config.overrides_branch,
            "overrides_git_file": config.overrides_file,
        }
    if state.launchpad_credentials is not None:
        settings["credentials"] = str(layout.credentials)
    if state.report_url:
        settings["report_url"] = state.report_url
    # No smtp_host means no mail: the engine sends none without the integration.
    smtp = state.smtp
    if smtp is not None:
        settings |= {
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_auth": smtp.auth,
            "smtp_security": smtp.security,
            "smtp_skip_verify": smtp.skip_verify,
        }
        if smtp.user:
            settings["smtp_user"] = smtp.user
        if smtp.password is not None:
            settings["smtp_password_file"] = str(layout.smtp_password)
        if state.mail_from:
            settings["mail_from"] = state.mail_from
        settings["mail_cc"] = list(config.mail_cc_list)
        if config.mail_reply_to_list:
            settings["mail_reply_to"] = list(config.mail_reply_to_list)
        if config.mail_subject_prefix.strip():
            settings["mail_subject_prefix"] = config.mail_subject_prefix.strip()
    # The tables last: a TOML table runs to the end of the file or the next table.
    return render_toml(settings) + render_phasing(config.phasing_tables)


def render_overrides(overrides: Sequence[Override]) -> str:
    """The engine's records of the actions' overrides (`overrides.parse_records`)."""
    document = {
        "comment": f"{HEADER} Managed with: juju run <app>/leader add-override|remove-override",
        "overrides": [item.to_json() for item in overrides],
    }
    return json.dumps(document, indent=2) + "\n"


def render_halts(halts: Sequence[Halt]) -> str:
    document = {"halts": [halt.to_json() for halt in halts]}
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def _environment_lines(proxy_env: Mapping[str, str]) -> list[str]:
    # systemd's quoting: the whole assignment in double quotes, \ and " escaped.
    lines = []
    for name, value in sorted(proxy_env.items()):
        escaped = f"{name}={value}".replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'Environment="{escaped}"')
    return lines


# What `systemd-analyze security` asks for, short of what the engine needs: the run
# reaches Launchpad, the Error Tracker and the relay (AF_INET, AF_INET6) and logs to
# the journal (AF_UNIX); serve listens. Both score "OK" (at most 4.0, measured 1.3;
# tests/functional/test_systemd_hardening.py checks it with Debian's systemd-analyze).
# MemoryDenyWriteExecute is left out: Ubuntu's Python stack may load cffi/ctypes code
# that needs writable executable memory, for 0.1 of exposure.
HARDENING = (
    "NoNewPrivileges=yes",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "DevicePolicy=closed",
    "PrivateUsers=yes",
    "ProtectHome=yes",
    "ProtectSystem=strict",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "ProtectProc=invisible",
    "ProcSubset=pid",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "RemoveIPC=yes",
    "KeyringMode=private",
    "SystemCallArchitectures=native",
    "SystemCallFilter=@system-service",
    "SystemCallFilter=~@privileged @resources",
    "SystemCallErrorNumber=EPERM",
    "UMask=0027",
)


def _hardening(writable: Path | None) -> list[str]:
    """The engine writes to its state directory at most; the rest of the system is read-only."""
    lines = list(HARDENING)
    if writable is not None:
        lines.append(f"ReadWritePaths={writable}")
    return lines


def run_timeout_seconds(period_seconds: int) -> int:
    """How long one cycle may take before systemd kills it: half the timer's period.

    A oneshot service has no start timeout by default, so a hung cycle would block
    every later one (the timer counts from the end of the last run, and run-now would
    answer "already running"). Half the period still leaves a killed run's successor
    inside the two periods after which the no-successful-run alert fires; a cycle
    takes about a minute (bench/RESULTS.md), the least period is 15 minutes.
    """
    return period_seconds // 2


def run_deadline_seconds(period_seconds: int) -> int:
    """The engine's own deadline for a run: 40% of the period, before systemd's kill.

    Past it the engine starts no further update, records the rest as not evaluated and
    still sends its mail and writes its report; systemd's kill at half the period
    (`run_timeout_seconds`) is then only for a run that hangs outside the cycle.
    """
    return period_seconds * 4 // 10


def render_run_service(layout: Layout, proxy_env: Mapping[str, str], period_seconds: int) -> str:
    """One cycle. The lock keeps a `run-now` action and the timer from overlapping."""
    lines = [
        f"# {HEADER}",
        "[Unit]",
        "Description=phased-updater: one cycle of phased updates",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
        f"User={SYSTEM_USER}",
        f"Group={SYSTEM_USER}",
        *_environment_lines(proxy_env),
        f"ExecStart={' '.join(cycle_command(layout, dry_run=False))}",
        f"TimeoutStartSec={run_timeout_seconds(period_seconds)}s",
        *_hardening(layout.var),
    ]
    return "\n".join(lines) + "\n"


def render_run_timer(interval_seconds: int) -> str:
    """Counted from the end of the last run, so a slow cycle never overlaps the next."""
    lines = [
        f"# {HEADER}",
        "[Unit]",
        "Description=phased-updater: run a cycle periodically (leader only)",
        "",
        "[Timer]",
        f"OnActiveSec={FIRST_RUN_DELAY}",
        f"OnUnitInactiveSec={interval_seconds}s",
        f"Unit={RUN_SERVICE}",
        "",
        "[Install]",
        "WantedBy=timers.target",
    ]
    return "\n".join(lines) + "\n"


def serve_command(layout: Layout, port: int, period_seconds: int, *, ipv6: bool) -> list[str]:
    """`serve` on every IPv4 address, and every IPv6 one when the machine has IPv6.

    `--run-every` is the timer's period: /healthz answers 503, and the metrics say the
    report is stale, once the report is older than twice that.
    """
    binds = ["--bind", f"0.0.0.0:{port}"]
    if ipv6:
        binds += ["--bind", f"[::]:{port}"]
    report = ["--report-dir", str(layout.report_dir)]
    return [str(layout.wrapper), "serve", *report, *binds, "--run-every", f"{period_seconds}s"]


def render_serve_service(layout: Layout, port: int, period_seconds: int, *, ipv6: bool) -> str:
    lines = [
        f"# {HEADER}",
        "[Unit]",
        "Description=phased-updater: HTTP server for the phasing report",
        "After=network.target",
        "",
        "[Service]",
        "Type=simple",
        f"User={SYSTEM_USER}",
        f"Group={SYSTEM_USER}",
        f"ExecStart={' '.join(serve_command(layout, port, period_seconds, ipv6=ipv6))}",
        "Restart=on-failure",
        "RestartSec=5",
        *_hardening(None),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def cycle_command(layout: Layout, *, dry_run: bool) -> list[str]:
    """One cycle under the cycle lock: the run service's ExecStart, and `run-now`."""
    lock = ["/usr/bin/flock", "--nonblock", "--conflict-exit-code", str(CYCLE_BUSY_EXIT)]
    run = _engine_command(layout, "run", *(["--dry-run"] if dry_run else []))
    return [*lock, str(layout.cycle_lock), *run]


def _engine_command(layout: Layout, command: str, *options: str) -> list[str]:
    return [str(layout.wrapper), command, "--config", str(layout.config), *options]


def halt_command(layout: Layout, halt: Halt) -> list[str]:
    target = ("--series", halt.series, "--source", halt.source, "--version", halt.version)
    return _engine_command(layout, "halt", *target, "--reason", halt.reason, "--by", halt.by)


def resume_command(layout: Layout, key: tuple[str, str, str], by: str, reason: str) -> list[str]:
    series, source, version = key
    target = ("--series", series, "--source", source, "--version", version)
    return _engine_command(layout, "resume", *target, "--by", by, "--reason", reason)
