"""A stop stays a stop: who stopped an update, and why, decides when it moves again.

Through the real CLI against the doubles. An SRU member acts on Launchpad with credentials
of their own (`SruMember`), so Launchpad names them as the creator of the records their
change-override makes, as it names the phaser for the phaser's.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import Fault, LaunchpadDouble
from tests.doubles.scenario import SUPPORTED, Binary, Person, Scenario, Series, Upload
from tests.doubles.scenarios import (
    CLEAN_UPDATE,
    CRASHING_UPDATE,
    DEMO_NOW,
    PERSON_STOPPED_UPDATE,
    REGRESSING_UPDATE,
    demo_errors,
)
from tests.functional.conftest import MakeLaunchpad
from tests.functional.engine import Engine
from tests.functional.launchpad_people import SruMember
from tests.functional.smtp_server import SmtpServer

HOUR = timedelta(hours=1)
INTERVAL = 6 * HOUR


@pytest.fixture
def engine(launchpad: LaunchpadDouble, errortracker: ErrorTrackerDouble, tmp_path: Path) -> Engine:
    demo_errors(errortracker)
    return Engine(launchpad, errortracker, tmp_path, DEMO_NOW)


@pytest.fixture
def sru(launchpad: LaunchpadDouble, tmp_path: Path) -> SruMember:
    return SruMember(launchpad, tmp_path)


def debs(engine: Engine, update: tuple[str, ...]) -> set[int | None]:
    return set(engine.percentages(*update[:3]).values())


def posts_to(engine: Engine, update: tuple[str, ...]) -> list[str]:
    """The POSTs (changeOverride) the double answered for this upload's binaries."""
    series, source, version = update[:3]
    ids = {
        f"/+binarypub/{b.id}"
        for b in engine.launchpad.archive.binaries.values()
        if (b.series, b.source_name, b.source_version) == (series, source, version)
    }
    return [path for path in engine.posts() if any(path.endswith(i) for i in ids)]


def resume(engine: Engine, update: tuple[str, ...], by: str, reason: str) -> int:
    series, source, version = update[:3]
    return engine.command(
        "resume",
        *("--series", series, "--source", source, "--version", version),
        *("--by", by, "--reason", reason),
    )


def test_a_persons_stop_on_launchpad_is_never_raised(engine: Engine, sru: SruMember) -> None:
    assert engine.run() == 0
    assert debs(engine, CLEAN_UPDATE) == {20}
    engine.later(1)
    assert sru.change_override(*CLEAN_UPDATE[:3], 0, at=engine.now) == 2
    for _ in range(10):  # the Error Tracker reports nothing about hello all along
        engine.later(6)
        engine.launchpad.reset_requests()
        assert engine.run() == 0
        hello = engine.package("hello")
        assert (hello["state"], hello["action"], hello["percentage"]) == ("halted", "hold", 0)
        assert hello["by"] == "~sru-steve"
        assert "stopped by ~sru-steve on Launchpad" in hello["reason"]
        assert debs(engine, CLEAN_UPDATE) == {0}
        assert posts_to(engine, CLEAN_UPDATE) == []
    page = (engine.report_dir / "index.html").read_text(encoding="utf-8")
    assert "stopped by ~sru-steve on Launchpad" in page


def test_a_persons_raise_is_stepped_from_and_acknowledges_the_problem_on_record(
    engine: Engine, sru: SruMember
) -> None:
    assert engine.run() == 0  # cryptkit: an increased rate, 50% -> 0
    assert debs(engine, REGRESSING_UPDATE) == {0}
    engine.later(1)
    assert sru.change_override(*REGRESSING_UPDATE[:3], 40, at=engine.now) == 3  # continued by hand
    engine.later(1)
    assert engine.run() == 0  # the rate is still reported: acknowledged, not a new stop
    cryptkit = engine.package("cryptkit")
    assert (cryptkit["state"], cryptkit["action"], cryptkit["percentage"]) == (
        "phasing",
        "wait",
        40,
    )
    [rate] = cryptkit["problems"]
    assert rate["acknowledged"]["by"] == "~sru-steve"
    assert "raised it to 40% on Launchpad" in rate["acknowledged"]["how"]
    engine.later(6)
    assert engine.run() == 0
    assert (engine.package("cryptkit")["action"], debs(engine, REGRESSING_UPDATE)) == (
        "advance",
        {50},
    )

    # A problem found after the raise stops it again.
    engine.errors.new_buckets[REGRESSING_UPDATE[1], REGRESSING_UPDATE[3], REGRESSING_UPDATE[2]] = [
        {"function": "cryptkit_new()", "web_link": "https://errors.ubuntu.com/problem/" + "a" * 40}
    ]
    engine.later(1)
    assert engine.run() == 0
    cryptkit = engine.package("cryptkit")
    assert (cryptkit["action"], cryptkit["percentage"]) == ("stop", 0)
    assert {p["kind"]: bool(p["acknowledged"]) for p in cryptkit["problems"]} == {
        "new-crash": False,
        "increased-rate": True,
    }


