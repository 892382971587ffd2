"""Who gets the stop email: the rules, without Launchpad."""

from __future__ import annotations

from phased_updater.mail.message import Recipient
from phased_updater.mail.recipients import choose
from phased_updater.sources.people import Person

LP = "https://api.launchpad.net/devel/"


def person(name: str, email: str | None = None, **fields: object) -> Person:
    values: dict[str, object] = {
        "link": f"{LP}~{name}",
        "name": name,
        "display_name": name.title(),
        "is_valid": True,
        "email": email if email is not None else f"{name}@example.com",
    }
    values.update(fields)
    return Person(**values)  # type: ignore[arg-type]


def test_signer_and_creator_both_get_it() -> None:
    chosen = choose(person("bob"), person("carol"))
    assert chosen.to == (
        Recipient("Bob", "bob@example.com"),
        Recipient("Carol", "carol@example.com"),
    )
    assert chosen.skipped == ()


def test_the_same_address_is_mailed_once() -> None:
    chosen = choose(person("alice"), person("alice2", "ALICE@example.com"))
    assert chosen.to == (Recipient("Alice", "alice@example.com"),)


def test_a_debian_sync_has_no_signer() -> None:
    chosen = choose(None, person("frank"))
    assert [r.address for r in chosen.to] == ["frank@example.com"]
    assert chosen.skipped == ("signer: none (a Debian sync)",)


def test_robots_inactive_hidden_and_missing_accounts_are_skipped_with_a_reason() -> None:
    assert choose(person("katie"), person("ubuntu-archive-robot")).skipped == (
        "signer ~katie: a robot account",
        "creator ~ubuntu-archive-robot: a robot account",
    )
    assert choose(person("erin", is_valid=False), None).skipped == (
        "signer ~erin: an inactive account",
        "creator: none",
    )
    hidden = Person(f"{LP}~dave", "dave", "Dave", True, None, email_hidden=True)
    assert choose(hidden, None).skipped[0] == "signer ~dave: the address is hidden"
    gone = Person(f"{LP}~gone", "gone", "", False, None, missing=True)
    assert choose(gone, None).skipped[0] == "signer ~gone: not found in Launchpad"
    nomail = Person(f"{LP}~nomail", "nomail", "No Mail", True, None)
    assert choose(nomail, None).skipped[0] == "signer ~nomail: no preferred address"


def test_configured_robots_are_skipped_too() -> None:
    chosen = choose(person("bot"), person("carol"), extra_robots=("bot",))
    assert [r.address for r in chosen.to] == ["carol@example.com"]
    assert chosen.skipped == ("signer ~bot: a robot account",)


def test_an_address_that_could_break_a_header_is_never_used() -> None:
    chosen = choose(person("mallory", "m@example.com\r\nBcc: x@evil.example"), None)
    assert chosen.to == ()
    assert chosen.skipped[0] == "signer ~mallory: the address is not usable"
    # The reason names the account, never the address.
    assert "@" not in " ".join(chosen.skipped)
