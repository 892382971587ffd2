"""Ready-made scenarios: `demo()` for ``make demo`` and `sized()` for the benchmark."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import PHASER_ACCOUNT
from tests.doubles.scenario import (
    DEVELOPMENT,
    OBSOLETE,
    SUPPORTED,
    Binary,
    Person,
    Scenario,
    Series,
    Upload,
)

# The demo's "now": every demo upload is published before it.
DEMO_NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


class UpdateRef(NamedTuple):
    """One phasing update of a scenario: its series, source and version."""

    series: str
    source: str
    version: str
    previous_version: str


# Clean: no Error Tracker problem, so its percentage should go up.
CLEAN_UPDATE = UpdateRef("noble", "hello", "2.10-3ubuntu0.1", "2.10-3")
# A new crash bucket whose signature is hostile markup.
CRASHING_UPDATE = UpdateRef("noble", "libfoo", "1.2-1ubuntu0.2", "1.2-1")
CRASHING_SIGNATURE = "<script>alert(1)</script> in foo_parse()"
# An increased rate of crashes.
REGRESSING_UPDATE = UpdateRef("noble", "cryptkit", "3.0.13-0ubuntu3.2", "3.0.13-0ubuntu3.1")
# A new crash the demo's operator overrides (a human hint lets it continue).
OVERRIDDEN_UPDATE = UpdateRef("jammy", "gizmo", "1.0-2ubuntu0.1", "1.0-2")
OVERRIDDEN_SIGNATURE = "gizmo_render_frame"
# Stopped at 0 by an SRU member on Launchpad (from 30%): the phaser never raises it.
PERSON_STOPPED_UPDATE = UpdateRef("jammy", "nettool", "2.4-1ubuntu0.3", "2.4-1ubuntu0.2")
# A bootloader: in the built-in slow class, 1 point per run (only in `demo(slow=True)`).
SLOW_UPDATE = UpdateRef("noble", "grub2", "2.12-1ubuntu7.1", "2.12-1ubuntu7")


def _at(days_before_now: float) -> datetime:
    return DEMO_NOW - timedelta(days=days_before_now)


def demo(*, slow: bool = False) -> Scenario:
    """A small, readable archive with six phasing updates across noble and jammy.

    With `slow`, a seventh: grub2, which phases at 1 point per run (`make demo`).

    Quirks on purpose: a previous version copied to both Security and
    Updates (cryptkit), a Debian sync with no signer (zed), the robot katie
    as signer (nettool, which an SRU member stopped by hand on Launchpad), a
    sponsor who is not the creator (libfoo), a hidden
    email (dave) and an invalid account (erin); -dbgsym debug binaries and
    architecture-independent ones; plus uploads the phaser must ignore: one in
    Proposed, one in the development series and one in an obsolete series.
    """
    people = [
        Person("alice", "Alice Developer", "alice@example.com"),
        Person("bob", "Bob Sponsor", "bob@example.com"),
        Person("carol", "Carol Contributor", "carol@example.com"),
        Person("dave", "Dave Private", "dave@example.com", hidden_email=True),
        Person("erin", "Erin Gone", "erin@example.com", is_valid=False),
        Person("frank", "Frank Debian", "frank@debian.example"),
        Person("katie", "Katie", None),
        Person("sru-steve", "Steve SRU", "steve@example.com"),
    ]
    uploads = [
        # hello: clean update on noble.
        Upload("noble", "hello", "2.10-3", _at(300), "Release", signer="alice", creator="alice",
               binaries=[Binary("hello", pup=None), Binary("hello", "arm64", pup=None)]),
        Upload("noble", "hello", CLEAN_UPDATE.version, _at(3), signer="alice", creator="alice",
               binaries=[Binary("hello", pup=10), Binary("hello", "arm64", pup=10),
                         Binary("hello-dbgsym", pup=10, is_debug=True)]),
        Upload("noble", "hello", "2.10-3ubuntu0.2", _at(1), "Proposed", signer="alice",
               creator="alice", binaries=[Binary("hello", pup=None)]),
        # libfoo: sponsored by bob for carol; gets a new crash.
        Upload("noble", "libfoo", "1.2-1", _at(300), "Release", signer="bob", creator="bob",
               binaries=[Binary("libfoo1", pup=None), Binary("libfoo-dev", pup=None)]),
        Upload("noble", "libfoo", CRASHING_UPDATE.version, _at(4), signer="bob", creator="carol",
               binaries=[Binary("libfoo1", pup=30), Binary("libfoo-dev", pup=30),
                         Binary("libfoo-doc", pup=30, architecture_specific=False),
                         Binary("libfoo1-dbgsym", pup=30, is_debug=True)]),
        # cryptkit: previous version in both Security and Updates; crash rate increased.
        Upload("noble", "cryptkit", "3.0.13-0ubuntu3", _at(300), "Release", signer="dave",
               creator="dave", binaries=[Binary("cryptkit", pup=None)]),
        *[
            Upload("noble", "cryptkit", REGRESSING_UPDATE.previous_version, _at(40), pocket,
                   "Superseded", signer="dave", creator="dave",
                   binaries=[Binary("cryptkit", pup=None), Binary("libcryptkit3", pup=None)])
            for pocket in ("Security", "Updates")
        ],
        Upload("noble", "cryptkit", REGRESSING_UPDATE.version, _at(2), signer="dave",
               creator="dave",
               binaries=[Binary("cryptkit", pup=50), Binary("libcryptkit3", pup=50),
                         Binary("libcryptkit3", "arm64", pup=50),
                         Binary("cryptkit-dbgsym", pup=50, is_debug=True)]),
        # zed: a Debian sync, so no signer.
        Upload("jammy", "zed", "0.9-1", _at(900), "Release", signer=None, creator="frank",
               binaries=[Binary("zed", pup=None)]),
        Upload("jammy", "zed", "0.9-1ubuntu0.22.04.1", _at(5), signer=None, creator="frank",
               binaries=[Binary("zed", pup=20),
                         Binary("zed-common", pup=20, architecture_specific=False)]),
        # nettool: signed by the robot for an account since deactivated; stopped at 0 by
        # an SRU member on Launchpad (change-override --percentage 0) a day ago.
        Upload("jammy", "nettool", "2.4-1", _at(900), "Release", signer="katie", creator="erin",
               binaries=[Binary("nettool", pup=None)]),
        Upload("jammy", "nettool", "2.4-1ubuntu0.2", _at(60), "Updates", "Superseded",
               signer="katie", creator="erin", binaries=[Binary("nettool", pup=None)]),
        Upload("jammy", "nettool", "2.4-1ubuntu0.3", _at(6), signer="katie", creator="erin",
               binaries=[Binary("nettool", pup=0, set_by="sru-steve", set_at=_at(1), was=30),
                         Binary("nettool-dbgsym", pup=0, is_debug=True, set_by="sru-steve",
                                set_at=_at(1), was=30)]),
        # gizmo: a new crash the operator overrides.
        Upload("jammy", "gizmo", OVERRIDDEN_UPDATE.previous_version, _at(900), "Release",
               signer="alice", creator="alice", binaries=[Binary("gizmo", pup=None)]),
        Upload("jammy", "gizmo", OVERRIDDEN_UPDATE.version, _at(2.5), signer="alice",
               creator="alice",
               binaries=[Binary("gizmo", pup=10),
                         Binary("gizmo-data", pup=10, architecture_specific=False),
                         Binary("gizmo-dbgsym", pup=10, is_debug=True)]),
        # To be ignored: the development series and an obsolete series.
        Upload("plucky", "hello", "2.10-4", _at(10), "Release", signer="alice", creator="alice",
               binaries=[Binary("hello", pup=None)]),
        Upload("mantic", "hello", "2.10-2ubuntu0.1", _at(200), signer="alice", creator="alice",
               binaries=[Binary("hello", pup=10)]),
    ]  # fmt: skip
    if slow:
        uploads += [
            Upload("noble", "grub2", SLOW_UPDATE.previous_version, _at(300), "Release",
                   signer="alice", creator="alice",
                   binaries=[Binary("grub-efi-amd64-bin", pup=None)]),
            Upload("noble", "grub2", SLOW_UPDATE.version, _at(4), signer="alice",
                   creator="alice",
                   binaries=[Binary("grub-efi-amd64-bin", pup=20),
                             Binary("grub-pc", pup=20),
                             Binary("grub2-dbgsym", pup=20, is_debug=True)]),
        ]  # fmt: skip
    return Scenario(
        series=[
            Series("plucky", "25.04", DEVELOPMENT),
            Series("noble", "24.04", SUPPORTED),
            Series("mantic", "23.10", OBSOLETE),
            Series("jammy", "22.04", SUPPORTED),
        ],
        people=people,
        uploads=uploads,
    )


def demo_errors(et: ErrorTrackerDouble) -> None:
    """Register the demo's Error Tracker findings (see the *_UPDATE constants)."""
    crash = CRASHING_UPDATE
    et.new_buckets[(crash.source, crash.previous_version, crash.version)] = [
        {
            "function": CRASHING_SIGNATURE,
            "web_link": "https://errors.ubuntu.com/problem/4f6c1a0d2e9b8c7a6f5e4d3c2b1a09f8e7d6c5b4",
        }
    ]
    rate = REGRESSING_UPDATE
    et.rates[(rate.source, rate.previous_version, rate.version)] = {
        "increase": True,
        "difference": 4.2,
        "web_link": (
            "https://errors.ubuntu.com/?release=Ubuntu%2024.04&package=cryptkit"
            "&period=week&version=3.0.13-0ubuntu3.2"
        ),
        "previous_period_in_days": 10,
        "previous_average": 1.5,
    }
    hinted = OVERRIDDEN_UPDATE
    et.new_buckets[(hinted.source, hinted.previous_version, hinted.version)] = [
        {
            "function": OVERRIDDEN_SIGNATURE,
            "web_link": f"https://errors.ubuntu.com/bucket/?id={OVERRIDDEN_SIGNATURE}",
        }
    ]