def test_an_increased_rate_stop_holds_while_the_rate_check_is_quiet(engine: Engine) -> None:
    assert engine.run() == 0
    assert engine.package("cryptkit")["action"] == "stop"
    rate = REGRESSING_UPDATE
    engine.errors.rates[(rate.source, rate.previous_version, rate.version)] = {"increase": False}
    for _ in range(10):
        engine.later(6)
        assert engine.run() == 0
        cryptkit = engine.package("cryptkit")
        assert (cryptkit["state"], cryptkit["action"], cryptkit["percentage"]) == (
            "stopped",
            "keep-stopped",
            0,
        )
        [kept] = cryptkit["problems"]
        assert kept["last_reported"] == DEMO_NOW.isoformat()
        assert debs(engine, REGRESSING_UPDATE) == {0}
    engine.overrides.write_text(f"cryptkit, {rate.version}, increased-rate\n", encoding="utf-8")
    engine.later(6)
    assert engine.run("--overrides", str(engine.overrides)) == 0
    cryptkit = engine.package("cryptkit")
    assert (cryptkit["action"], cryptkit["percentage"]) == ("resume", 50)
    engine.later(1)
    assert debs(engine, REGRESSING_UPDATE) == {50}


def test_resume_lifts_each_kind_of_stop_and_says_who_and_why(
    engine: Engine, sru: SruMember
) -> None:
    (engine.home / "halts.json").write_text('{"halts": []}\n')
    engine.options += ["--halts", str(engine.home / "halts.json")]
    assert engine.run() == 0  # libfoo stops on a crash; nettool is an SRU member's stop
    engine.later(1)
    hello = ("--series", "noble", "--source", "hello", "--version", CLEAN_UPDATE.version)
    assert engine.command("halt", *hello, "--reason", "boot loop", "--by", "sru-alice") == 0
    engine.later(1)
    assert engine.run() == 0
    assert engine.package("hello")["state"] == "halted"
    for update, who in (
        (CLEAN_UPDATE, "sru-alice"),  # a halt
        (CRASHING_UPDATE, "sru-bob"),  # an automatic stop
        (PERSON_STOPPED_UPDATE, "sru-steve"),  # a person's stop on Launchpad
    ):
        assert resume(engine, update, who, f"checked by {who}") == 0
    engine.later(1)
    assert engine.run() == 0
    for source, peak, who in (("hello", 20, "sru-alice"), ("libfoo", 30, "sru-bob"),
                              ("nettool", 30, "sru-steve")):  # fmt: skip
        package = engine.package(source)
        assert (package["action"], package["percentage"], package["by"]) == ("resume", peak, who)
        assert f"resumed by {who}" in package["reason"] and f"checked by {who}" in package["reason"]
    # libfoo's crash is still reported: acknowledged by the resume, so it phases on.
    [crash] = engine.package("libfoo")["problems"]
    assert crash["acknowledged"]["by"] == "sru-bob"
    engine.later(6)
    assert engine.run() == 0
    assert engine.package("libfoo")["action"] == "advance"


def test_resume_is_refused_for_an_update_nobody_knows(engine: Engine) -> None:
    assert engine.run() == 0
    assert resume(engine, ("noble", "hello", "9.9-9"), "sru-alice", "typo") == 2


# -- no update disappears ------------------------------------------------------------


