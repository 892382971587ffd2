"""Drive `phased-updater run` against the doubles, as the timer would."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from phased_updater.cli import main
from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import LaunchpadDouble, write_credentials_file

CONSUMER, TOKEN, SECRET = "phased-updater", "engine-token", "engine-secret"


@dataclass
class Engine:
    launchpad: LaunchpadDouble
    errors: ErrorTrackerDouble
    home: Path
    now: datetime
    options: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.launchpad.add_token(CONSUMER, TOKEN, SECRET, admin=True)
        write_credentials_file(self.credentials, CONSUMER, TOKEN, SECRET)

    @property
    def credentials(self) -> Path:
        return self.secrets / "credentials"

    @property
    def secrets(self) -> Path:
        """Where secret files go: never beside the published report (`report_dir`)."""
        return self.home / "secrets"

    @property
    def report_dir(self) -> Path:
        return self.home / "report"

    @property
    def overrides(self) -> Path:
        return self.home / "overrides.csv"

    def argv(self, *extra: str, anonymous: bool = False) -> list[str]:
        argv = [
            "run",
            "--launchpad",
            self.launchpad.service_root,
            "--errors-url",
            self.errors.base_url,
            "--state",
            str(self.home / "state.sqlite3"),
            "--report-dir",
            str(self.report_dir),
            "--now",
            self.now.isoformat(),
            *self.options,
        ]
        if not anonymous:
            argv += ["--credentials", str(self.credentials)]
        return argv + list(extra)

    def run(self, *extra: str, anonymous: bool = False) -> int:
        self.launchpad.clock = self.now
        return main(self.argv(*extra, anonymous=anonymous))

    def command(self, name: str, *extra: str) -> int:
        """Another sub-command (halt, resume, ...) on this installation, at `now`."""
        self.launchpad.clock = self.now
        return main([name, *self.argv(*extra)[1:]])

    def later(self, hours: float, *, publish: bool = True) -> None:
        """Let time pass; Launchpad's publisher runs in between, as it does every few minutes."""
        if publish:
            self.launchpad.publish()
        self.now += timedelta(hours=hours)

    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.report_dir / "phased-updates.json").read_text())
        return data

    def package(self, source: str) -> dict[str, Any]:
        [entry] = [p for p in self.report()["packages"] if p["source"] == source]
        return dict(entry)

    def percentages(self, series: str, source: str, version: str) -> dict[str, int | None]:
        """Current non-debug binary percentages on the double, by name/arch.

        Before the publisher runs, a new Pending record and the Published one it
        replaces are both active; the newest is what apt will see next.
        """
        records = sorted(
            self.launchpad.binaries(series, source, version),
            key=lambda b: (b.date_created, b.status == "Pending"),
        )
        return {f"{b.name}/{b.arch}": b.pup for b in records if not b.is_debug}

    def posts(self) -> list[str]:
        return [r.path for r in self.launchpad.requests if r.method == "POST"]
