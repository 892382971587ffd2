"""People on Launchpad: the signer and creator links of an upload, resolved to persons.

`PersonDirectory` resolves a person link to a `Person` at most once per run (two
requests: the person, then their preferred address). Who of them gets mail is decided
in `mail/recipients.py`, from the `Person` values alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lazr.restfulclient.errors import NotFound

from phased_updater.errors import error_text
from phased_updater.sources.launchpad import (
    LAUNCHPAD_ERRORS,
    Connection,
    connect,
)
from phased_updater.text import one_line

# What Launchpad shows in place of an address the viewer may not see.
REDACTED = "tag:launchpad.net:2008:redacted"

# Makes the run's directory on the calling thread; the mail session calls it at most
# once per run, and only when a message needs its recipients.
DirectoryFactory = Callable[[], "PersonDirectory"]


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
            return Person(link, name_from_link(link), "", False, None, missing=True)
        except LAUNCHPAD_ERRORS as error:
            raise LookupFailed(
                f"cannot look up ~{name_from_link(link)}: {error_text(error)}"
            ) from error
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
        except LAUNCHPAD_ERRORS as error:
            raise LookupFailed(
                f"cannot look up ~{name_from_link(link)}: {error_text(error)}"
            ) from error
        return replace(person, email=str(address) if address else None)


def name_from_link(link: str) -> str:
    """The account name in a person link, for a person we could not load."""
    last = link.rstrip("/").rpartition("/")[2]
    return one_line(last.removeprefix("~"), 80) if last.startswith("~") else "?"


def directory_factory(connection: Connection) -> DirectoryFactory:
    """What the mail session is given: a directory on a client of its own, made on demand.

    Raises LaunchpadFailure (when called) if Launchpad cannot be reached.
    """
    return lambda: PersonDirectory(connect(connection))