def old_archive(now: Any) -> Scenario:
    """An update published 200 days ago still phasing at 30%, and one the phaser stopped
    then, with their previous versions, plus a fresh one."""
    day = timedelta(days=1)
    return Scenario(
        series=[Series("noble", "24.04", SUPPORTED)],
        people=[Person("alice", "Alice", "alice@example.com"), Person("phasing-bot", "Bot")],
        uploads=[
            Upload("noble", "oldie", "1.0-1", now - 900 * day, "Release", signer="alice",
                   binaries=[Binary("oldie", pup=None)]),
            Upload("noble", "oldie", "1.0-1ubuntu0.1", now - 200 * day, signer="alice",
                   binaries=[Binary("oldie", pup=30)]),
            Upload("noble", "stuck", "2.0-1", now - 900 * day, "Release", signer="alice",
                   binaries=[Binary("stuck", pup=None)]),
            Upload("noble", "stuck", "2.0-1ubuntu0.1", now - 200 * day, signer="alice",
                   binaries=[Binary("stuck", pup=0, set_by="phasing-bot",
                                    set_at=now - 199 * day, was=20)]),
            Upload("noble", "fresh", "3.0-1", now - 900 * day, "Release", signer="alice",
                   binaries=[Binary("fresh", pup=None)]),
            Upload("noble", "fresh", "3.0-1ubuntu0.1", now - 2 * day, signer="alice",
                   binaries=[Binary("fresh", pup=10)]),
        ],
    )  # fmt: skip


@pytest.fixture
def old(make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path) -> Engine:
    return Engine(make_launchpad(old_archive(DEMO_NOW), clock=DEMO_NOW), errortracker, tmp_path,
                  DEMO_NOW)  # fmt: skip


def test_a_200_day_old_update_is_listed_evaluated_and_stepped(old: Engine) -> None:
    assert old.run() == 0  # a fresh database: one full listing of -updates
    listings = [r for r in old.launchpad.requests if r.query.get("ws.op") == "getPublishedSources"
                and "source_name" not in r.query]  # fmt: skip
    assert [("created_since_date" in r.query) for r in listings] == [False]
    states = {p["source"]: (p["state"], p["percentage"]) for p in old.report()["packages"]}
    assert states == {"oldie": ("phasing", 40), "stuck": ("stopped", 0), "fresh": ("phasing", 20)}
    for _ in range(3):  # later runs list only what is new, and still read the old ones
        old.later(6)
        old.launchpad.reset_requests()
        assert old.run() == 0
        listings = [r for r in old.launchpad.requests
                    if r.query.get("ws.op") == "getPublishedSources"]  # fmt: skip
        assert all("created_since_date" in r.query for r in listings)
        assert {p["source"] for p in old.report()["packages"]} == {"oldie", "stuck", "fresh"}
    assert old.package("oldie")["percentage"] == 70
    assert old.package("stuck")["state"] == "stopped"


def test_a_fresh_database_resumes_nothing_that_is_at_0(
    old: Engine, launchpad: LaunchpadDouble
) -> None:
    # `stuck` was stopped by the phaser's own account: a sticky stop whose causes were
    # not recorded. A person's stop is added too.
    SruMember(old.launchpad, old.home).change_override(
        "noble", "fresh", "3.0-1ubuntu0.1", 0, at=old.now
    )
    old.later(1)
    assert old.run() == 0
    stuck, fresh = old.package("stuck"), old.package("fresh")
    assert (stuck["state"], stuck["action"], stuck["percentage"]) == ("stopped", "stop", 0)
    assert "causes were not recorded" in stuck["reason"]
    assert (fresh["state"], fresh["action"], fresh["percentage"]) == ("halted", "hold", 0)
    for _ in range(3):
        old.later(6)
        assert old.run() == 0
        assert (old.package("stuck")["percentage"], old.package("fresh")["percentage"]) == (0, 0)
        assert old.package("stuck")["action"] == "keep-stopped"


@pytest.mark.parametrize("failure", ["revoked token", "launchpad down"])
def test_launchpad_failing_keeps_every_known_update_in_the_report(
    engine: Engine, failure: str
) -> None:
    assert engine.run() == 0
    known = {p["source"]: p["state"] for p in engine.report()["packages"]}
    engine.later(6)
    if failure == "revoked token":
        engine.launchpad.revoke_all_tokens()
    else:  # every request fails, the login first
        engine.launchpad.faults.append(Fault(path_regex="", status=500, times=None))
    assert engine.run() == 1
    report = engine.report()
    assert report["packages"] == []
    missed = {n["source"]: n["last_known"]["state"] for n in report["not_evaluated"]}
    assert missed == known
    assert report["counts"]["not_evaluated"] == len(known)
    assert report["counts"]["stopped"] == sum(s == "stopped" for s in known.values())
    page = (engine.report_dir / "index.html").read_text(encoding="utf-8")
    assert 'id="not-evaluated"' in page


# -- new sources and versions the Error Tracker does not know ---------------------------


