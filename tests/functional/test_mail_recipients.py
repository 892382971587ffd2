"""Person lookups through the real launchpadlib against the Launchpad double."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from launchpadlib.credentials import AccessToken, Credentials
from launchpadlib.launchpad import Launchpad

from phased_updater.mail.message import Recipient
from phased_updater.mail.recipients import resolve
from phased_updater.sources.people import LookupFailed, PersonDirectory
from tests.doubles.launchpad import Fault, LaunchpadDouble

CONSUMER, TOKEN, SECRET = "phased-updater", "people-token", "people-secret"


@pytest.fixture
def lp(launchpad: LaunchpadDouble, tmp_path: Path) -> Any:
    launchpad.add_token(CONSUMER, TOKEN, SECRET, admin=False)
    credentials = Credentials(CONSUMER, access_token=AccessToken(TOKEN, SECRET))
    return Launchpad(
        credentials,
        None,
        None,
        service_root=launchpad.service_root,
        version="devel",
        cache=str(tmp_path / "cache"),
        proxy_info=None,
    )


def link(launchpad: LaunchpadDouble, name: str) -> str:
    return f"{launchpad.api_base}~{name}"


def test_the_demo_people_follow_the_rules(launchpad: LaunchpadDouble, lp: Any) -> None:
    people = PersonDirectory(lp)

    def who(signer: str | None, creator: str | None) -> tuple[Any, ...]:
        found = resolve(
            people,
            link(launchpad, signer) if signer else None,
            link(launchpad, creator) if creator else None,
        )
        return found.to, found.skipped

    assert who("bob", "carol") == (
        (
            Recipient("Bob Sponsor", "bob@example.com"),
            Recipient("Carol Contributor", "carol@example.com"),
        ),
        (),
    )
    assert who(None, "frank") == (
        (Recipient("Frank Debian", "frank@debian.example"),),
        ("signer: none (a Debian sync)",),
    )
    assert who("katie", "erin") == (
        (),
        ("signer ~katie: a robot account", "creator ~erin: an inactive account"),
    )
    assert who("dave", "dave") == (
        (),
        ("signer ~dave: the address is hidden", "creator ~dave: the address is hidden"),
    )
    assert who("alice", "alice")[0] == (Recipient("Alice Developer", "alice@example.com"),)


def test_each_person_is_loaded_once(launchpad: LaunchpadDouble, lp: Any) -> None:
    people = PersonDirectory(lp)
    launchpad.reset_requests()
    for _ in range(3):
        resolve(people, link(launchpad, "bob"), link(launchpad, "bob"))
    assert launchpad.count("GET", "/~bob") == 2  # the person and the address
    assert people.requests == 2


def test_an_anonymous_viewer_sees_no_address(launchpad: LaunchpadDouble, tmp_path: Path) -> None:
    anonymous = Launchpad.login_anonymously(
        "phased-updater",
        service_root=launchpad.service_root,
        version="devel",
        launchpadlib_dir=str(tmp_path / "anon"),
        proxy_info=None,
    )
    found = resolve(PersonDirectory(anonymous), link(launchpad, "bob"), None)
    assert found.to == ()
    assert found.skipped == ("signer ~bob: the address is hidden", "creator: none")


def test_a_person_gone_from_launchpad_is_skipped(launchpad: LaunchpadDouble, lp: Any) -> None:
    found = resolve(PersonDirectory(lp), link(launchpad, "nobody-here"), link(launchpad, "carol"))
    assert found.skipped == ("signer ~nobody-here: not found in Launchpad",)
    assert [r.address for r in found.to] == ["carol@example.com"]


def test_a_launchpad_failure_is_reported_for_a_retry(launchpad: LaunchpadDouble, lp: Any) -> None:
    launchpad.faults.append(Fault(path_regex=r"/~carol", status=500, times=None))
    people = PersonDirectory(lp)
    launchpad.reset_requests()
    for _ in range(2):
        with pytest.raises(LookupFailed, match="cannot look up ~carol"):
            resolve(people, link(launchpad, "bob"), link(launchpad, "carol"))
    # Not asked again in the same run: the next run will.
    assert launchpad.count("GET", "/~carol") == 1
