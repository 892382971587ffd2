"""What each copy of a message says about its readers: who was not reached, why each
reader gets it, where replies go, and what a percentage of 0 does. Pure: no I/O."""

from __future__ import annotations

from email import message_from_bytes, policy

from phased_updater.mail import message as mail
from phased_updater.mail.recipients import choose, unreached
from phased_updater.model import Problem, ProblemKind
from phased_updater.sources.people import Person
from tests.unit.factories import T0

CRASH = Problem(ProblemKind.NEW_CRASH, "https://errors.ubuntu.com/problem/abc", "foo_parse()")
STOP = mail.Stop("jammy", "foo", "1.2-3ubuntu0.1", "1.2-3", 30, (CRASH,))
UPLOADERS_WHY = "You receive this because you signed or created this upload"


def person(name: str, *, email_hidden: bool = False, is_valid: bool = True) -> Person:
    return Person(
        link=f"https://api.launchpad.net/devel/~{name}",
        name=name,
        display_name=name.title(),
        is_valid=is_valid,
        email=None if email_hidden else f"{name}@example.com",
        email_hidden=email_hidden,
    )


def prose(text: str) -> str:
    return " ".join(text.split())


def test_the_body_says_what_0_percent_does_on_the_machines() -> None:
    text = prose(mail.body(STOP))
    assert "no more machines" not in text
    assert "At 0% apt still installs it on about 1 machine in 101" in text
    assert "not yet installed an intervening -security version" in text


def test_one_person_in_both_roles_is_one_unreached_line() -> None:
    found = choose(person("dave", email_hidden=True), person("dave", email_hidden=True))
    assert found.to == ()
    assert unreached(found.skipped) == ("~dave (signer and creator): the address is hidden",)


def test_a_debian_sync_has_nobody_unreached_but_a_robot_creator_is() -> None:
    found = choose(None, person("katie"))
    assert unreached(found.skipped) == ("~katie (creator): a robot account",)
    assert unreached(choose(None, person("alice")).skipped) == ()


def test_the_cc_list_is_told_who_was_not_reached_and_why_it_gets_the_message() -> None:
    notes = ("signer ~dave: the address is hidden", "creator ~erin: an inactive account")
    text = mail.addressed(mail.body(STOP), uploaders=False, cc=True, unreached=unreached(notes))
    top = text.split("Phasing of foo", 1)[0]
    assert "Not reached" in top
    assert "~dave (signer): the address is hidden" in top
    assert "~erin (creator): an inactive account" in top
    ending = prose(text.rsplit("-- ", 1)[1])
    assert UPLOADERS_WHY not in ending
    assert "copies every message it sends to you" in ending
    assert "signer and creator could not be reached" in ending


def test_a_reached_creator_reads_why_and_who_else_was_not_reached() -> None:
    notes = ("signer ~dave: the address is hidden",)
    text = mail.addressed(mail.body(STOP), uploaders=True, cc=True, unreached=unreached(notes))
    assert text.startswith("Not reached")
    ending = prose(text.rsplit("-- ", 1)[1])
    assert UPLOADERS_WHY in ending and "in Cc, because this phaser copies" in ending


def test_everyone_reached_and_no_cc_is_the_plain_message() -> None:
    body = mail.body(STOP)
    text = mail.addressed(body, uploaders=True, cc=False, unreached=())
    assert text.startswith(body.rstrip("\n"))
    assert prose(text.rsplit("-- ", 1)[1]).startswith("phased-updater sends this automatically")
    assert prose(text).endswith(f"{UPLOADERS_WHY}.")
    assert "Not reached" not in text and "Cc" not in text


def test_a_reply_to_header_lists_each_address() -> None:
    built = mail.build_message(
        key=STOP.key,
        subject_text=mail.subject(STOP),
        body_text=mail.body(STOP),
        sender="phaser@ubuntu.example",
        to=(mail.Recipient("Alice", "alice@example.com"),),
        cc=(),
        date=T0,
        reply_to=("sru@lists.example", "ops@example.com"),
    )
    parsed = message_from_bytes(built.as_bytes(), policy=policy.SMTP)
    assert parsed["Reply-To"] == "sru@lists.example, ops@example.com"
    no_reply_to = mail.build_message(
        key=STOP.key,
        subject_text="s",
        body_text="b\n",
        sender="phaser@ubuntu.example",
        to=(mail.Recipient("Alice", "alice@example.com"),),
        cc=(),
        date=T0,
    )
    assert no_reply_to["Reply-To"] is None