def new_source_archive(now: Any) -> Scenario:
    return Scenario(
        series=[Series("noble", "24.04", SUPPORTED)],
        people=[Person("alice", "Alice", "alice@example.com")],
        uploads=[
            # A new source introduced by an SRU: no earlier version in the series.
            Upload("noble", "nvidia-graphics-drivers-999", "999.1-0ubuntu0.24.04.1",
                   now - 2 * timedelta(days=1), signer="alice",
                   binaries=[Binary("nvidia-driver-999", pup=10)]),
            Upload("noble", "tool", "1.0-1", now - timedelta(days=900), "Release",
                   signer="alice", binaries=[Binary("tool", pup=None)]),
            Upload("noble", "tool", "1.0-1ubuntu0.1", now - 2 * timedelta(days=1),
                   signer="alice", binaries=[Binary("tool", pup=10)]),
        ],
    )  # fmt: skip


def test_updates_with_nothing_to_compare_are_held_until_a_person_lets_them_phase(
    make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> None:
    engine = Engine(make_launchpad(new_source_archive(DEMO_NOW), clock=DEMO_NOW), errortracker,
                    tmp_path, DEMO_NOW)  # fmt: skip
    errortracker.known_versions = {("tool", "1.0-1")}  # 404 for the new version of tool
    for _ in range(2):
        assert engine.run() == 0  # an expected condition: not a failed run
        nvidia, tool = engine.package("nvidia-graphics-drivers-999"), engine.package("tool")
        assert (nvidia["state"], nvidia["action"], nvidia["percentage"]) == ("held", "hold", 10)
        assert "no previous version of nvidia-graphics-drivers-999" in nvidia["reason"]
        assert (tool["state"], tool["percentage"]) == ("held", 10)
        assert "does not know version 1.0-1ubuntu0.1 (404)" in tool["reason"]
        engine.later(6)
    engine.overrides.write_text("tool, 1.0-1ubuntu0.1, unchecked\n", encoding="utf-8")
    assert resume(engine, ("noble", "nvidia-graphics-drivers-999", "999.1-0ubuntu0.24.04.1"),
                  "sru-alice", "reviewed: a new branch") == 0  # fmt: skip
    assert engine.run("--overrides", str(engine.overrides)) == 0
    nvidia, tool = engine.package("nvidia-graphics-drivers-999"), engine.package("tool")
    assert (nvidia["state"], nvidia["action"], nvidia["percentage"]) == ("phasing", "advance", 20)
    assert "without the Error Tracker's checks" in nvidia["reason"]
    assert (tool["state"], tool["action"], tool["percentage"]) == ("phasing", "advance", 20)


# -- a stop that reached Launchpad but not the history -----------------------------------


@pytest.fixture
def mail() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def mailed(engine: Engine, server: SmtpServer) -> list[str]:
    return sorted(str(r.message["Subject"]) for r in server.received)


LIBFOO_MAIL = f"Phasing of libfoo {CRASHING_UPDATE.version} in noble-updates stopped"


def test_a_lost_database_records_the_stops_from_launchpad_and_mails_them_once(
    engine: Engine, mail: SmtpServer
) -> None:
    """The history is lost: Launchpad's records say the phaser set libfoo to 0, so the
    next run records that stop (from its old level) and mails it, once."""
    smtp = ["--smtp-host", "127.0.0.1", "--smtp-port", str(mail.port), "--mail-from", "p@x.test"]
    engine.options += smtp
    assert engine.run() == 0
    stopped = {"cryptkit", "gizmo", "libfoo"}
    assert {p["source"] for p in engine.report()["packages"] if p["action"] == "stop"} == stopped
    assert mailed(engine, mail).count(LIBFOO_MAIL) == 1
    (engine.home / "state.sqlite3").unlink()
    engine.later(6)
    assert engine.run() == 0
    libfoo = engine.package("libfoo")
    assert (libfoo["action"], libfoo["state"], libfoo["percentage"]) == ("stop", "stopped", 0)
    assert libfoo["history"][0]["from"] == 30  # from Launchpad's own records
    assert "no run recorded the stop" in libfoo["reason"]
    # This database's outbox is new: the stop is mailed again, once, then never again.
    assert mailed(engine, mail).count(LIBFOO_MAIL) == 2
    engine.later(6)
    assert engine.run() == 0
    assert engine.package("libfoo")["action"] == "keep-stopped"
    assert mailed(engine, mail).count(LIBFOO_MAIL) == 2
