"""`make demo`: the engine against local Launchpad, Error Tracker and SMTP stand-ins.

It starts the doubles with the bundled scenario, then runs the real `phased-updater`
console script for several cycles, moving the clock six hours each time with `--now`:
updates advance (grub2, in the slow class, one point at a time), one stops on a new
crash, one on an increased crash rate, the SRU team overrides a third stop and it
resumes. An SRU member's stop on Launchpad is left alone until they resume it; the
rate check going quiet overnight does not lift a stop. A week later one more cycle
sends a reminder about the stop nobody resolved. Mail about the stops goes to a local
SMTP catcher. Everything lands in demo-out/ at the repository root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import LaunchpadDouble, write_credentials_file
from tests.doubles.scenarios import (
    CRASHING_UPDATE,
    DEMO_NOW,
    OVERRIDDEN_SIGNATURE,
    OVERRIDDEN_UPDATE,
    PERSON_STOPPED_UPDATE,
    REGRESSING_UPDATE,
    demo,
    demo_errors,
)
from tests.functional.smtp_server import SmtpServer

ROOT = Path(__file__).resolve().parents[2]
# Elsewhere for the test that checks the README's sample against a real run.
OUT = Path(os.environ.get("PHASED_UPDATER_DEMO_OUT") or ROOT / "demo-out")
SCRIPT = Path(sys.executable).with_name("phased-updater")
INTERVAL = timedelta(hours=6)
CYCLES = 5
OVERRIDE_BEFORE_CYCLE = 3
QUIET_BEFORE_CYCLE = 3  # the rate check says "no increase" from then on (night time)
RESUME_BEFORE_CYCLE = 4
# The last cycle: a week after the first, when the stops nobody resolved are reminded.
A_WEEK_AFTER = timedelta(days=7)


def write_config(launchpad: LaunchpadDouble, errors: ErrorTrackerDouble, smtp: SmtpServer) -> Path:
    config = OUT / "config.toml"
    config.write_text(
        f"""# What `juju config` and the smtp integration turn into on a unit.
launchpad = "{launchpad.service_root}"
credentials = "{OUT / "secrets" / "credentials"}"
errors_url = "{errors.base_url}"
step = 10
interval = "6h"
freeze_windows = ["Fri 00:00-Mon 12:00"]
reminder_days = 7
state = "{OUT / "state.sqlite3"}"
report_dir = "{OUT / "report"}"
report_url = "http://127.0.0.1:8080/"
overrides = "{OUT / "overrides.csv"}"
halts = "{OUT / "halts.json"}"
smtp_host = "127.0.0.1"
smtp_port = {smtp.port}
mail_from = "phased-updater@ubuntu.test"
mail_cc = ["ubuntu-sru@lists.ubuntu.test"]
""",
        encoding="utf-8",
    )
    return config


def resume(config: Path, now: datetime) -> str:
    """What the SRU member runs once the problem behind their stop is fixed."""
    update = PERSON_STOPPED_UPDATE
    completed = subprocess.run(
        [
            *(str(SCRIPT), "resume", "--config", str(config), "--now", now.isoformat()),
            *("--series", update.series, "--source", update.source, "--version", update.version),
            *("--by", "sru-steve", "--reason", "the fix was verified"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip()


def run_cycle(config: Path, now: datetime, number: int) -> int:
    log = OUT / f"cycle-{number}.log"
    with log.open("w", encoding="utf-8") as stream:
        completed = subprocess.run(
            [str(SCRIPT), "run", "--config", str(config), "--now", now.isoformat()],
            stderr=stream,
            stdout=stream,
            check=False,
        )
    return completed.returncode


def _notes(package: dict[str, Any]) -> str:
    """The row's last column: who acted, the problems, and a class other than normal."""
    problems = ", ".join(_problem(q) for q in package["problems"])
    if package["by"] and package["action"] in ("hold", "resume", "halt"):
        problems = f"by {package['by']}" + (f"; {problems}" if problems else "")
    if package["class"] not in (None, "normal"):
        problems = f"class {package['class']}" + (f"; {problems}" if problems else "")
    return problems


def _problem(problem: dict[str, Any]) -> str:
    notes = []
    if problem["overridden"]:
        notes.append("overridden")
    if problem["last_reported"]:
        notes.append("not reported since " + problem["last_reported"][11:16])
    return str(problem["kind"]) + (f" ({', '.join(notes)})" if notes else "")


