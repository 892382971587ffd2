"""The data a Launchpad double serves: series, people and uploads.

Plain dataclasses, so tests and the demo can build a scenario by hand. The
double turns each `Upload` into one source publication (SPPH) and one binary
publication (BPPH) per `Binary`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Launchpad's SeriesStatus titles.
CURRENT = "Current Stable Release"
SUPPORTED = "Supported"
DEVELOPMENT = "Active Development"
OBSOLETE = "Obsolete"


@dataclass
class Series:
    """A distro series: `status` is one of the SeriesStatus titles above."""

    name: str
    version: str
    status: str


@dataclass
class Person:
    """A Launchpad person. An invalid account has no preferred email in Launchpad."""

    name: str
    display_name: str
    email: str | None = None
    hidden_email: bool = False
    is_valid: bool = True


@dataclass
class Binary:
    """One binary publication of an upload; `pup` None means fully phased.

    With `set_by`, the level was changed after release: the copy to -updates made a
    record at `was`, and the account `set_by` changed it to `pup` at `set_at` (as
    `changeOverride` does, so the new record's creator is that account).
    """

    name: str
    arch: str = "amd64"
    pup: int | None = 10
    is_debug: bool = False
    architecture_specific: bool = True
    set_by: str | None = None
    set_at: datetime | None = None
    was: int | None = None


@dataclass
class Upload:
    """A source publication and its binaries.

    `published` (timezone-aware UTC) is both date_created and date_published
    of the source publication and of its initial binary publications.
    `signer` None is a Debian sync; `creator` is the package creator.
    """

    series: str
    source: str
    version: str
    published: datetime
    pocket: str = "Updates"
    status: str = "Published"
    signer: str | None = None
    creator: str | None = None
    binaries: list[Binary] = field(default_factory=list)


@dataclass
class Scenario:
    """Everything the Launchpad double serves."""

    series: list[Series]
    people: list[Person] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)

    def person(self, name: str) -> Person:
        for person in self.people:
            if person.name == name:
                return person
        raise KeyError(f"no person {name!r} in the scenario")
