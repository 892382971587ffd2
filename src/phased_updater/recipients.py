"""Who is told about a stop: the upload's signer and creator, looked up in Launchpad.

`PersonDirectory` resolves a person link to a `Person` at most once per run (two
requests: the person, then their preferred address); `choose` applies the rules that
decide who gets mail, and says why everyone else does not. The rules are pure, so they
are tested without Launchpad.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import httplib2
from lazr.restfulclient.errors import HTTPError, NotFound

from phased_updater.launchpad import LaunchpadFailure
from phased_updater.mail import Recipient, is_usable_address, one_line

# Launchpad's archive robots: they sign syncs and copies, nobody reads their mail.
ROBOTS = frozenset({"katie", "ubuntu-archive-robot"})
# What Launchpad shows in place of an address the viewer may not see.
REDACTED = "tag:launchpad.net:2008:redacted"


class LookupFailed(Exception):
    """Launchpad could not be asked: try again on a later run."""


@dataclass(frozen=True)
class Person:
    link: str
    name: str
    display_name: str
    is_valid: bool
    email: str | None  # None: no address, or one the viewer may not see
    email_hidden: bool = False
    missing: bool = False  # the link points to no person (a merged or deleted account)


@dataclass(frozen=True)
class Recipients:
    to: tuple[Recipient, ...]
    skipped: tuple[str, ...]  # why each other person gets nothing; no addresses in here


class PersonDirectory:
    """Person lookups through one launchpadlib client, each link at most once."""

    def __init__(self, lp: Any) -> None:
        self.lp = lp
        # A failure is remembered too: launchpadlib already retried it with back-off.
        self._people: dict[str, Person | LookupFailed] = {}
        self.requests = 0

    def person(self, link: str) -> Person:
        known = self._people.get(link)
        if known is None:
            try:
                known = self._look_up(link)
            except LookupFailed as failure:
                known = failure
            self._people[link] = known
        if isinstance(known, LookupFailed):
            raise known
        return known

    def _load(self, link: str) -> Any:
        self.requests += 1
        return self.lp.load(link)

    def _look_up(self, link: str) -> Person:
        try:
            entry = self._load(link)
        except NotFound:
            return Person(link, _name_from_link(link), "", False, None, missing=True)
        except (HTTPError, httplib2.HttpLib2Error, OSError, LaunchpadFailure) as error:
            raise LookupFailed(f"cannot look up ~{_name_from_link(link)}: {error}") from error
        try:
            name = str(entry.name)
            email_link = entry.preferred_email_address_link
            person = Person(link, name, str(entry.display_name or name), bool(entry.is_valid), None)
            if email_link == REDACTED:
                return replace(person, email_hidden=True)
            if not email_link:
                return person
            address = self._load(str(email_link)).email
        except NotFound:
            return person
        except (HTTPError, httplib2.HttpLib2Error, OSError, LaunchpadFailure) as error:
            raise LookupFailed(f"cannot look up ~{_name_from_link(link)}: {error}") from error
        return replace(person, email=str(address) if address else None)


def _name_from_link(link: str) -> str:
    """The account name in a person link, for a person we could not load."""
    last = link.rstrip("/").rpartition("/")[2]
    return one_line(last.removeprefix("~"), 80) if last.startswith("~") else "?"


def _why_not(person: Person, robots: frozenset[str]) -> str | None:
    who = f"~{one_line(person.name, 80)}"
    if person.missing:
        return f"{who}: not found in Launchpad"
    if person.name in robots:
        return f"{who}: a robot account"
    if not person.is_valid:
        return f"{who}: an inactive account"
    if person.email_hidden:
        return f"{who}: the address is hidden"
    if person.email is None:
        return f"{who}: no preferred address"
    if not is_usable_address(person.email):
        return f"{who}: the address is not usable"
    return None


def choose(
    signer: Person | None, creator: Person | None, extra_robots: Iterable[str] = ()
) -> Recipients:
    """The signer and the creator, each distinct address once, and why others are left out.

    `signer` None is a Debian sync (nobody signed it in Ubuntu); `creator` None is an
    upload Launchpad records no creator for.
    """
    robots = ROBOTS | frozenset(extra_robots)
    to: list[Recipient] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for role, person in (("signer", signer), ("creator", creator)):
        if person is None:
            skipped.append("signer: none (a Debian sync)" if role == "signer" else f"{role}: none")
            continue
        reason = _why_not(person, robots)
        if reason is not None or person.email is None:
            skipped.append(f"{role} {reason}")
            continue
        if person.email.lower() not in seen:
            seen.add(person.email.lower())
            to.append(Recipient(person.display_name or person.name, person.email))
    return Recipients(tuple(to), tuple(skipped))


def resolve(
    directory: PersonDirectory,
    signer_link: str | None,
    creator_link: str | None,
    extra_robots: Iterable[str] = (),
) -> Recipients:
    """`choose` for two person links; raises LookupFailed when Launchpad cannot answer."""
    signer = directory.person(signer_link) if signer_link else None
    creator = directory.person(creator_link) if creator_link else None
    return choose(signer, creator, extra_robots)
