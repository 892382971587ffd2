"""Where the engine lives on the unit: every path and unit name the charm manages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SYSTEM_USER = "phased-updater"
RUN_SERVICE = "phased-updater-run.service"
RUN_TIMER = "phased-updater-run.timer"
SERVE_SERVICE = "phased-updater-serve.service"


@dataclass(frozen=True)
class Layout:
    """Every path the charm manages. The default is the real one."""

    opt: Path = Path("/opt/phased-updater")
    etc: Path = Path("/etc/phased-updater")
    var: Path = Path("/var/lib/phased-updater")
    systemd: Path = Path("/etc/systemd/system")

    @property
    def releases(self) -> Path:
        """One directory per engine release; `current` points at one of them."""
        return self.opt / "releases"

    @property
    def current(self) -> Path:
        return self.opt / "current"

    @property
    def wrapper(self) -> Path:
        return self.opt / "bin" / "phased-updater"

    @property
    def config(self) -> Path:
        return self.etc / "config.toml"

    @property
    def credentials(self) -> Path:
        return self.etc / "launchpad-credentials"

    @property
    def smtp_password(self) -> Path:
        return self.etc / "smtp-password"

    @property
    def overrides(self) -> Path:
        """The overrides added with the actions, with who added them and why."""
        return self.etc / "overrides.json"

    @property
    def old_overrides(self) -> Path:
        """Where charm revisions before attribution kept them (removed on upgrade)."""
        return self.etc / "overrides.csv"

    @property
    def halts(self) -> Path:
        return self.etc / "halts.json"

    @property
    def state(self) -> Path:
        return self.var / "state.sqlite"

    @property
    def report_dir(self) -> Path:
        return self.var / "report"

    @property
    def report_json(self) -> Path:
        return self.report_dir / "phased-updates.json"

    @property
    def run_status(self) -> Path:
        """The engine's record of its last run (phased_updater.report.run_status)."""
        return self.report_dir / "run-status.json"

    @property
    def cycle_lock(self) -> Path:
        return self.var / "cycle.lock"

    def unit_file(self, name: str) -> Path:
        return self.systemd / name
