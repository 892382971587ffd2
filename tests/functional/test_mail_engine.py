"""Stop emails end to end: `phased-updater run` against the Launchpad and Error Tracker
doubles (real launchpadlib, real requests) and a real SMTP server, all on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from phased_updater import cli
from phased_updater.config import Settings
from phased_updater.mail import outbox
from phased_updater.mail import session as mailing
from phased_updater.mail.outbox import Status
from phased_updater.store import Store
from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import Fault, LaunchpadDouble, write_credentials_file
from tests.doubles.scenario import Person
from tests.doubles.scenarios import (
    CRASHING_SIGNATURE,
    CRASHING_UPDATE,
    DEMO_NOW,
    OVERRIDDEN_UPDATE,
    demo,
    demo_errors,
)
from tests.functional.conftest import MakeLaunchpad
from tests.functional.mail_previews import describe
from tests.functional.smtp_server import SmtpServer, free_port

CONSUMER, TOKEN, SECRET = "phased-updater", "mail-token", "mail-secret"
SENDER = "phaser@ubuntu.example"
SRU_LIST = "sru@lists.example"
HOUR = timedelta(hours=1)
SECOND_CRASH = "https://errors.ubuntu.com/problem/feed" + "0" * 36


@dataclass
class Phaser:
    """Runs `phased-updater run` against the doubles, with a fresh --now each time."""

    launchpad: LaunchpadDouble
    errors: ErrorTrackerDouble
    directory: Path

    @property
    def state(self) -> Path:
        return self.directory / "state" / "state.sqlite3"

    def run(self, now: datetime, *extra: str) -> int:
        self.launchpad.clock = now
        credentials = self.directory / "secrets" / "credentials"
        write_credentials_file(credentials, CONSUMER, TOKEN, SECRET)
        return cli.main(
            [
                "run",
                "--launchpad",
                self.launchpad.service_root,
                "--credentials",
                str(credentials),
                "--errors-url",
                self.errors.base_url,
                "--state",
                str(self.state),
                "--now",
                now.isoformat(),
                "--mail-from",
                SENDER,
                *extra,
            ]
        )

    def deliveries(self) -> list[outbox.Delivery]:
        store = Store.open(self.state)
        try:
            return outbox.deliveries(store)
        finally:
            store.close()


def smtp(server: SmtpServer) -> tuple[str, ...]:
    return ("--smtp-host", "127.0.0.1", "--smtp-port", str(server.port))


@pytest.fixture
def phaser(
    make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> Iterator[Phaser]:
    scenario = demo()
    # Someone whose display name tries to add a header and a recipient.
    scenario.people.append(
        Person("mallory", "Mallory\r\nBcc: victim@evil.example", "mallory@example.com")
    )
    for upload in scenario.uploads:
        if upload.source == OVERRIDDEN_UPDATE.source:
            upload.creator = "mallory"
    launchpad = make_launchpad(scenario, clock=DEMO_NOW)
    launchpad.add_token(CONSUMER, TOKEN, SECRET, admin=True)
    demo_errors(errortracker)
    yield Phaser(launchpad, errortracker, tmp_path)


def by_subject(server: SmtpServer) -> dict[str, list[str]]:
    return {r.message["Subject"]: sorted(r.rcpt_tos) for r in server.received}


LIBFOO = "Phasing of libfoo 1.2-1ubuntu0.2 in noble-updates stopped"
CRYPTKIT = "Phasing of cryptkit 3.0.13-0ubuntu3.2 in noble-updates stopped"
GIZMO = "Phasing of gizmo 1.0-2ubuntu0.1 in jammy-updates stopped"


def test_each_stop_mails_its_signer_and_creator_once(phaser: Phaser) -> None:
    with SmtpServer() as server:
        assert phaser.run(DEMO_NOW, *smtp(server), "--mail-cc", SRU_LIST) == 0
        assert by_subject(server) == {
            # Sponsored: the signer and the creator, plus the Cc list.
            LIBFOO: ["bob@example.com", "carol@example.com", SRU_LIST],
            # dave hides his address: only the Cc list hears of it.
            CRYPTKIT: [SRU_LIST],
            GIZMO: ["alice@example.com", "mallory@example.com", SRU_LIST],
        }
        libfoo = next(r for r in server.received if r.message["Subject"] == LIBFOO)
        assert libfoo.mail_from == SENDER
        message = libfoo.message
        assert (
            message["To"] == "Bob Sponsor <bob@example.com>, Carol Contributor <carol@example.com>"
        )
        assert message["Cc"] == SRU_LIST
        assert message["Date"] == "Mon, 10 Mar 2025 12:00:00 +0000"
        assert message["Auto-Submitted"] == "auto-generated"
        text = message.get_body().get_content()  # type: ignore[union-attr]
        assert "was stopped at 30%" in text
        assert CRASHING_SIGNATURE in text  # plain text: no escaping needed, none done
        assert f"libfoo, {CRASHING_UPDATE.version}, https://errors.ubuntu.com/problem/" in text

        # The hostile display name stayed a display name.
        gizmo = next(r for r in server.received if r.message["Subject"] == GIZMO)
        assert gizmo.message["Bcc"] is None
        assert "victim@evil.example" not in gizmo.rcpt_tos

        # Still stopped on the next runs: nothing more.
        assert phaser.run(DEMO_NOW + 6 * HOUR, *smtp(server), "--mail-cc", SRU_LIST) == 0
        assert phaser.run(DEMO_NOW + 12 * HOUR, *smtp(server), "--mail-cc", SRU_LIST) == 0
        assert len(server.received) == 3

    statuses = {(d.source, d.status) for d in phaser.deliveries()}
    assert statuses == {("libfoo", Status.SENT), ("cryptkit", Status.SENT), ("gizmo", Status.SENT)}
    cryptkit = next(d for d in phaser.deliveries() if d.source == "cryptkit")
    assert cryptkit.notes == (
        "signer ~dave: the address is hidden",
        "creator ~dave: the address is hidden",
    )


def test_persons_are_looked_up_once_per_run(phaser: Phaser) -> None:
    with SmtpServer() as server:
        phaser.launchpad.reset_requests()
        assert phaser.run(DEMO_NOW, *smtp(server)) == 0
    # alice signs and creates gizmo: her entry and her address, once each.
    assert phaser.launchpad.count("GET", "/~alice") == 2
    assert phaser.launchpad.count("GET", "/~dave") == 1  # hidden: no address to load
    # katie and erin (nettool) never stopped, so they are never looked up.
    assert phaser.launchpad.count("GET", "/~katie") == 0


def test_a_new_set_of_problems_mails_again_and_the_same_set_does_not(
    phaser: Phaser, tmp_path: Path
) -> None:
    crash = CRASHING_UPDATE
    key = (crash.source, crash.previous_version, crash.version)
    first_bucket = phaser.errors.new_buckets[key][0]
    overrides = tmp_path / "overrides.csv"
    with SmtpServer() as server:
        assert phaser.run(DEMO_NOW, *smtp(server)) == 0
        assert by_subject(server)[LIBFOO] == ["bob@example.com", "carol@example.com"]

        # The SRU team overrides the crash: phasing resumes, no mail.
        overrides.write_text(f"libfoo, {crash.version}, {first_bucket['web_link']}\n")
        assert phaser.run(DEMO_NOW + 6 * HOUR, *smtp(server), "--overrides", str(overrides)) == 0
        assert len(server.received) == 2

        # A new crash appears: it stops again, and this time the mail is about both.
        phaser.errors.new_buckets[key] = [
            first_bucket,
            {"function": "foo_free()", "web_link": SECOND_CRASH},
        ]
        assert phaser.run(DEMO_NOW + 12 * HOUR, *smtp(server), "--overrides", str(overrides)) == 0
        assert len(server.received) == 3
        text = server.received[-1].message.get_body().get_content()  # type: ignore[union-attr]
        assert "New crash: foo_free()" in text
        assert "Already overridden" in text and first_bucket["web_link"] in text

        # The override for it comes, phasing resumes; the same problem comes back: no mail.
        overrides.write_text(
            f"libfoo, {crash.version}, {first_bucket['web_link']}\n"
            f"libfoo, {crash.version}, {SECOND_CRASH}\n"
        )
        assert phaser.run(DEMO_NOW + 18 * HOUR, *smtp(server), "--overrides", str(overrides)) == 0
        overrides.write_text(f"libfoo, {crash.version}, {first_bucket['web_link']}\n")
        assert phaser.run(DEMO_NOW + 24 * HOUR, *smtp(server), "--overrides", str(overrides)) == 0
        assert len(server.received) == 3


def test_a_relay_that_was_down_gets_the_messages_on_the_next_run(phaser: Phaser) -> None:
    port = free_port()  # nothing listens there yet
    options = ("--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--mail-cc", SRU_LIST)
    assert phaser.run(DEMO_NOW, *options) == 0
    waiting = phaser.deliveries()
    assert {d.status for d in waiting} == {Status.PENDING}
    assert all(d.attempts == 1 and d.last_error for d in waiting)
    assert any("ConnectionRefusedError" in (d.last_error or "") for d in waiting)

    with SmtpServer(port=port) as server:
        assert phaser.run(DEMO_NOW + 6 * HOUR, *options) == 0
        assert len(server.received) == 3
        assert phaser.run(DEMO_NOW + 12 * HOUR, *options) == 0
        assert len(server.received) == 3
    sent = phaser.deliveries()
    assert {d.status for d in sent} == {Status.SENT}
    # Date is when the stop was decided, not when the relay came back.
    assert {r.message["Date"] for r in server.received} == {"Mon, 10 Mar 2025 12:00:00 +0000"}


def test_a_failed_person_lookup_waits_for_the_next_run(phaser: Phaser) -> None:
    phaser.launchpad.faults.append(Fault(path_regex=r"/~bob$", status=500, times=None))
    with SmtpServer() as server:
        assert phaser.run(DEMO_NOW, *smtp(server)) == 0
        assert set(by_subject(server)) == {GIZMO}  # cryptkit: nobody to tell
        libfoo = next(d for d in phaser.deliveries() if d.source == "libfoo")
        assert libfoo.status is Status.PENDING
        assert libfoo.last_error is not None and "cannot look up ~bob" in libfoo.last_error

        phaser.launchpad.faults.clear()
        assert phaser.run(DEMO_NOW + 6 * HOUR, *smtp(server)) == 0
        assert by_subject(server)[LIBFOO] == ["bob@example.com", "carol@example.com"]
        assert len(server.received) == 2


def test_with_no_relay_configured_messages_are_recorded_as_not_sent(phaser: Phaser) -> None:
    assert phaser.run(DEMO_NOW) == 0
    recorded = phaser.deliveries()
    assert {d.source for d in recorded} == {"libfoo", "cryptkit", "gizmo"}
    assert {(d.status, d.last_error) for d in recorded} == {(Status.SKIPPED, outbox.EMAIL_OFF)}
    assert mailing.email_off_reason(Settings()) == outbox.EMAIL_OFF


def test_a_dry_run_writes_previews_and_sends_nothing(phaser: Phaser, tmp_path: Path) -> None:
    preview = tmp_path / "preview"
    with SmtpServer() as server:
        assert (
            phaser.run(DEMO_NOW, *smtp(server), "--dry-run", "--mail-preview-dir", str(preview))
            == 0
        )
        assert server.received == []
    assert phaser.deliveries() == []
    files = sorted(p.name for p in preview.glob("*.eml"))
    assert len(files) == 3
    assert any(name.startswith("noble_libfoo_1.2-1ubuntu0.2_") for name in files)
    summary = describe(
        Settings(state=phaser.state, mail_preview_dir=preview, smtp_host="127.0.0.1")
    )
    assert "Bob Sponsor <bob@example.com>, Carol Contributor <carol@example.com>" in summary
    assert "not sent to signer ~dave: the address is hidden" in summary
    assert LIBFOO in summary


def test_a_preview_dir_inside_the_report_is_refused(phaser: Phaser, tmp_path: Path) -> None:
    report = tmp_path / "report"
    status = phaser.run(
        DEMO_NOW,
        "--dry-run",
        "--report-dir",
        str(report),
        "--mail-preview-dir",
        str(report / "mail"),
    )
    assert status == cli.EXIT_USAGE


def test_when_the_uploader_cannot_be_reached_every_copy_says_so(phaser: Phaser) -> None:
    """cryptkit's signer and creator hides his address: the Cc list gets it and is told."""
    replies = "phasing-replies@example.com"
    with SmtpServer() as server:
        options = ("--mail-cc", SRU_LIST, "--mail-reply-to", replies)
        prefix = ("--mail-subject-prefix", "[phased-updater]")
        assert phaser.run(DEMO_NOW, *smtp(server), *options, *prefix) == 0
        received = {" ".join(r.message["Subject"].split()): r for r in server.received}
    cryptkit = received[f"[phased-updater] {CRYPTKIT}"]
    assert sorted(cryptkit.rcpt_tos) == [SRU_LIST]
    assert cryptkit.message["Reply-To"] == replies
    text = cryptkit.message.get_body().get_content()  # type: ignore[union-attr]
    top, ending = text.split("Phasing of cryptkit", 1)[0], text.rsplit("-- ", 1)[1]
    assert "Not reached" in top and "~dave (signer and creator): the address is hidden" in top
    assert "signed or created" not in ending  # the list did neither
    assert "copies every message it sends to you" in " ".join(ending.split())
    assert "1 machine in 101" in " ".join(text.split())

    # Everyone reached: no "not reached" part, and the reason for the uploaders and the Cc.
    libfoo = received[f"[phased-updater] {LIBFOO}"]
    assert libfoo.message["Reply-To"] == replies
    libfoo_text = libfoo.message.get_body().get_content()  # type: ignore[union-attr]
    assert "Not reached" not in libfoo_text
    assert "signed or created this upload, or, in Cc," in " ".join(libfoo_text.split())
    # The report keeps the subject as composed, without the deployment's prefix.
    assert {d.subject for d in phaser.deliveries()} == {LIBFOO, CRYPTKIT, GIZMO}


def test_replies_go_to_the_cc_list_by_default(phaser: Phaser) -> None:
    with SmtpServer() as server:
        assert phaser.run(DEMO_NOW, *smtp(server), "--mail-cc", SRU_LIST) == 0
        assert {r.message["Reply-To"] for r in server.received} == {SRU_LIST}


def test_a_mail_setting_that_turns_email_off_is_an_error(
    phaser: Phaser, caplog: pytest.LogCaptureFixture
) -> None:
    with SmtpServer() as server:
        assert phaser.run(DEMO_NOW, *smtp(server), "--mail-reply-to", "not-an-address") == 0
        assert server.received == []
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert [e for e in errors if e.startswith("email cannot be sent")] == [
        "email cannot be sent: mail_reply_to 'not-an-address': not a usable address;"
        " messages stay queued"
    ]
    assert {d.status for d in phaser.deliveries()} == {Status.PENDING}