# -- the benchmark's archive ---------------------------------------------------

SIZED_NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
_SERIES_POOL = [
    Series("plucky", "25.04", DEVELOPMENT),
    Series("noble", "24.04", SUPPORTED),
    Series("jammy", "22.04", SUPPORTED),
    Series("focal", "20.04", SUPPORTED),
    Series("bionic", "18.04", SUPPORTED),
    Series("xenial", "16.04", SUPPORTED),
]


def _sized_people(count: int) -> list[Person]:
    # The phaser's own bot account (a token the engine uses acts as it) and a robot.
    people = [Person(PHASER_ACCOUNT, "Phasing bot", None), Person("katie", "Katie", None)]
    for i in range(count):
        people.append(
            Person(
                f"dev{i:02d}",
                f"Developer {i:02d}",
                f"dev{i:02d}@example.com",
                hidden_email=i % 7 == 3,
                is_valid=i % 11 != 5,
            )
        )
    return people


def _sized_binaries(
    source: str,
    count: int,
    pup: int | None,
    rng: random.Random,
    stopped_at: datetime | None = None,
) -> list[Binary]:
    """`count` binaries: the main one, libraries, an arch-all one and a -dbgsym.

    With `stopped_at`, the phaser stopped the update then (from 30%): its records of
    0 name the phaser's account, as Launchpad's would.
    """
    binaries = [Binary(source, pup=pup)]
    if count >= 2:
        binaries.append(Binary(f"{source}-dbgsym", pup=pup, is_debug=True))
    if count >= 3:
        binaries.append(Binary(f"{source}-common", pup=pup, architecture_specific=False))
    arches = ("amd64", "arm64")
    while len(binaries) < count:
        lib = f"lib{source}{len(binaries)}"
        binaries.append(Binary(lib, arch=arches[rng.randrange(2)], pup=pup))
    if stopped_at is None:
        return binaries
    return [replace(b, set_by=PHASER_ACCOUNT, set_at=stopped_at, was=30) for b in binaries]


