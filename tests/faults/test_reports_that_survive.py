"""Input that once made every later run exit 1: the report could never be written again.

Each test feeds the real CLI one such input through the doubles and then checks that
this run and the next both finish, write index.html and phased-updates.json, and
that `phased-updater report` renders them again: repeated decisions in one second,
a series named twice, a listing that repeats an entry, a lone surrogate in a crash
signature, an overrides line that is not a URL, a p-u-p of 101, and numbers at the
ends of their range. (Arbitrary histories: tests/faults/test_report_totality.py.)
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from phased_updater.cli import main
from phased_updater.sources import launchpad as launchpad_source
from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import Fault, LaunchpadDouble
from tests.doubles.scenario import Binary, Person, Scenario, Series, Upload
from tests.doubles.scenarios import (
    CLEAN_UPDATE,
    CRASHING_UPDATE,
    DEMO_NOW,
    PERSON_STOPPED_UPDATE,
    REGRESSING_UPDATE,
)
from tests.functional.engine import Engine


def report_again(engine: Engine) -> int:
    """`phased-updater report` on the engine's database and report directory."""
    return main(
        ["report", "--state", str(engine.home / "state.sqlite3"),
         "--report-dir", str(engine.report_dir)]
    )  # fmt: skip


def assert_reported(engine: Engine, *sources: str) -> None:
    """Both report files are whole and list each of `sources` (decided or not evaluated)."""
    page = (engine.report_dir / "index.html").read_text(encoding="utf-8")
    assert page.rstrip().endswith("</html>")
    document = engine.report()
    listed = {p["source"] for p in document["packages"]}
    listed |= {n["source"] for n in document["not_evaluated"]}
    for source in sources:
        assert source in listed and source in page


def decisions_in_run(engine: Engine, source: str) -> int:
    with sqlite3.connect(engine.home / "state.sqlite3") as database:
        [(count,)] = database.execute(
            "SELECT COUNT(*) FROM decisions WHERE source = ? AND run_id ="
            " (SELECT MAX(id) FROM runs)",
            (source,),
        ).fetchall()
    return int(count)


# -- 7. two decisions on one update in the same second ---------------------------------


def test_two_runs_at_the_same_now_leave_a_report_that_renders(engine: Engine) -> None:
    assert engine.run() == 0
    assert engine.run() == 0  # the same --now: the same second, the same decisions

    assert_reported(engine, "hello", "libfoo", "cryptkit")
    assert report_again(engine) == 0
    engine.later(6)
    assert engine.run() == 0
    assert_reported(engine, "hello", "libfoo", "cryptkit")


def test_the_clock_going_back_and_forward_to_the_same_second_renders(engine: Engine) -> None:
    start = engine.now
    assert engine.run() == 0
    engine.now = start - timedelta(hours=1)
    assert engine.run("--dry-run") == 0
    engine.now = start
    assert engine.run() == 0

    assert_reported(engine, "hello", "libfoo")
    assert report_again(engine) == 0


def test_a_series_named_twice_is_processed_once(engine: Engine) -> None:
    assert engine.run("--series", "noble,noble") == 0

    assert decisions_in_run(engine, "hello") == 1
    assert_reported(engine, "hello")
    assert [p["source"] for p in engine.report()["packages"]].count("hello") == 1


def many_updates(count: int) -> Scenario:
    """`count` phasing updates in noble, published in the last day (so that a run's
    dated discovery lists them all again): more than one page (75) of a listing."""
    release = DEMO_NOW - timedelta(days=300)
    uploads = []
    for i in range(count):
        source = f"pkg{i:03d}"
        uploads += [
            Upload("noble", source, "1.0-1", release, "Release", signer="alice",
                   creator="alice", binaries=[Binary(source, pup=None)]),
            Upload("noble", source, "1.0-1ubuntu0.1", DEMO_NOW - timedelta(hours=2, minutes=i),
                   signer="alice", creator="alice", binaries=[Binary(source, pup=10)]),
        ]  # fmt: skip
    return Scenario(
        series=[Series("plucky", "25.04", "Active Development"),
                Series("noble", "24.04", "Supported")],
        people=[Person("alice", "Alice Developer", "alice@example.com")],
        uploads=uploads,
    )  # fmt: skip


