"""Phasing like Ubuntu does today, through the real CLI against the doubles: speed
classes, the weekend freeze, reminders of stops left unresolved, and groups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import Fault
from tests.doubles.scenario import SUPPORTED, Binary, Person, Scenario, Series, Upload
from tests.doubles.scenarios import CRASHING_UPDATE, DEMO_NOW, demo, demo_errors
from tests.functional.conftest import MakeLaunchpad
from tests.functional.engine import Engine
from tests.functional.smtp_server import SmtpServer

# Thursday 13 March 2025, 18:00 UTC; the weekend freeze starts six hours later.
THURSDAY_18 = datetime(2025, 3, 13, 18, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def upload(source: str, version: str, previous: str, pup: int, published: datetime) -> list[Upload]:
    """A source's release and its update in noble-updates at `pup`."""
    return [
        Upload("noble", source, previous, published - 300 * DAY, "Release", signer="alice",
               creator="alice", binaries=[Binary(source, pup=None)]),
        Upload("noble", source, version, published, signer="alice", creator="alice",
               binaries=[Binary(source, pup=pup), Binary(f"{source}-dbgsym", pup=pup,
                                                         is_debug=True)]),
    ]  # fmt: skip


def archive(*uploads: list[Upload]) -> Scenario:
    return Scenario(
        series=[Series("noble", "24.04", SUPPORTED)],
        people=[Person("alice", "Alice Developer", "alice@example.com")],
        uploads=[u for pair in uploads for u in pair],
    )


def engine_for(
    make_launchpad: MakeLaunchpad,
    errortracker: ErrorTrackerDouble,
    tmp_path: Path,
    scenario: Scenario,
    now: datetime,
    config: str = "",
) -> Engine:
    engine = Engine(make_launchpad(scenario, clock=now), errortracker, tmp_path, now)
    if config:
        (tmp_path / "config.toml").write_text(config, encoding="utf-8")
        engine.options += ["--config", str(tmp_path / "config.toml")]
    return engine


def levels(engine: Engine) -> dict[str, tuple[str, int]]:
    return {p["source"]: (p["action"], p["percentage"]) for p in engine.report()["packages"]}


# -- speed classes ---------------------------------------------------------------------------


