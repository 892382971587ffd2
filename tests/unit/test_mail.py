"""Composing the stop email: key, subject, body, headers. Pure: no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phased_updater.mail import message as mail
from phased_updater.model import CrashCheck, Problem, ProblemKind
from phased_updater.overrides import Overrides
from phased_updater.policy import decide
from phased_updater.report.anchors import update_anchor
from phased_updater.text import one_line
from tests.unit.factories import T0, binary, update

CRASH = Problem(ProblemKind.NEW_CRASH, "https://errors.ubuntu.com/problem/abc", "foo_parse()")
RATE = Problem(
    ProblemKind.INCREASED_RATE,
    "https://errors.ubuntu.com/?package=foo&version=1.2-3ubuntu0.1",
    evidence={"difference": 4.25, "previous_average": 1.5, "previous_period_in_days": 10},
)
OLD = Problem(
    ProblemKind.NEW_CRASH, "https://errors.ubuntu.com/problem/old", "old_crash()", overridden=True
)
SENDER = "phaser@ubuntu.example"


def stop(*problems: Problem, version: str = "1.2-3ubuntu0.1") -> mail.Stop:
    return mail.Stop("jammy", "foo", version, "1.2-3", 30, problems or (CRASH,))


def message(
    s: mail.Stop, to: tuple[mail.Recipient, ...] = (), report_url: str | None = None
) -> bytes:
    built = mail.build_message(
        key=s.key,
        subject_text=mail.subject(s),
        body_text=mail.body(s, report_url),
        sender=SENDER,
        to=to or (mail.Recipient("Alice Developer", "alice@example.com"),),
        cc=(mail.Recipient("", "sru@lists.example"),),
        date=T0,
    )
    return built.as_bytes()


def test_a_stop_decision_gives_the_stop_it_mails_about() -> None:
    u = update(binary(percentage=30))
    decision = decide(u, CrashCheck((CRASH,)), Overrides(), None, T0, 10, timedelta(hours=6))
    s = mail.Stop.of(u, decision)
    assert (s.series, s.source, s.version, s.stopped_at) == ("jammy", "foo", "1.2-3ubuntu0.1", 30)
    assert s.remaining == (CRASH,)
    assert mail.subject(s) == "Phasing of foo 1.2-3ubuntu0.1 in jammy-updates stopped"


def test_the_key_names_the_set_of_problems_not_their_order_or_spelling() -> None:
    http = replace(CRASH, url="http://errors.ubuntu.com/problem/abc/")
    assert stop(CRASH, RATE).key == stop(RATE, http).key
    assert stop(CRASH, RATE).key != stop(CRASH).key
    # Overridden problems did not cause the stop, so they do not change the key.
    assert stop(CRASH, OLD).key == stop(CRASH).key
    assert stop(CRASH).key.startswith("jammy/foo/1.2-3ubuntu0.1/")
    assert stop(CRASH).key != stop(CRASH, version="1.2-3ubuntu0.2").key


def test_the_body_says_where_it_stopped_why_and_what_to_do() -> None:
    text = mail.body(stop(CRASH, RATE, OLD), "https://ubuntu.example/phasing/")
    assert "was stopped at 30%" in text
    assert "New crash: foo_parse()" in text and CRASH.url in text
    assert "4.25 more crashes today" in text and "averaged 1.5 a day over 10 days" in text
    assert "Already overridden" in text and "old_crash()" in text and OLD.url in text
    assert "ubuntu-sru" in text and "follow-up upload" in text
    assert f"    foo, 1.2-3ubuntu0.1, {CRASH.url}\n" in text
    assert "    foo, 1.2-3ubuntu0.1, increased-rate\n" in text
    # The overridden problem needs no override line.
    assert f"foo, 1.2-3ubuntu0.1, {OLD.url}" not in text
    assert "https://ubuntu.example/phasing/#u-jammy__foo__1.2-3ubuntu0.1" in text
    assert all(len(line) <= 80 for line in text.splitlines() if "://" not in line)


def test_a_rate_without_a_baseline_says_so() -> None:
    rate = replace(RATE, evidence={"difference": 3, "previous_average": None})
    assert "no crash data to compare with" in mail.body(stop(rate))


def test_the_report_anchor_keeps_the_version_and_the_link_quotes_it() -> None:
    assert update_anchor("jammy", "foo", "1:2.0~rc1-1") == "u-jammy__foo__1_3a2.0_7erc1-1"
    link = mail.report_link("https://r.example/p/index.html#top", "jammy", "foo", "1:2.0~rc1-1")
    assert link == "https://r.example/p/index.html#u-jammy__foo__1_3a2.0_7erc1-1"
    assert mail.report_link(None, "jammy", "foo", "1") is None


def test_headers_are_complete_and_the_message_id_is_stable() -> None:
    s = stop()
    first = message_from_bytes(message(s), policy=policy.SMTP)
    again = message_from_bytes(message(s), policy=policy.SMTP)
    # A long Message-ID may be folded onto a continuation line: compare it unfolded.
    assert first["Message-ID"].strip() == again["Message-ID"].strip()
    assert first["Message-ID"].strip() == mail.message_id(s.key, SENDER)
    assert first["Message-ID"].strip().endswith("@ubuntu.example>")
    assert mail.message_id(stop(CRASH, RATE).key, SENDER) != first["Message-ID"]
    assert first["Date"] == "Mon, 02 Nov 2026 06:00:00 +0000"
    assert first["Auto-Submitted"] == "auto-generated"
    assert first["Precedence"] == "bulk"
    assert first["To"] == "Alice Developer <alice@example.com>"
    assert first["Cc"] == "sru@lists.example"
    assert first["Subject"] == mail.subject(s)


def test_the_message_is_seven_bit_with_crlf_line_ends() -> None:
    hostile = replace(CRASH, signature="naïve_parse() → ☠")
    data = message(stop(hostile), to=(mail.Recipient("Zoë Ubuntu", "zoe@example.com"),))
    assert data.isascii()
    assert b"\n" not in data.replace(b"\r\n", b"")
    parsed = message_from_bytes(data, policy=policy.SMTP)
    assert parsed["To"] == "Zoë Ubuntu <zoe@example.com>"
    content = parsed.get_body().get_content()  # type: ignore[union-attr]
    assert "naïve_parse() → ☠" in content


@pytest.mark.parametrize(
    "name",
    [
        "Mallory\r\nBcc: victim@evil.example",
        "Mallory\nSubject: pwned",
        "Mallory\u2028Bcc: victim@evil.example",
        "Mallory\x85Bcc: victim@evil.example",
        'Mallory" <victim@evil.example>, "x',
        # Python 3.11's email package would decode this into a real Bcc line.
        "=?utf-8?q?Mallory=0D=0ABcc=3A_victim=40evil=2Eexample?=",
    ],
)
def test_a_display_name_cannot_add_a_header_or_a_recipient(name: str) -> None:
    hostile = replace(CRASH, signature="f()\r\n\r\n.\r\nMAIL FROM:<x@evil.example>")
    data = message(stop(hostile), to=(mail.Recipient(name, "mallory@example.com"),))
    parsed = message_from_bytes(data, policy=policy.SMTP)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == mail.subject(stop())
    [address] = parsed["To"].addresses
    assert address.addr_spec == "mallory@example.com"
    # The signature is flattened to one line of the body.
    assert "f() . MAIL FROM:<x@evil.example>" in parsed.get_body().get_content()  # type: ignore[union-attr]


@given(st.text(max_size=200))
def test_one_line_never_leaves_a_line_break(text: str) -> None:
    flat = one_line(text)
    assert flat.splitlines() == ([flat] if flat else [])
    assert flat == flat.strip()


@pytest.mark.parametrize(
    ("address", "usable"),
    [
        ("alice@example.com", True),
        ("a.b+c@sub.example.org", True),
        ("alice@localhost", False),
        ("alice", False),
        ("alice@exa mple.com", False),
        ("alice@example.com\r\nBcc: x@y.z", False),
        ("<alice@example.com>", False),
        ("zoë@example.com", False),
        ("a@b.c, d@e.f", False),
    ],
)
def test_only_plain_addresses_are_usable(address: str, usable: bool) -> None:
    assert mail.is_usable_address(address) is usable


def test_a_preview_file_name_is_a_plain_name_per_key() -> None:
    s = mail.Stop("jammy/../x", "foo", "1:2~rc1", None, 10, (CRASH,))
    assert "/" not in s.file_name and s.file_name.endswith(".eml")
    assert s.file_name.startswith("jammy-..-x_foo_1:2~rc1_")
    assert stop(CRASH).file_name != stop(CRASH, RATE).file_name


def test_the_date_is_the_one_given() -> None:
    moment = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    built = mail.build_message(
        key="k",
        subject_text="s",
        body_text="b\n",
        sender=SENDER,
        to=(mail.Recipient("", "a@example.com"),),
        cc=(),
        date=moment,
    )
    assert built["Date"] == "Mon, 10 Mar 2025 12:00:00 +0000"


def test_an_encoded_word_in_the_subject_stays_text() -> None:
    s = mail.Stop("=?utf-8?q?x=0D=0ABcc=3A_v=40evil=2Eexample?=", "foo", "1", None, 10, (CRASH,))
    data = message(s)
    parsed = message_from_bytes(data, policy=policy.SMTP)
    assert parsed["Bcc"] is None
    assert b"\r\nBcc:" not in data
