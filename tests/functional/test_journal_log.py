"""The log as `journalctl -u phased-updater-run.service` shows it: a cycle through the real
command line with `JOURNAL_STREAM` set, against the doubles (real launchpadlib, real
requests), its stderr read line by line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from phased_updater import __version__, cli
from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import Fault, LaunchpadDouble, history_lookup
from tests.doubles.scenarios import DEMO_NOW, demo_errors
from tests.functional.engine import Engine
from tests.functional.smtp_server import free_port

# sd-daemon's prefix, then the logger's name: no timestamp of our own.
LINE = re.compile(r"<(?P<priority>[2-7])>(?P<logger>phased_updater[\w.]*): (?P<text>\S.*)")
# What launchpadlib's HTTPError str() carries after its first line.
DUMP = re.compile(r"response headers|response body|content-type:|x-leak", re.IGNORECASE)
BODY = "Traceback (most recent call last):\n  File 'lp.py'\nX-Leak: the body's own header line\n"


@pytest.fixture
def engine(launchpad: LaunchpadDouble, errortracker: ErrorTrackerDouble, tmp_path: Path) -> Engine:
    demo_errors(errortracker)
    options = ["--launchpad-workers", "1", "--errors-workers", "1"]
    return Engine(launchpad, errortracker, tmp_path, DEMO_NOW, options)


def journal_lines(err: str) -> list[re.Match[str]]:
    """Every stderr line, each of which must carry a priority and stand alone."""
    lines = err.splitlines()
    assert lines
    parsed = [LINE.fullmatch(line) for line in lines]
    unprefixed = [line for line, match in zip(lines, parsed, strict=True) if match is None]
    assert unprefixed == []
    return [match for match in parsed if match is not None]


def test_a_cycle_logs_for_the_journal_one_line_per_record(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    # One update's own read (its history lookup; its binaries come with the pocket's
    # listing) answers 500 with a body; launchpadlib's error text would carry every
    # response header and this body.
    engine.launchpad.faults.append(Fault("GET", history_lookup("hello"), status=500, body=BODY))
    assert engine.run() == 1
    lines = journal_lines(capsys.readouterr().err)
    texts = [m["text"] for m in lines]

    opening = texts[0]
    assert opening.startswith(
        f"phased-updater {__version__}: Launchpad {engine.launchpad.service_root}"
    )
    assert "as consumer phased-updater" in opening
    assert "series every supported series, step 10 every 6h, writes to Launchpad" in opening

    closing = lines[-1]
    assert closing["priority"] == "4"  # the run is incomplete: a warning
    pairs = dict(
        pair.split("=", 1) for pair in closing["text"].removeprefix("cycle done: ").split()
    )
    assert closing["text"].startswith("cycle done: run=1 status=1 ")
    assert re.fullmatch(r"\d+\.\d+s", pairs["duration"])
    assert pairs["not_evaluated"] == "1" and int(pairs["updates"]) > 1
    assert int(pairs["stopped"]) >= 1

    by_priority = {m["priority"] for m in lines}
    assert {"3", "4", "6"} <= by_priority  # the 500, the stops, the rest
    [error] = [m["text"] for m in lines if m["priority"] == "3"]
    assert "cannot read from Launchpad: HTTP 500" in error
    stops = [m["text"] for m in lines if m["priority"] == "4" and " stop " in m["text"]]
    assert any("libfoo" in text for text in stops)
    assert not [text for text in texts if DUMP.search(text)]


def test_an_error_tracker_outage_is_one_aggregate_line(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    nowhere = f"http://127.0.0.1:{free_port()}/api/1.0/"
    engine.options += ["--errors-url", nowhere]  # the later option wins
    assert engine.run() == 1
    lines = journal_lines(capsys.readouterr().err)
    about_it = [m for m in lines if nowhere in m["text"]]
    # The opening line names it; then the first failure, and one line for them all.
    first, *rest = [m for m in about_it if not m["text"].startswith("phased-updater ")]
    assert first["priority"] == "4" and "ConnectionError" in first["text"]
    [aggregate] = rest
    assert aggregate["priority"] == "3"
    assert re.fullmatch(
        rf"Error Tracker unreachable at {re.escape(nowhere)}: \d+ updates unknown",
        aggregate["text"],
    )
    assert any("Error Tracker unreachable" in failure for failure in engine.report()["failures"])


def test_the_log_level_and_a_terminal_format(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    assert engine.run("--log-level", "warning") == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(
        re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ WARNING ", line) for line in lines
    )
    assert any("cycle done" not in line and " stop " in line for line in lines)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"phased-updater {__version__}\n"


def test_the_config_files_log_level_unless_the_option_gives_one(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The charm's log-level reaches the engine as the config file's `log_level`."""
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    config = tmp_path / "phased-updater.toml"
    config.write_text('log_level = "warning"\n', encoding="utf-8")
    assert engine.run("--config", str(config)) == 0
    quiet = journal_lines(capsys.readouterr().err)
    assert quiet and {m["priority"] for m in quiet} == {"4"}  # the stops only
    engine.later(6)
    assert engine.run("--config", str(config), "--log-level", "info") == 0
    assert "6" in {m["priority"] for m in journal_lines(capsys.readouterr().err)}
