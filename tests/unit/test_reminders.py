"""Reminders of automatic stops left unresolved: timing (the clock passed in), what they
say, and at most one per update per period through the outbox, however many runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from phased_updater.config import Settings
from phased_updater.mail import outbox, reminder
from phased_updater.mail.reminder import Reminder
from phased_updater.mail.session import MailSession
from phased_updater.model import (
    CrashCheck,
    Decision,
    Halt,
    Problem,
    ProblemKind,
    Standing,
    State,
    StopRecord,
    Update,
)
from phased_updater.overrides import Overrides
from phased_updater.policy import decide
from phased_updater.sources.launchpad import LaunchpadFailure
from phased_updater.sources.people import PersonDirectory
from phased_updater.store import Store
from tests.unit.factories import T0, binary, update

WEEK = timedelta(days=7)
SIX_HOURS = timedelta(hours=6)
CRASH = Problem(
    ProblemKind.NEW_CRASH, "https://errors.ubuntu.com/problem/" + "ab" * 20, "foo_parse()"
)
RATE = Problem(ProblemKind.INCREASED_RATE, "https://errors.ubuntu.com/?package=foo")
NOT_A_DRY_RUN = Path("/nonexistent/credentials")


# -- timing ----------------------------------------------------------------------------------


def test_the_first_reminder_is_due_a_period_after_the_stop() -> None:
    assert not reminder.due(T0, None, T0 + WEEK - timedelta(seconds=1), WEEK)
    assert reminder.due(T0, None, T0 + WEEK, WEEK)
    assert reminder.due(T0, None, T0 + 3 * WEEK, WEEK)


def test_the_next_is_due_a_period_after_the_last_however_late_that_was() -> None:
    sent_late = T0 + WEEK + timedelta(days=3)  # the engine was down for three days
    assert not reminder.due(T0, sent_late, T0 + 2 * WEEK, WEEK)  # only 4 days after it
    assert reminder.due(T0, sent_late, sent_late + WEEK, WEEK)


def test_a_new_stop_counts_from_itself_not_from_an_older_stops_reminder() -> None:
    old_reminder = T0
    new_stop = T0 + timedelta(days=5)
    assert not reminder.due(new_stop, old_reminder, T0 + WEEK, WEEK)
    assert reminder.due(new_stop, old_reminder, new_stop + WEEK, WEEK)


def test_a_stop_mailed_late_is_reminded_a_period_after_its_mail() -> None:
    # A stop made 200 days ago, found on Launchpad by a fresh database and mailed now.
    stopped_long_ago, mailed = T0 - timedelta(days=200), T0
    assert not reminder.due(stopped_long_ago, mailed, T0 + timedelta(hours=6), WEEK)
    assert reminder.due(stopped_long_ago, mailed, T0 + WEEK, WEEK)


def test_zero_turns_reminders_off() -> None:
    assert not reminder.due(T0, None, T0 + 52 * WEEK, timedelta(0))


# -- what a reminder says --------------------------------------------------------------------


def stopped(check: CrashCheck) -> tuple[Update, Decision]:
    u = update(binary(percentage=0), highest=30)
    standing = Standing(StopRecord(T0, 30, (replace(CRASH, last_reported=T0),)))
    return u, decide(u, check, Overrides(), None, T0 + WEEK, 10, SIX_HOURS, standing=standing)


def test_a_reminder_says_how_long_what_is_open_and_where_to_look() -> None:
    u, d = stopped(CrashCheck((CRASH, replace(RATE, overridden=True))))
    assert d.state is State.STOPPED
    found = Reminder.of(u, d, every=WEEK, number=1, now=T0 + WEEK)
    assert found is not None
    assert (
        found.subject()
        == "Phasing of foo 1.2-3ubuntu0.1 in jammy-updates still stopped after 7 days"
    )
    body = found.body("https://phasing.example/")
    prose = " ".join(body.split())
    assert "has been stopped for 7 days, since 2026-11-02 06:00 UTC (it was at 30%)" in prose
    assert "Still not overridden:\n\n1. New crash: foo_parse()\n   " + CRASH.url in body
    assert "foo, 1.2-3ubuntu0.1, " + CRASH.url in body  # the override line to ask for
    assert "https://phasing.example/#u-jammy__foo__1.2-3ubuntu0.1" in body
    assert "sends a reminder every 7 days while the stop stays unresolved (reminder 1)" in prose
    assert "1 machine in 101" in prose and "-security" in prose
    assert found.key == "jammy/foo/1.2-3ubuntu0.1/reminder/1"


def test_a_person_s_stop_or_a_halt_or_a_phasing_update_gets_no_reminder() -> None:
    phasing = update(binary(percentage=30))
    advance = decide(phasing, CrashCheck(), Overrides(), None, T0 + WEEK, 10, SIX_HOURS)
    assert Reminder.of(phasing, advance, every=WEEK, number=1, now=T0 + WEEK) is None
    halt = Halt("jammy", "foo", "1.2-3ubuntu0.1", "breaks boot", "sru", T0)
    halted = decide(
        update(binary(percentage=0)), CrashCheck(), Overrides(), halt, T0, 10, SIX_HOURS
    )
    assert halted.state is State.HALTED
    assert reminder.stop_in_force(halted) is None


# -- through the outbox: at most one per update per period ----------------------------------


def no_launchpad() -> PersonDirectory:
    raise LaunchpadFailure("no Launchpad in unit tests")


def settings(tmp_path: Path, **values: Any) -> Settings:
    base: dict[str, Any] = {
        "state": tmp_path / "state.sqlite3",
        "credentials": NOT_A_DRY_RUN,
        "smtp_host": "127.0.0.1",
        "mail_from": "phaser@ubuntu.example",
    }
    return Settings(**(base | values))


def decide_and_queue(store: Store, config: Settings, days: float) -> None:
    """One run's decision on the stopped update, `days` after the stop, and its mail."""
    now = T0 + timedelta(days=days)
    u = update(binary(percentage=0), highest=30)
    standing = Standing(StopRecord(T0, 30, (replace(CRASH, last_reported=T0),)))
    d = decide(u, CrashCheck((CRASH,)), Overrides(), None, now, 10, SIX_HOURS, standing=standing)
    session = MailSession(config, no_launchpad, store, now)
    run_id = store.start_run(now, config.effective_dry_run, 10, SIX_HOURS)
    with store.transaction() as connection:
        store.record(run_id, now, u, d, applied=True, connection=connection)
        session.on_decision(connection, run_id, u, d, applied=True)
    if config.effective_dry_run:
        session.finish()  # writes the previews; a run that sends would look up and send


