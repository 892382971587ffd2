"""Running the engine's `phased-updater run` in-process against the doubles.

`EngineHome` is one installation of the engine: its state database (and so its
history and launchpadlib cache), report directory, config file and, with writes on,
the credentials of an archive admin the Launchpad double accepts. Each `run(now)`
is one cycle through the real command line, `cli.main`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from phased_updater import cli
from phased_updater.report.publish import JSON_NAME
from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import LaunchpadDouble, write_credentials_file
from tests.doubles.launchpad_model import BinaryState
from tests.doubles.scenario import Scenario

CONSUMER = "phased-updater"


@dataclass
class EngineHome:
    directory: Path
    launchpad: LaunchpadDouble
    errors: ErrorTrackerDouble
    launchpad_workers: int
    errors_workers: int
    writes: bool = True
    overrides: Path | None = None
    extra_config: str = ""  # more of the config file: e.g. its [groups] table

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # The worker bounds are TOML keys of the config file.
        self.config.write_text(
            f"launchpad_workers = {self.launchpad_workers}\n"
            f"errors_workers = {self.errors_workers}\n{self.extra_config}",
            encoding="utf-8",
        )
        if self.writes:
            token, secret = f"token-{self.directory.name}", "secret"
            self.launchpad.add_token(CONSUMER, token, secret, admin=True)
            write_credentials_file(self.credentials, CONSUMER, token, secret)

    @property
    def config(self) -> Path:
        return self.directory / "phased-updater.toml"

    @property
    def credentials(self) -> Path:
        return self.directory / "secrets" / "credentials"

    @property
    def report_dir(self) -> Path:
        return self.directory / "report"

    def run(self, now: datetime) -> int:
        """One cycle at `now`; its exit status."""
        argv = [
            "run",
            "--config",
            str(self.config),
            "--launchpad",
            self.launchpad.service_root,
            "--errors-url",
            self.errors.base_url,
            "--state",
            str(self.directory / "state" / "state.sqlite3"),
            "--report-dir",
            str(self.report_dir),
            "--now",
            now.isoformat(),
        ]
        if self.writes:
            argv += ["--credentials", str(self.credentials)]
        if self.overrides is not None:
            argv += ["--overrides", str(self.overrides)]
        return cli.main(argv)

    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads(
            (self.report_dir / JSON_NAME).read_text(encoding="utf-8")
        )
        return report


def current_binaries(
    launchpad: LaunchpadDouble, scenario: Scenario
) -> dict[tuple[str, str, str], list[BinaryState]]:
    """Every upload's active binary records, as the double holds them now."""
    return {
        (u.series, u.source, u.version): launchpad.binaries(u.series, u.source, u.version)
        for u in scenario.uploads
    }