def show(report: dict[str, Any], number: int, now: datetime, status: int) -> None:
    print(f"\ncycle {number} at {now:%Y-%m-%d %H:%M} UTC (exit {status}):")
    rows = sorted(report["packages"], key=lambda p: (p["series"], p["source"]))
    for p in rows:
        last = p["history"][-1]
        print(
            f"  {p['series']:<6} {p['source']:<9} {p['version']:<22}"
            f" {last['from']:>3}% -> {p['percentage']:>3}%  {p['action']:<12} {p['state']:<8}"
            f" {_notes(p)}".rstrip()
        )


def main() -> int:
    shutil.rmtree(OUT, ignore_errors=True)
    (OUT / "mail").mkdir(parents=True)
    (OUT / "overrides.csv").write_text("# source, version, problem URL | increased-rate\n")
    (OUT / "halts.json").write_text('{"halts": []}\n')
    with (
        LaunchpadDouble(demo(slow=True), clock=DEMO_NOW) as launchpad,
        ErrorTrackerDouble() as errors,
        SmtpServer() as smtp,
    ):
        demo_errors(errors)
        launchpad.add_token("phased-updater", "demo-token", "demo-secret", admin=True)
        write_credentials_file(
            OUT / "secrets" / "credentials", "phased-updater", "demo-token", "demo-secret"
        )
        config = write_config(launchpad, errors, smtp)
        print(f"Launchpad double at {launchpad.service_root}")
        print(f"Error Tracker double at {errors.base_url}")
        print(f"SMTP catcher at 127.0.0.1:{smtp.port}; logs of each cycle in {OUT}/cycle-N.log")
        now = DEMO_NOW
        for number in range(1, CYCLES + 1):
            if number == OVERRIDE_BEFORE_CYCLE:
                line = (
                    f"{OVERRIDDEN_UPDATE.source}, {OVERRIDDEN_UPDATE.version},"
                    f" https://errors.ubuntu.com/bucket/?id={OVERRIDDEN_SIGNATURE}\n"
                )
                with (OUT / "overrides.csv").open("a") as overrides:
                    overrides.write(line)
                print(
                    f"\nThe SRU team overrides the {OVERRIDDEN_UPDATE.source} crash: {line.strip()}"
                )
            if number == QUIET_BEFORE_CYCLE:
                rate = REGRESSING_UPDATE
                errors.rates[(rate.source, rate.previous_version, rate.version)] = {
                    "increase": False
                }
                print(
                    f"\nNight: the rate check reports no increase for {rate.source} any more"
                    " (fewer than 3 crashes today); its stop stays."
                )
            if number == RESUME_BEFORE_CYCLE:
                said = resume(config, now)
                print(f"\nThe SRU member resumes {PERSON_STOPPED_UPDATE.source}: {said}")
            launchpad.clock = now
            status = run_cycle(config, now, number)
            show(
                json.loads((OUT / "report" / "phased-updates.json").read_text()),
                number,
                now,
                status,
            )
            launchpad.publish()  # Launchpad's publisher runs every few minutes
            now += INTERVAL
        now = DEMO_NOW + A_WEEK_AFTER
        rate = REGRESSING_UPDATE
        with (OUT / "overrides.csv").open("a") as overrides:
            overrides.write(f"{rate.source}, {rate.version}, increased-rate\n")
        print(
            f"\nA week on, the SRU team judges the {rate.source} rate a false alarm and"
            f" overrides it; nobody has resolved the {CRASHING_UPDATE.source} crash."
        )
        launchpad.clock = now
        status = run_cycle(config, now, CYCLES + 1)
        report = json.loads((OUT / "report" / "phased-updates.json").read_text())
        show(report, CYCLES + 1, now, status)
        print(f"\nThe SMTP catcher received {len(smtp.received)} message(s):")
        for index, received in enumerate(smtp.received, start=1):
            path = OUT / "mail" / f"{index:02d}.eml"
            path.write_bytes(received.data)
            message = message_from_bytes(received.data, policy=policy.default)
            print(f"  {path.relative_to(OUT.parent)}: {str(message['Subject']).strip()}")
            print(f"    envelope to: {', '.join(received.rcpt_tos)}")
    print(f"\nReport: {OUT / 'report' / 'index.html'}")
    print(f"JSON:   {OUT / 'report' / 'phased-updates.json'}")
    serve = f"serve --report-dir {OUT / 'report'} --bind 127.0.0.1:8080"
    print(f"Serve it: .venv/bin/phased-updater {serve}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
