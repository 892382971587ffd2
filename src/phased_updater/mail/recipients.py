"""Who is told about a stop: the upload's signer and creator, by rules that need no I/O.

`choose` applies the rules that decide who gets mail, and says why everyone else does
not; `resolve` asks a `PersonDirectory` (sources/people.py) for the two persons first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from phased_updater.mail.message import Recipient, is_usable_address
from phased_updater.sources.people import Person, PersonDirectory
from phased_updater.text import one_line

# Launchpad's archive robots: they sign syncs and copies, nobody reads their mail.
ROBOTS = frozenset({"katie", "ubuntu-archive-robot"})
# A note `choose` writes for a person it leaves out: "signer ~dave: the address is hidden".
_LEFT_OUT = re.compile(r"(signer|creator) (~\S+): (.+)")


@dataclass(frozen=True)
class Recipients:
    to: tuple[Recipient, ...]
    skipped: tuple[str, ...]  # why each other person gets nothing; no addresses in here


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


def unreached(notes: Sequence[str]) -> tuple[str, ...]:
    """One line per person `choose` left out, for the message: "~dave (signer and
    creator): the address is hidden".

    Read back from the notes the outbox keeps, so a message queued in an earlier run
    says the same. A role nobody holds (a Debian sync's signer) is nobody unreached.
    """
    people: dict[tuple[str, str], list[str]] = {}
    for note in notes:
        found = _LEFT_OUT.fullmatch(note)
        if found is not None:
            role, who, why = found.groups()
            people.setdefault((who, why), []).append(role)
    return tuple(f"{who} ({' and '.join(roles)}): {why}" for (who, why), roles in people.items())
