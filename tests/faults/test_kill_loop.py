"""`phased-updater run` killed with SIGKILL at random points of its cycle, many times.

Each iteration starts the real command as a subprocess against the doubles (running
in this process), with time moving on (about ten intervals over the loop), and kills it after a
delay drawn from a seeded generator: before the login, between reads, between the
writes of one source, while the mail goes out. The doubles add latency so that a cycle
lasts long enough for the kills to land inside it. A last run is let finish. Then:

- the state database is intact (WAL, one transaction per decision), and after every
  kill the report served is whole and describes a run that finished;
- on the Launchpad double's own records, every update's debs converged and no update
  rose more than one step per interval;
- the SMTP server never received a Message-ID twice.

PHASED_UPDATER_KILLS sets the number of kills (default 15; `make kill-loop` runs 200)
and PHASED_UPDATER_KILL_SEED the seed.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import LaunchpadDouble, write_credentials_file
from tests.doubles.scenarios import DEMO_NOW, demo, demo_errors
from tests.faults.invariants import (
    database_problems,
    report_problems,
    step_violations,
    unconverged,
)
from tests.functional.smtp_server import SmtpServer

KILLS = int(os.environ.get("PHASED_UPDATER_KILLS", "15"))
SEED = int(os.environ.get("PHASED_UPDATER_KILL_SEED", "8"))
STEP, INTERVAL = 10, timedelta(hours=6)
CONSUMER, TOKEN, SECRET = "phased-updater", "kill-loop-token", "kill-loop-secret"
# Time between iterations: the whole loop spans about ten intervals, so updates step
# from start to end of it, and long loops start many cycles within one interval.
ADVANCE = INTERVAL * 10 / max(KILLS, 30)
# Seconds each double adds to every request: a cycle then takes about a second.
LATENCY = 0.01


@dataclass
class Installation:
    """One engine installation driven as a subprocess, with its doubles."""

    home: Path
    launchpad: LaunchpadDouble
    errors: ErrorTrackerDouble
    smtp: SmtpServer

    def __post_init__(self) -> None:
        self.launchpad.add_token(CONSUMER, TOKEN, SECRET, admin=True)
        write_credentials_file(self.home / "secrets" / "credentials", CONSUMER, TOKEN, SECRET)
        (self.home / "phased-updater.toml").write_text(
            "launchpad_workers = 2\n"
            "errors_workers = 2\n"
            'smtp_host = "127.0.0.1"\n'
            f"smtp_port = {self.smtp.port}\n"
            'mail_from = "phaser@ubuntu.example"\n',
            encoding="utf-8",
        )

    @property
    def state(self) -> Path:
        return self.home / "state.sqlite3"

    def start(self, now: datetime, *extra: str) -> subprocess.Popen[bytes]:
        self.launchpad.clock = now
        self.launchpad.publish()  # Launchpad's publisher runs every few minutes
        argv = [
            sys.executable,
            "-m",
            "phased_updater.cli",
            "run",
            "--config",
            str(self.home / "phased-updater.toml"),
            "--launchpad",
            self.launchpad.service_root,
            "--errors-url",
            self.errors.base_url,
            "--state",
            str(self.state),
            "--report-dir",
            str(self.home / "report"),
            "--credentials",
            str(self.home / "secrets" / "credentials"),
            "--now",
            now.isoformat(),
            *extra,
        ]
        log = (self.home / "runs.log").open("ab")
        log.write(f"\n=== {now.isoformat()} {' '.join(extra)}\n".encode())
        log.flush()
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def run_to_completion(self, now: datetime, *extra: str) -> int:
        process = self.start(now, *extra)
        return process.wait(timeout=120)


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[Installation]:
    with (
        LaunchpadDouble(demo(), clock=DEMO_NOW) as launchpad,
        ErrorTrackerDouble() as errors,
        SmtpServer() as smtp,
    ):
        demo_errors(errors)
        launchpad.latency = errors.latency = LATENCY
        yield Installation(tmp_path, launchpad, errors, smtp)
    assert not launchpad.internal_errors, "\n".join(launchpad.internal_errors)


def message_ids(smtp: SmtpServer) -> list[str]:
    return [str(received.message["Message-ID"]) for received in smtp.received]


def test_killed_cycles_never_double_step_duplicate_mail_or_corrupt_the_state(
    installation: Installation,
) -> None:
    # A dry run first: it warms the launchpadlib cache and says how long a cycle takes,
    # so that the delays below spread over the whole of one, from start to end. Each
    # cycle let finish updates the estimate: cycles get shorter as updates complete.
    began = time.monotonic()
    assert installation.run_to_completion(DEMO_NOW, "--dry-run") == 0
    cycle = time.monotonic() - began
    rng = random.Random(SEED)  # noqa: S311 -- a reproducible sequence of kill delays
    now = DEMO_NOW
    outcomes: Counter[str] = Counter()
    for _ in range(KILLS):
        began = time.monotonic()
        process = installation.start(now)
        try:
            status = process.wait(timeout=rng.uniform(0.0, 1.1) * cycle)
            outcomes[f"finished {status}"] += 1
            cycle = time.monotonic() - began
        except subprocess.TimeoutExpired:
            process.kill()  # SIGKILL, by pid: no handler, no cleanup
            process.wait()
            outcomes["killed"] += 1
        # Whatever the kill interrupted, the report served is whole and true to its run.
        assert report_problems(installation.home / "report", installation.state) == []
        now += ADVANCE
    assert installation.run_to_completion(now) == 0, (installation.home / "runs.log").read_text()
    assert outcomes["killed"] >= KILLS // 2, f"too few kills landed in a cycle: {outcomes}"

    assert database_problems(installation.state) == []
    assert step_violations(installation.launchpad, STEP, INTERVAL) == []
    assert unconverged(installation.launchpad) == []
    ids = message_ids(installation.smtp)
    assert ids, "no stop was ever mailed: the loop tested nothing about mail"
    assert [i for i, n in Counter(ids).items() if n > 1] == []
