"""The engine's rules, through the real launchpadlib and requests against the doubles."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.doubles.errortracker import NEW_BUCKETS, RATE_OF_CRASHES, ErrorTrackerDouble
from tests.doubles.launchpad import PHASER_ACCOUNT, LaunchpadDouble
from tests.doubles.scenarios import (
    CLEAN_UPDATE,
    CRASHING_UPDATE,
    DEMO_NOW,
    OVERRIDDEN_UPDATE,
    REGRESSING_UPDATE,
    demo_errors,
)
from tests.functional.engine import Engine

HOURS = 6


@pytest.fixture(params=[1, 8], ids=["1-worker", "8-workers"])
def engine(
    request: pytest.FixtureRequest,
    launchpad: LaunchpadDouble,
    errortracker: ErrorTrackerDouble,
    tmp_path: Path,
) -> Engine:
    demo_errors(errortracker)
    workers = str(request.param)
    options = ["--launchpad-workers", workers, "--errors-workers", workers]
    return Engine(launchpad, errortracker, tmp_path, DEMO_NOW, options)


def states(engine: Engine) -> dict[str, tuple[str, int]]:
    return {p["source"]: (p["state"], p["percentage"]) for p in engine.report()["packages"]}


def test_first_cycle_steps_stops_and_reports(engine: Engine) -> None:
    assert engine.run() == 0
    assert states(engine) == {
        "hello": ("phasing", 20),
        "zed": ("phasing", 30),
        "libfoo": ("stopped", 0),
        "cryptkit": ("stopped", 0),
        "gizmo": ("stopped", 0),
        "nettool": ("halted", 0),  # stopped by an SRU member on Launchpad: never raised
    }
    assert set(engine.percentages(*CLEAN_UPDATE[:3]).values()) == {20}
    assert set(engine.percentages(*CRASHING_UPDATE[:3]).values()) == {0}
    report = engine.report()
    assert report["dry_run"] is False
    crash = engine.package("libfoo")
    assert crash["previous_version"] == CRASHING_UPDATE.previous_version
    assert crash["problems"] == [
        {
            "kind": "new-crash",
            "url": "https://errors.ubuntu.com/problem/4f6c1a0d2e9b8c7a6f5e4d3c2b1a09f8e7d6c5b4",
            "overridden": False,
            "signature": "<script>alert(1)</script> in foo_parse()",
            "evidence": {},
            "acknowledged": None,
            "last_reported": None,
        }
    ]
    rate = engine.package("cryptkit")["problems"][0]
    assert rate["kind"] == "increased-rate"
    assert rate["evidence"]["difference"] == 4.2
    assert rate["evidence"]["previous_average"] == 1.5


def test_previous_version_counts_a_copy_in_two_pockets_once(engine: Engine) -> None:
    engine.run()
    assert engine.package("cryptkit")["previous_version"] == REGRESSING_UPDATE.previous_version
    [rate_query] = [
        r.query
        for r in engine.errors.requests
        if r.path.endswith("package-rate-of-crashes/") and r.query["package"] == "cryptkit"
    ]
    assert rate_query["release"] == "Ubuntu 24.04"
    assert rate_query["phased_update_percentage"] == "50"
    assert rate_query["exclude_proposed"] == "True"
    assert rate_query["date"] == (DEMO_NOW - timedelta(days=2)).date().isoformat()


def test_a_stop_writes_every_deb_and_never_a_ddeb(engine: Engine) -> None:
    engine.run()
    libfoo_posts = [p for p in engine.posts() if "libfoo" in p or "+binarypub" in p]
    assert libfoo_posts, "the stop wrote nothing"
    written = {r.path for r in engine.launchpad.requests if r.method == "POST"}
    debug_links = {
        path
        for path in written
        for b in engine.launchpad.archive.binaries.values()
        if b.is_debug and path.endswith(f"/+binarypub/{b.id}")
    }
    assert debug_links == set()
    assert set(engine.percentages(*CRASHING_UPDATE[:3]).values()) == {0}


def test_a_second_run_at_the_same_time_changes_nothing(engine: Engine) -> None:
    engine.run()
    before = {u: engine.percentages(*u[:3]) for u in (CLEAN_UPDATE, CRASHING_UPDATE)}
    engine.launchpad.reset_requests()
    assert engine.run() == 0
    assert engine.posts() == []
    assert {u: engine.percentages(*u[:3]) for u in (CLEAN_UPDATE, CRASHING_UPDATE)} == before
    assert engine.package("hello")["action"] == "wait"
    assert engine.package("libfoo")["action"] == "keep-stopped"


def test_a_timer_firing_every_interval_steps_once_per_firing(engine: Engine) -> None:
    levels = []
    for _ in range(4):
        engine.run()
        levels.append(engine.package("hello")["percentage"])
        # The write lands a little after the firing; the next firing is one interval later.
        engine.later(HOURS)
    assert levels == [20, 30, 40, 50]


def test_a_lost_database_never_steps_twice(engine: Engine, tmp_path: Path) -> None:
    engine.run()
    engine.later(1)
    (tmp_path / "state.sqlite3").unlink()
    engine.run()
    assert engine.package("hello")["percentage"] == 20
    assert engine.package("hello")["action"] == "wait"


def test_dry_run_decides_and_reports_but_sends_no_post(engine: Engine) -> None:
    assert engine.run("--dry-run") == 0
    assert engine.posts() == []
    assert engine.report()["dry_run"] is True
    assert engine.package("hello")["percentage"] == 20  # what it would be
    assert set(engine.percentages(*CLEAN_UPDATE[:3]).values()) == {10}


def test_anonymous_runs_are_dry_runs(engine: Engine) -> None:
    assert engine.run(anonymous=True) == 0
    assert engine.posts() == []
    assert engine.report()["dry_run"] is True


@pytest.mark.parametrize("mode", ["500", "timeout", "html-200", "bad-json", "missing-fields"])
def test_an_error_tracker_failure_leaves_the_package_untouched(engine: Engine, mode: str) -> None:
    engine.errors.timeout_delay = 1.0
    engine.errors.failures[(RATE_OF_CRASHES, "hello")] = mode
    engine.errors.failures[(NEW_BUCKETS, "libfoo")] = mode
    engine.options += ["--errors-timeout", "0.5"] if mode == "timeout" else []
    assert engine.run() == 1
    hello, libfoo = engine.package("hello"), engine.package("libfoo")
    assert (hello["state"], hello["percentage"]) == ("unknown", 10)
    assert (libfoo["state"], libfoo["percentage"]) == ("unknown", 30)
    assert "Error Tracker" in hello["reason"]
    assert set(engine.percentages(*CLEAN_UPDATE[:3]).values()) == {10}
    assert set(engine.percentages(*CRASHING_UPDATE[:3]).values()) == {30}
    assert engine.package("zed")["percentage"] == 30  # the others still move


def test_a_partial_earlier_write_is_converged_without_a_second_step(engine: Engine) -> None:
    # An earlier run wrote the amd64 binary to 20 and died before the arm64 one.
    model = engine.launchpad.archive
    [amd64] = [
        b
        for b in model.binaries.values()
        if b.name == "hello"
        and b.arch == "amd64"
        and b.status == "Published"
        and b.version == CLEAN_UPDATE.version
    ]
    model.change_override(amd64.id, 20, DEMO_NOW - timedelta(hours=1), PHASER_ACCOUNT)
    assert engine.percentages(*CLEAN_UPDATE[:3]) == {"hello/amd64": 20, "hello/arm64": 10}
    assert engine.run() == 0
    assert engine.percentages(*CLEAN_UPDATE[:3]) == {"hello/amd64": 20, "hello/arm64": 20}
    assert engine.package("hello")["action"] == "wait"


def test_overrides_by_url_and_increased_rate_resume_phasing(engine: Engine) -> None:
    engine.run()
    assert engine.package("gizmo")["state"] == "stopped"
    engine.overrides.write_text(
        "# SRU team\n"
        f"gizmo, {OVERRIDDEN_UPDATE.version}, "
        "https://errors.ubuntu.com/bucket/?id=gizmo_render_frame\n"
        f"cryptkit, {REGRESSING_UPDATE.version}, increased-rate\n"
    )
    engine.later(1)
    assert engine.run("--overrides", str(engine.overrides)) == 0
    gizmo, cryptkit = engine.package("gizmo"), engine.package("cryptkit")
    assert (gizmo["action"], gizmo["percentage"]) == ("resume", 10)
    assert (cryptkit["action"], cryptkit["percentage"]) == ("resume", 50)
    assert [p["overridden"] for p in gizmo["problems"]] == [True]
    assert engine.package("libfoo")["state"] == "stopped"


def test_malformed_override_lines_are_reported_and_skipped(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    engine.overrides.write_text(
        "gizmo, only-two-fields\n"
        f"cryptkit, {REGRESSING_UPDATE.version}, increased-rate\n"
        "Not A Package, 1.0, increased-rate\n"
    )
    with caplog.at_level(logging.WARNING):
        assert engine.run("--overrides", str(engine.overrides)) == 0
    assert "line 1" in caplog.text
    assert "line 3" in caplog.text
    assert engine.package("cryptkit")["state"] == "phasing"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--step", "0"], "step 0"),
        (["--interval", "banana"], "banana"),
        (["--launchpad", "ftp://example.com/"], "ftp://example.com/"),
        (["--series", "warty"], "warty"),
        (["--overrides", "/nonexistent/overrides.csv"], "/nonexistent/overrides.csv"),
        (["--credentials", "/nonexistent/creds"], "/nonexistent/creds"),
        (["--now", "soon"], "soon"),
    ],
)
def test_bad_options_exit_2_naming_the_value_and_change_nothing(
    engine: Engine, capsys: pytest.CaptureFixture[str], extra: list[str], named: str
) -> None:
    assert engine.run(*extra) == 2
    err = capsys.readouterr().err
    assert named in err
    assert engine.posts() == []
    state = engine.home / "state.sqlite3"
    if state.exists():
        decisions = sqlite3.connect(state).execute("SELECT COUNT(*) FROM decisions").fetchone()
        assert decisions == (0,)


def test_an_expired_token_is_a_clear_error_not_a_prompt(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    engine.launchpad.add_token("phased-updater", "other", "x", admin=True)
    engine.credentials.write_text(
        engine.credentials.read_text().replace("engine-secret", "expired-secret")
    )
    assert engine.run() == 1
    assert "rejected the credentials (401)" in caplog.text
    assert engine.posts() == []


def test_the_console_script_runs_a_cycle(engine: Engine) -> None:
    engine.launchpad.clock = engine.now
    script = Path(sys.executable).with_name("phased-updater")
    completed = subprocess.run(
        [str(script), *engine.argv("--dry-run")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "noble hello 2.10-3ubuntu0.1: advance 10% -> 20%" in completed.stderr
    assert engine.report()["packages"]