def sized(
    sources: int,
    series: int = 4,
    binaries_per_source: int = 6,
    seed: int = 0,
    *,
    stopped: bool = True,
    completed: int = 0,
) -> Scenario:
    """A deterministic archive with `sources` phasing updates, for the benchmark.

    The first of `series` series is the development one; phasing updates are
    spread over the others. Each source has a Release version, 0-3 earlier
    (superseded) Updates/Security versions and the current phasing update,
    sometimes copied to Security too. With `stopped`, about one in ten was stopped
    by the phaser before (at 0, its records naming the phaser's account); without,
    every one is phasing. `completed` adds as many sources whose update in -updates is
    fully phased (as most of a real -updates pocket is): a fresh database lists and
    reads them once.
    """
    if not 2 <= series <= len(_SERIES_POOL):
        raise ValueError(f"series must be between 2 and {len(_SERIES_POOL)}")
    rng = random.Random(seed)  # noqa: S311 -- deterministic test data, not secrets
    chosen = _SERIES_POOL[:series]
    stable = [s.name for s in chosen if s.status != DEVELOPMENT]
    people = _sized_people(20)
    names = [p.name for p in people if p.name != PHASER_ACCOUNT]
    uploads: list[Upload] = []
    for i in range(sources):
        source = f"pkg{i:05d}"
        target = stable[i % len(stable)]
        signer = rng.choice([*names, None])
        creator = rng.choice(names) if rng.random() < 0.2 else signer
        base = f"{1 + i % 9}.{i % 17}"
        release_at = SIZED_NOW - timedelta(days=400 + rng.randrange(300))
        uploads.append(
            Upload(target, source, f"{base}-1", release_at, "Release", signer=signer,
                   creator=creator,
                   binaries=_sized_binaries(source, binaries_per_source, None, rng))
        )  # fmt: skip
        earlier = rng.randrange(4)
        for n in range(1, earlier + 1):
            published = SIZED_NOW - timedelta(days=300 - 60 * n + rng.randrange(20))
            pocket = rng.choice(("Updates", "Security"))
            uploads.append(
                Upload(target, source, f"{base}-1ubuntu0.{n}", published, pocket, "Superseded",
                       signer=signer, creator=creator,
                       binaries=_sized_binaries(source, binaries_per_source, None, rng))
            )  # fmt: skip
        version = f"{base}-1ubuntu0.{earlier + 1}"
        published = SIZED_NOW - timedelta(hours=6 + rng.randrange(240))
        pup = rng.choice((0, 10, 20, 30, 40, 50, 60, 70, 80, 90))
        if pup == 0 and not stopped:
            pup = 10
        pockets = ("Updates", "Security") if rng.random() < 0.15 else ("Updates",)
        for pocket in pockets:
            phasing = pocket == "Updates"
            when = published + (SIZED_NOW - published) / 2 if phasing and pup == 0 else None
            uploads.append(
                Upload(target, source, version, published, pocket, signer=signer,
                       creator=creator,
                       binaries=_sized_binaries(
                           source, binaries_per_source, pup if phasing else None, rng, when))
            )  # fmt: skip
    for i in range(completed):
        source = f"done{i:05d}"
        target = stable[i % len(stable)]
        released = SIZED_NOW - timedelta(days=400 + i % 300)
        uploads.append(
            Upload(target, source, "1.0-1", released, "Release", signer="katie",
                   binaries=_sized_binaries(source, 2, None, rng))
        )  # fmt: skip
        uploads.append(
            Upload(target, source, "1.0-1ubuntu0.1", released + timedelta(days=30 + i % 200),
                   signer="katie", binaries=_sized_binaries(source, 2, None, rng))
        )  # fmt: skip
    return Scenario(series=list(chosen), people=people, uploads=uploads)