def reminders(store: Store) -> list[str]:
    return [d.subject for d in outbox.deliveries(store) if "still stopped" in d.subject]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "state.sqlite3")


def test_one_reminder_per_period_whatever_the_number_of_runs(store: Store, tmp_path: Path) -> None:
    config = settings(tmp_path)
    for day in (0.25, 1, 3, 6.99):
        decide_and_queue(store, config, day)
    assert reminders(store) == []
    for day in (7, 7, 7.25, 9, 13.99):  # a run repeated in the same second, and many after
        decide_and_queue(store, config, day)
    assert reminders(store) == [
        "Phasing of foo 1.2-3ubuntu0.1 in jammy-updates still stopped after 7 days"
    ]
    decide_and_queue(store, config, 14)
    assert len(reminders(store)) == 2
    assert reminders(store)[0].endswith("stopped after 14 days")  # newest first


def test_a_reopened_database_still_knows_the_last_reminder(store: Store, tmp_path: Path) -> None:
    config = settings(tmp_path)
    decide_and_queue(store, config, 7)
    store.close()
    again = Store.open(tmp_path / "state.sqlite3")  # a restart
    decide_and_queue(again, config, 10)
    assert len(reminders(again)) == 1


def test_reminders_off(store: Store, tmp_path: Path) -> None:
    decide_and_queue(store, settings(tmp_path, reminder_days=0), 30)
    assert reminders(store) == []


def test_a_dry_run_previews_the_reminder_and_queues_nothing(store: Store, tmp_path: Path) -> None:
    preview = tmp_path / "preview"
    config = settings(tmp_path, credentials=None, mail_preview_dir=preview)
    decide_and_queue(store, config, 7)
    assert reminders(store) == []
    [written] = preview.glob("*.eml")
    assert written.name == "jammy_foo_1.2-3ubuntu0.1_reminder-1.eml"
    message = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert (
        str(message["Subject"])
        .strip()
        .startswith("Phasing of foo 1.2-3ubuntu0.1 in jammy-updates still")
    )
    assert message["X-Phased-Updater-Preview"] == "written by a dry run, not sent"