def test_a_listing_that_repeats_an_entry_is_a_failed_read_of_that_series(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of 75 (Launchpad's default size), so that 80 updates take two pages.
    monkeypatch.setattr(launchpad_source, "PAGE_SIZE", 75)
    late = Upload("noble", "latecomer", "2.0-1ubuntu0.1", DEMO_NOW - timedelta(minutes=5),
                  signer="alice", creator="alice",
                  binaries=[Binary("latecomer", pup=10)])  # fmt: skip
    with LaunchpadDouble(many_updates(80), clock=DEMO_NOW) as launchpad, ErrorTrackerDouble() as et:
        engine = Engine(launchpad, et, tmp_path, DEMO_NOW)
        assert engine.run() == 0
        engine.later(6)
        # An SRU is published while the run reads the second page of -updates: the
        # newest-first listing moves by one, and the first page's last entry is listed
        # again.
        launchpad.faults.append(
            Fault("GET", r"getPublishedSources.*ws\.start=75", status=None,
                  action=lambda: launchpad.archive.add([late]))
        )  # fmt: skip
        posts = len(engine.posts())

        assert engine.run() == 1

        document = engine.report()
        assert any("noble: cannot list -updates" in f for f in document["failures"])
        # Nothing was decided on a listing that may be wrong; every update is still shown.
        assert len(engine.posts()) == posts
        assert len(document["not_evaluated"]) == 80
        assert_reported(engine, "pkg000", "pkg079")
        engine.later(6)
        assert engine.run() == 0
        assert {p["source"] for p in engine.report()["packages"]} >= {"pkg000", "latecomer"}


# -- 8. a lone surrogate from the Error Tracker ----------------------------------------


def test_a_lone_surrogate_in_a_crash_signature_is_stored_and_shown(
    engine: Engine, errortracker: ErrorTrackerDouble
) -> None:
    crash = CRASHING_UPDATE
    errortracker.new_buckets[(crash.source, crash.previous_version, crash.version)] = [
        {"function": "\ud83d crash", "web_link": "https://errors.ubuntu.com/problem/4f6c1a0d"}
    ]  # the double's JSON carries it as the escape "\ud83d", as a real answer can

    assert engine.run() == 0

    [problem] = engine.package("libfoo")["problems"]
    assert problem["signature"] == "\ufffd crash"
    assert_reported(engine, "libfoo")
    assert report_again(engine) == 0
    engine.later(6)
    assert engine.run() == 0


def test_a_lone_surrogate_in_a_halt_reason_is_stored_and_shown(engine: Engine) -> None:
    halts = engine.home / "halts.json"
    halts.write_text(json.dumps({"halts": [
        {"series": "noble", "source": "hello", "version": CLEAN_UPDATE.version,
         "reason": "boot loop \udcff", "by": "sru-alice", "at": "2025-03-10T11:00:00Z"}
    ]}))  # fmt: skip

    assert engine.run("--halts", str(halts)) == 0

    hello = engine.package("hello")
    assert hello["state"] == "halted" and "boot loop \ufffd" in hello["reason"]
    assert report_again(engine) == 0


# -- 9. an overrides line that is not a URL --------------------------------------------


def test_an_overrides_line_with_a_broken_ipv6_url_is_named_and_skipped(
    engine: Engine, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    broken = f"libfoo, {CRASHING_UPDATE.version}, https://[errors.ubuntu.com/problem/4f6c1a0d"
    engine.overrides.write_text(f"{broken}\nzed, 0.9-1ubuntu0.22.04.1, increased-rate\n")

    assert engine.run("--overrides", str(engine.overrides)) == 0

    assert "line 1" in caplog.text and "is not a URL" in caplog.text
    assert engine.package("libfoo")["action"] == "stop"  # the override did not apply
    capsys.readouterr()
    assert main(["overrides", "check", str(engine.overrides)]) == 2
    out = capsys.readouterr()
    assert "line 1" in out.err and "Invalid IPv6 URL" in out.err
    assert "1 override(s), 1 malformed line(s)" in out.out


# -- 10. a p-u-p outside 0..100 --------------------------------------------------------


def test_a_pup_of_101_on_a_superseded_record_is_a_failed_read_of_that_update(
    engine: Engine, launchpad: LaunchpadDouble
) -> None:
    assert engine.run() == 0
    nettool = PERSON_STOPPED_UPDATE
    with launchpad.lock:
        [superseded] = [
            b
            for b in launchpad.archive.binaries.values()
            if (b.source_name, b.source_version, b.status, b.is_debug)
            == (nettool.source, nettool.version, "Superseded", False)
        ]
        superseded.pup = 101
    engine.later(6)
    posts = len(engine.posts())

    assert engine.run() == 1

    [entry] = [n for n in engine.report()["not_evaluated"] if n["source"] == "nettool"]
    assert "101" in entry["error"]
    assert entry["last_known"]["state"] == "halted"  # still shown as it was left
    assert_reported(engine, "nettool", "hello", "libfoo")
    assert len(engine.posts()) > posts  # the other updates went on (hello stepped)
    assert report_again(engine) == 0


# -- 11. numbers at the ends of their range --------------------------------------------


def test_now_in_year_1_is_refused_with_one_line(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    engine.now = engine.now.replace(year=1, month=1, day=2)

    assert engine.run("--dry-run") == 2

    [line] = capsys.readouterr().err.strip().splitlines()
    assert "--now" in line and "out of range" in line


def test_a_400_digit_number_from_the_error_tracker_is_a_failed_check(
    engine: Engine, errortracker: ErrorTrackerDouble
) -> None:
    rate = REGRESSING_UPDATE
    errortracker.rates[(rate.source, rate.previous_version, rate.version)] = {
        "increase": True,
        "difference": 10**400,
        "web_link": "https://errors.ubuntu.com/?package=cryptkit",
        "previous_period_in_days": 10,
        "previous_average": 1.5,
    }

    assert engine.run() == 1

    cryptkit = engine.package("cryptkit")
    assert (cryptkit["action"], cryptkit["percentage"]) == ("unknown", 50)
    assert_reported(engine, "cryptkit", "hello")
    engine.later(6)
    assert engine.run() == 1  # still a failed check, still a report
    assert report_again(engine) == 0