def test_grub2_steps_1_point_per_interval_while_hello_steps_10(
    make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> None:
    start = DEMO_NOW
    scenario = archive(
        upload("hello", "2.10-3ubuntu0.1", "2.10-3", 10, start - DAY),
        upload("grub2", "2.12-1ubuntu7.1", "2.12-1ubuntu7", 10, start - DAY),
    )
    engine = engine_for(make_launchpad, errortracker, tmp_path, scenario, start)
    seen = []
    for _ in range(3):
        assert engine.run() == 0
        seen.append(levels(engine))
        engine.later(6)
    assert seen == [
        {"hello": ("advance", 20), "grub2": ("advance", 11)},
        {"hello": ("advance", 30), "grub2": ("advance", 12)},
        {"hello": ("advance", 40), "grub2": ("advance", 13)},
    ]
    assert set(engine.percentages("noble", "grub2", "2.12-1ubuntu7.1").values()) == {13}
    grub2, hello = engine.package("grub2"), engine.package("hello")
    assert (grub2["class"], grub2["class_step"], grub2["class_interval"]) == ("slow", 1, "6h")
    assert (hello["class"], hello["class_step"]) == ("normal", 10)
    # Its forecast is at its own pace: 87 more points, one every 6h.
    assert grub2["expected_completion"] == (engine.now - timedelta(hours=6) + 87 * timedelta(
        hours=6)).isoformat()  # fmt: skip
    page = (engine.report_dir / "index.html").read_text(encoding="utf-8")
    assert "class slow: 1 point every 6h" in page


# -- the weekend freeze ----------------------------------------------------------------------


def test_an_update_at_90_does_not_complete_on_friday_and_completes_in_the_monday_1200_run(
    make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> None:
    scenario = archive(upload("zed", "0.9-1ubuntu0.1", "0.9-1", 90, THURSDAY_18))
    engine = engine_for(
        make_launchpad,
        errortracker,
        tmp_path,
        scenario,
        THURSDAY_18 + timedelta(hours=6),  # Friday 00:00: the freeze starts
        'freeze_windows = ["Fri 00:00-Mon 12:00"]\n',
    )
    for hours in (0, 6, 36, 54):  # Friday 00:00 and 06:00, Saturday 12:00, Monday 06:00
        engine.now = THURSDAY_18 + timedelta(hours=6 + hours)
        assert engine.run() == 0
        zed = engine.package("zed")
        assert (zed["action"], zed["state"], zed["percentage"]) == ("wait", "phasing", 90)
        assert "completes after Mon 12:00 UTC" in zed["reason"]
        assert zed["next_step_at"] == "2025-03-17T12:00:00+00:00"
        assert zed["expected_completion"] == "2025-03-17T12:00:00+00:00"
        assert set(engine.percentages("noble", "zed", "0.9-1ubuntu0.1").values()) == {90}
    report = engine.report()
    assert report["freeze_windows"] == ["Fri 00:00-Mon 12:00"]
    page = (engine.report_dir / "index.html").read_text(encoding="utf-8")
    assert "completes after Mon 12:00 UTC" in page
    assert "freeze window <strong>Fri 00:00-Mon 12:00 (no update completes)</strong>" in page

    engine.now = datetime(2025, 3, 17, 12, 0, tzinfo=UTC)
    assert engine.run() == 0
    zed = engine.package("zed")
    assert (zed["action"], zed["state"], zed["percentage"]) == ("advance", "complete", 100)
    assert set(engine.percentages("noble", "zed", "0.9-1ubuntu0.1").values()) == {None}


# -- reminders -------------------------------------------------------------------------------


def reminders(server: SmtpServer) -> list[tuple[str, list[str]]]:
    found = []
    for received in server.received:
        message = message_from_bytes(received.data, policy=policy.default)
        # A subject that fits on a line of its own is folded whole onto the next one,
        # so it reads back with the fold's space in front.
        subject = str(message["Subject"]).strip()
        if "still stopped" in subject:
            found.append((subject, sorted(received.rcpt_tos)))
    return found


def test_a_reminder_is_sent_once_after_7_days_and_not_again_for_7_more_across_a_restart(
    make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> None:
    demo_errors(errortracker)
    libfoo = f"Phasing of libfoo {CRASHING_UPDATE.version} in noble-updates still stopped after"
    cc = "sru@lists.example"
    with SmtpServer() as server:
        mail = ["--smtp-host", "127.0.0.1", "--smtp-port", str(server.port)]
        mail += ["--mail-from", "phaser@ubuntu.example", "--mail-cc", cc]
        engine = engine_for(make_launchpad, errortracker, tmp_path, demo(), DEMO_NOW)
        engine.options += mail
        assert engine.run() == 0  # libfoo and cryptkit stop; their stops are mailed
        assert reminders(server) == []
        for hours in (6, 72, 7 * 24 - 1):
            engine.now = DEMO_NOW + timedelta(hours=hours)
            assert engine.run() == 0
        assert reminders(server) == []
        # A dry run previews the reminders it would send, and sends nothing.
        engine.now = DEMO_NOW + 7 * DAY
        assert engine.run("--dry-run", "--mail-preview-dir", str(tmp_path / "preview")) == 0
        previews = sorted(p.name for p in (tmp_path / "preview").glob("*reminder*.eml"))
        assert previews == [
            "jammy_gizmo_1.0-2ubuntu0.1_reminder-1.eml",
            "noble_cryptkit_3.0.13-0ubuntu3.2_reminder-1.eml",
            "noble_libfoo_1.2-1ubuntu0.2_reminder-1.eml",
        ]
        assert reminders(server) == []
        assert engine.run() == 0  # seven days after the stop
        # Each automatic stop still unresolved: its signer, creator and the Cc list.
        assert sorted(reminders(server)) == [
            (
                "Phasing of cryptkit 3.0.13-0ubuntu3.2 in noble-updates still stopped after 7 days",
                [cc],
            ),
            (
                "Phasing of gizmo 1.0-2ubuntu0.1 in jammy-updates still stopped after 7 days",
                ["alice@example.com", cc],
            ),
            (f"{libfoo} 7 days", ["bob@example.com", "carol@example.com", cc]),
        ]
        body = next(
            message_from_bytes(r.data, policy=policy.default)
            for r in server.received
            if b"Phasing of libfoo 1.2-1ubuntu0.2 in noble-updates still" in r.data
        )
        text = " ".join(body.get_content().split())
        assert "has been stopped for 7 days, since 2025-03-10 12:00 UTC (it was at 30%)" in text
        assert "Still not overridden:" in text
        engine.now += timedelta(hours=6)
        assert engine.run() == 0
    assert len(reminders(server)) == 3

    # A restart: a new process, a new relay connection; the same state database.
    with SmtpServer() as server:
        mail[3] = str(server.port)
        again = Engine(engine.launchpad, errortracker, tmp_path, engine.now)
        again.options += mail
        for day in (10, 13, 14 - 1 / 24):
            again.now = DEMO_NOW + day * DAY
            assert again.run() == 0
        assert reminders(server) == []
        again.now = DEMO_NOW + 14 * DAY
        assert again.run() == 0
        assert sorted(subject for subject, _ in reminders(server)) == [
            "Phasing of cryptkit 3.0.13-0ubuntu3.2 in noble-updates still stopped after 14 days",
            "Phasing of gizmo 1.0-2ubuntu0.1 in jammy-updates still stopped after 14 days",
            f"{libfoo} 14 days",
        ]


# -- groups ----------------------------------------------------------------------------------

BOOT = '[groups]\nboot = { sources = ["shim-signed", "grub2-signed"], class = "normal" }\n'
SHIM = ("noble", "shim-signed", "1.58+15.8-0ubuntu1")
GRUB = ("noble", "grub2-signed", "1.202+2.12-1ubuntu7.1")


@pytest.fixture
def boot(make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path) -> Engine:
    scenario = archive(
        upload(SHIM[1], SHIM[2], "1.57+15.7-0ubuntu1", 10, DEMO_NOW - DAY),
        upload(GRUB[1], GRUB[2], "1.201+2.12-1ubuntu7", 10, DEMO_NOW - DAY),
    )
    return engine_for(make_launchpad, errortracker, tmp_path, scenario, DEMO_NOW, BOOT)


def debs(engine: Engine, update: tuple[str, str, str]) -> set[int | None]:
    return set(engine.percentages(*update).values())


def test_two_grouped_sources_step_together_and_one_holds_while_the_other_is_stopped(
    boot: Engine, errortracker: ErrorTrackerDouble
) -> None:
    for level in (20, 30):
        assert boot.run() == 0
        assert levels(boot) == {
            "shim-signed": ("advance", level),
            "grub2-signed": ("advance", level),
        }
        assert debs(boot, SHIM) == debs(boot, GRUB) == {level}
        boot.later(6)
    shim = boot.package("shim-signed")
    assert (shim["group"], shim["class"]) == ("boot", "normal")
    assert "moves with its group boot to 30%" in shim["reason"]

    # shim-signed crashes: it stops at 0; grub2-signed is held at its level, not at 0.
    crash = "https://errors.ubuntu.com/problem/" + "5" * 40
    errortracker.new_buckets[(SHIM[1], "1.57+15.7-0ubuntu1", SHIM[2])] = [
        {"function": "shim_boot()", "web_link": crash}
    ]
    for _ in range(3):
        assert boot.run() == 0
        assert levels(boot)["shim-signed"][1] == 0
        grub = boot.package("grub2-signed")
        assert (grub["action"], grub["state"], grub["percentage"]) == ("group-hold", "phasing", 30)
        assert grub["reason"].startswith("held: shim-signed stopped")
        assert debs(boot, GRUB) == {30} and debs(boot, SHIM) == {0}
        boot.later(6)
    page = (boot.report_dir / "index.html").read_text(encoding="utf-8")
    assert "held: shim-signed stopped" in page
    assert "group boot, with shim-signed 0% (stopped)" in page

    # Overridden: shim-signed resumes at its peak and rejoins; the group steps on together.
    boot.overrides.write_text(f"{SHIM[1]}, {SHIM[2]}, {crash}\n", encoding="utf-8")
    boot.options += ["--overrides", str(boot.overrides)]
    assert boot.run() == 0
    assert levels(boot) == {"shim-signed": ("resume", 30), "grub2-signed": ("wait", 30)}
    assert "shim-signed resumes to 30% in this run" in boot.package("grub2-signed")["reason"]
    boot.later(6)
    assert boot.run() == 0
    assert levels(boot) == {"shim-signed": ("advance", 40), "grub2-signed": ("advance", 40)}
    assert debs(boot, SHIM) == debs(boot, GRUB) == {40}


def test_a_member_launchpad_cannot_read_is_not_evaluated_and_the_others_wait(boot: Engine) -> None:
    # Its binaries come from the pocket's listing; its history lookup is its own.
    boot.launchpad.faults.append(Fault("GET", r'source_name="shim-signed"'))
    assert boot.run() == 1
    report = boot.report()
    assert [(n["source"], "cannot read from Launchpad" in n["error"]) for n in
            report["not_evaluated"]] == [("shim-signed", True)]  # fmt: skip
    grub = boot.package("grub2-signed")
    assert (grub["action"], grub["percentage"]) == ("wait", 10)
    assert "shim-signed was not evaluated in this run" in grub["reason"]
    assert debs(boot, GRUB) == debs(boot, SHIM) == {10}
    boot.later(6)  # the fault was a one-off: both are read, and step together
    assert boot.run() == 0
    assert levels(boot) == {"shim-signed": ("advance", 20), "grub2-signed": ("advance", 20)}


def test_a_group_costs_no_more_launchpad_requests_than_its_members_alone(
    make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> None:
    counts = {}
    for name, config in (("alone", ""), ("grouped", BOOT.replace('"normal"', '"slow"'))):
        scenario = archive(
            upload(SHIM[1], SHIM[2], "1.57+15.7-0ubuntu1", 10, DEMO_NOW - DAY),
            upload(GRUB[1], GRUB[2], "1.201+2.12-1ubuntu7", 10, DEMO_NOW - DAY),
        )
        home = tmp_path / name
        home.mkdir()
        engine = engine_for(make_launchpad, errortracker, home, scenario, DEMO_NOW, config)
        seen = []
        for hours in (0, 1, 6, 7):  # steps, then runs inside the interval that reuse reads
            engine.now = DEMO_NOW + timedelta(hours=hours)
            engine.launchpad.reset_requests()
            assert engine.run() == 0
            seen.append(len(engine.launchpad.requests))
            engine.launchpad.publish()
        counts[name] = seen
        assert levels(engine) == {"shim-signed": ("wait", 12), "grub2-signed": ("wait", 12)}
    # One worker decides a group's members, through one client: no more logins than
    # for one update (measured: 17, 11, 15, 11 grouped against 20, 14, 18, 14 alone).
    assert all(g <= a for g, a in zip(counts["grouped"], counts["alone"], strict=True)), counts
