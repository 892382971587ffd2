"""Launchpad is written to only with --credentials and without --dry-run.

Every sub-command `phased-updater --help` lists is driven twice against the Launchpad
double, anonymously and with admin credentials plus --dry-run (where it takes them),
and the double sees no POST. The list of sub-commands is read from the parser, so a
new one fails this test until it is driven here too. A last, real run shows that the
same setup does write when allowed to, so the zero above means something.
"""

from __future__ import annotations

import argparse
import json
import re
import selectors
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from phased_updater.cli import build_parser, main
from tests.doubles.scenarios import CLEAN_UPDATE
from tests.functional.engine import Engine

NOW = "2025-03-10T12:00:00+00:00"


def subcommands() -> set[str]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


def driven(engine: Engine, *, credentials: bool) -> dict[str, list[list[str]]]:
    """Each sub-command's invocations: every one that can reach Launchpad is pointed at it."""
    home = engine.home
    launchpad = ["--launchpad", engine.launchpad.service_root]
    state = ["--state", str(home / "state.sqlite3")]
    report = ["--report-dir", str(home / "report")]
    writes = ["--credentials", str(engine.credentials), "--dry-run"] if credentials else []
    target = ["--series", "noble", "--source", "hello", "--version", CLEAN_UPDATE.version]
    halts = ["--halts", str(home / "halts.json")]
    overrides = home / "overrides.csv"
    overrides.write_text(f"hello, {CLEAN_UPDATE.version}, increased-rate\n")
    return {
        "run": [engine.argv("--dry-run") if credentials else engine.argv(anonymous=True)],
        "report": [["report", *state, *report, "--now", NOW]],
        "halt": [
            [
                *("halt", *launchpad, *state, *report, *halts, *target, *writes),
                *("--reason", "testing", "--by", "fault tests", "--now", NOW),
            ]
        ],
        "resume": [
            [
                *("resume", *launchpad, *state, *report, *halts, *target, *writes),
                *("--by", "fault tests", "--reason", "testing", "--now", NOW),
            ]
        ],
        "overrides": [["overrides", "check", str(overrides)]],
        "check": [["check", "hello", CLEAN_UPDATE.version, "10", "--machine-id", "ab" * 16]],
        "forecast": [["forecast", "--now", NOW]],
        "serve": [],  # a server: driven as a process below
    }


def serve_briefly(report_dir: Path) -> None:
    """Start `serve` on a free port, fetch its page and /healthz, stop it."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "phased_updater.cli", "serve"),
            *("--report-dir", str(report_dir), "--bind", "127.0.0.1:0"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = announced_port(process)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as health:
                assert health.status == 200
        except urllib.error.HTTPError as error:
            # The runs were made with --now in the past: by this machine's clock their
            # report may be stale, which /healthz says with a 503.
            assert error.code == 503
            assert json.loads(error.read())["stale"] is True
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
            assert page.status == 200
    finally:
        process.terminate()  # by pid
        process.communicate(timeout=30)


def announced_port(process: subprocess.Popen[str], timeout: float = 30.0) -> int:
    """The port `serve` logs once it listens, read as its log line arrives."""
    assert process.stderr is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        while selector.select(timeout):
            line = process.stderr.readline()
            assert line, f"serve exited with {process.wait()}"
            found = re.search(r"serving .* on http://127\.0\.0\.1:(\d+)/", line)
            if found:
                return int(found.group(1))
    raise AssertionError("serve never said it was listening")


@pytest.mark.parametrize("credentials", [False, True], ids=["anonymous", "dry-run"])
def test_no_sub_command_writes_to_launchpad_without_credentials_or_in_a_dry_run(
    engine: Engine, credentials: bool
) -> None:
    commands = driven(engine, credentials=credentials)
    assert set(commands) == subcommands(), "a sub-command is not driven by this test"
    for name, invocations in commands.items():
        for argv in invocations:
            status = main(argv)
            assert status in (0, 1), f"{name}: exit {status}"
    serve_briefly(engine.home / "report")
    assert engine.posts() == []
    assert any(r.method == "GET" for r in engine.launchpad.requests), "Launchpad was never asked"
    assert (engine.home / "halts.json").is_file()
    # The same setup with credentials and no --dry-run does write.
    assert engine.run() == 0
    assert engine.posts() != []
