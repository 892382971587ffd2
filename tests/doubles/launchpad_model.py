"""The Launchpad double's archive: publishing records and what Launchpad does to them.

This module knows nothing of HTTP. It holds the source and binary publishing
history built from a `Scenario`, answers the queries the web service exposes,
and implements `changeOverride` and the publisher's step with Launchpad's
semantics (``lib/lp/soyuz/model/publishing.py`` and ``model/archive.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tests.doubles.scenario import Binary, Person, Scenario, Series, Upload

ACTIVE_STATUSES = ("Pending", "Published")
ACTIVE_SERIES_STATUSES = (
    "Active Development",
    "Pre-release Freeze",
    "Current Stable Release",
    "Supported",
)
SUPPORTED_SERIES_STATUSES = ("Current Stable Release", "Supported")
DEVELOPMENT_SERIES_STATUSES = ("Active Development", "Pre-release Freeze")
DEFAULT_ARCH = "amd64"


class BadRequest(Exception):
    """A call Launchpad would refuse with 400; the message is the response body."""


@dataclass
class SourcePublication:
    """A source_package_publishing_history record."""

    id: int
    series: str
    name: str
    version: str
    pocket: str
    status: str
    date_created: datetime
    date_published: datetime | None
    date_superseded: datetime | None
    signer: str | None
    creator: str | None
    sponsor: str | None


@dataclass
class BinaryPublication:
    """A binary_package_publishing_history record.

    `source_id` is the source publication it was built for; Launchpad joins
    on source release, series, pocket and archive, which comes to the same.
    """

    id: int
    source_id: int
    series: str
    name: str
    version: str
    arch: str
    pocket: str
    status: str
    pup: int | None
    is_debug: bool
    architecture_specific: bool
    source_name: str
    source_version: str
    date_created: datetime
    date_published: datetime | None
    date_superseded: datetime | None = None
    # The account whose changeOverride created this record; None for the copy's own.
    creator: str | None = None


@dataclass(frozen=True)
class BinaryState:
    """What a test inspects about a current binary publication."""

    name: str
    arch: str
    pup: int | None
    is_debug: bool
    status: str
    date_created: datetime
    pocket: str


def _by_date(
    records: Iterable[SourcePublication | BinaryPublication], *, newest_first: bool
) -> list[int]:
    """Launchpad's order_by_date (newest first) and order_by_date_ascending (oldest first):
    by date created, then by id, the same way round."""
    ordered = sorted(records, key=lambda r: (r.date_created, r.id), reverse=newest_first)
    return [r.id for r in ordered]


class Archive:
    """The primary archive of the double's single distribution, ``ubuntu``."""

    def __init__(self, scenario: Scenario) -> None:
        self.series: dict[str, Series] = {s.name: s for s in scenario.series}
        self.people: dict[str, Person] = {p.name: p for p in scenario.people}
        self.sources: dict[int, SourcePublication] = {}
        self.binaries: dict[int, BinaryPublication] = {}
        self._source_ids = itertools.count(1001)
        self._binary_ids = itertools.count(50001)
        self.arches: dict[str, list[str]] = {}
        # Indexes, so that the benchmark's large archives answer quickly.
        self._binaries_of_source: dict[int, list[int]] = {}
        self._sources_named: dict[str, list[int]] = {}
        self._binaries_named: dict[str, list[int]] = {}
        self._load(scenario)

    # -- building -------------------------------------------------------------

    def _load(self, scenario: Scenario) -> None:
        arches: dict[str, set[str]] = {
            s.name: {DEFAULT_ARCH, *self.arches.get(s.name, ())} for s in scenario.series
        }
        histories: dict[tuple[str, str], list[datetime]] = {}
        for upload in scenario.uploads:
            histories.setdefault((upload.series, upload.source), []).append(upload.published)
            arches.setdefault(upload.series, {DEFAULT_ARCH}).update(b.arch for b in upload.binaries)
        for upload in sorted(scenario.uploads, key=lambda u: u.published):
            if upload.series not in self.series:
                raise ValueError(f"upload {upload.source} names unknown series {upload.series}")
            for person in (upload.signer, upload.creator):
                if person is not None and person not in self.people:
                    raise ValueError(f"upload {upload.source} names unknown person {person}")
            published = upload.published if upload.status != "Pending" else None
            superseded = (
                _superseded_date(upload, histories[(upload.series, upload.source)])
                if upload.status == "Superseded"
                else None
            )
            # Launchpad records a sponsor when someone else signed the creator's upload.
            sponsored = upload.signer is not None and upload.signer != upload.creator
            source = SourcePublication(
                id=next(self._source_ids),
                series=upload.series,
                name=upload.source,
                version=upload.version,
                pocket=upload.pocket,
                status=upload.status,
                date_created=upload.published,
                date_published=published,
                date_superseded=superseded,
                signer=upload.signer,
                creator=upload.creator,
                sponsor=upload.signer if sponsored and upload.creator is not None else None,
            )
            self.sources[source.id] = source
            self._sources_named.setdefault(source.name, []).append(source.id)
            for binary, arch in _expanded(upload.binaries, sorted(arches[upload.series])):
                if binary.set_by is not None and binary.set_by not in self.people:
                    raise ValueError(f"binary {binary.name} names unknown person {binary.set_by}")
                record = BinaryPublication(
                    id=next(self._binary_ids),
                    source_id=source.id,
                    series=upload.series,
                    name=binary.name,
                    version=upload.version,
                    arch=arch,
                    pocket=upload.pocket,
                    status=upload.status,
                    pup=binary.was if binary.set_by is not None else binary.pup,
                    is_debug=binary.is_debug,
                    architecture_specific=binary.architecture_specific,
                    source_name=upload.source,
                    source_version=upload.version,
                    date_created=upload.published,
                    date_published=published,
                    date_superseded=superseded,
                )
                self._add_binary(record)
                if binary.set_by is not None:
                    changed = binary.set_at or upload.published
                    self._add_binary(
                        replace(
                            record,
                            id=next(self._binary_ids),
                            pup=binary.pup,
                            date_created=changed,
                            date_published=changed if published else None,
                            creator=binary.set_by,
                        )
                    )
                    record.status, record.date_superseded = "Superseded", changed
        self.arches |= {name: sorted(tags) for name, tags in arches.items()}

    def add(self, uploads: Sequence[Upload]) -> None:
        """Uploads made after the archive was loaded (an SRU accepted mid-test)."""
        self._load(Scenario(series=list(self.series.values()), people=[], uploads=list(uploads)))

    def _add_binary(self, record: BinaryPublication) -> None:
        self.binaries[record.id] = record
        self._binaries_of_source.setdefault(record.source_id, []).append(record.id)
        self._binaries_named.setdefault(record.name, []).append(record.id)

    # -- lookups --------------------------------------------------------------

    def development_series(self) -> Series | None:
        for status_order in (DEVELOPMENT_SERIES_STATUSES, ("Current Stable Release",)):
            for series in self.series_newest_first():
                if series.status in status_order:
                    return series
        return None

    def series_newest_first(self) -> list[Series]:
        def version_key(series: Series) -> tuple[int, ...]:
            return tuple(int(part) for part in series.version.split(".") if part.isdigit())

        return sorted(self.series.values(), key=version_key, reverse=True)

    # -- queries (archive.getPublishedSources / getPublishedBinaries) ----------

    def published_sources(
        self,
        *,
        name: str | None = None,
        exact_match: bool = False,
        version: str | None = None,
        status: str | None = None,
        series: str | None = None,
        pocket: str | None = None,
        created_since: datetime | None = None,
        order_by_date: bool = False,
        order_by_date_ascending: bool = False,
    ) -> list[SourcePublication]:
        if version is not None and name is None:
            raise BadRequest(
                "The 'version' parameter can be used only together with the 'name' parameter."
            )
        candidates = (
            [self.sources[i] for i in self._sources_named.get(name, [])]
            if name is not None and exact_match
            else self.sources.values()
        )
        found = [
            s
            for s in candidates
            if _name_matches(s.name, name, exact_match)
            and (version is None or s.version == version)
            and (status is None or s.status == status)
            and (series is None or s.series == series)
            and (pocket is None or s.pocket == pocket)
            and (created_since is None or s.date_created >= created_since)
        ]
        if order_by_date or order_by_date_ascending:
            return [self.sources[i] for i in _by_date(found, newest_first=order_by_date)]
        # Launchpad's default order: by name, then the newest record first.
        return sorted(found, key=lambda s: (s.name, -s.id))

    def published_binaries(
        self,
        *,
        name: str | None = None,
        exact_match: bool = False,
        version: str | None = None,
        status: str | None = None,
        series_arch: tuple[str, str] | None = None,
        pocket: str | None = None,
        created_since: datetime | None = None,
        order_by_date: bool = False,
        order_by_date_ascending: bool = False,
    ) -> list[BinaryPublication]:
        if version is not None and name is None:
            raise BadRequest(
                "The 'version' parameter can be used only together with the 'name' parameter."
            )
        candidates = (
            [self.binaries[i] for i in self._binaries_named.get(name, [])]
            if name is not None and exact_match
            else self.binaries.values()
        )
        found = [
            b
            for b in candidates
            if _name_matches(b.name, name, exact_match)
            and (version is None or b.version == version)
            and (status is None or b.status == status)
            and (series_arch is None or (b.series, b.arch) == series_arch)
            and (pocket is None or b.pocket == pocket)
            and (created_since is None or b.date_created >= created_since)
        ]
        if order_by_date or order_by_date_ascending:
            return [self.binaries[i] for i in _by_date(found, newest_first=order_by_date)]
        return sorted(found, key=lambda b: (b.name, -b.id))

    def binaries_for_source(
        self, source_id: int, *, active_only: bool = True
    ) -> list[BinaryPublication]:
        """spph.getPublishedBinaries: ordered by name, arch, newest record first."""
        found = [
            b
            for b in (self.binaries[i] for i in self._binaries_of_source.get(source_id, []))
            if not active_only or b.status in ACTIVE_STATUSES
        ]
        return sorted(found, key=lambda b: (b.name, b.arch, -b.id))

    def current_binaries(self, series: str, source: str, version: str) -> list[BinaryState]:
        sources = [
            s.id
            for s in self.sources.values()
            if (s.series, s.name, s.version) == (series, source, version)
        ]
        return [
            BinaryState(
                name=b.name,
                arch=b.arch,
                pup=b.pup,
                is_debug=b.is_debug,
                status=b.status,
                date_created=b.date_created,
                pocket=b.pocket,
            )
            for source_id in sources
            for b in self.binaries_for_source(source_id)
        ]

    # -- writes ---------------------------------------------------------------

    def change_override(
        self, binary_id: int, new_pup: int | None, now: datetime, creator: str
    ) -> BinaryPublication | None:
        """bpph.changeOverride(new_phased_update_percentage=...), as Launchpad does it.

        Returns the new Pending record, or None when nothing changes. A deb's
        matching ddeb (``<name>-dbgsym``) gets a new record too. Every new record
        names `creator`, the caller (`@call_with(creator=REQUEST_USER)`).
        """
        current = self.binaries[binary_id]
        if new_pup is None:
            raise BadRequest(
                "changeOverride must be passed a new component, section, priority "
                "and/or phased_update_percentage."
            )
        if current.is_debug:
            raise BadRequest(
                "Cannot override ddeb publications directly; override the corresponding deb "
                "instead."
            )
        if not 0 <= new_pup <= 100:
            raise BadRequest("new_phased_update_percentage must be between 0 and 100 (inclusive).")
        stored: int | None = None if new_pup == 100 else new_pup
        if stored == current.pup:
            return None
        for ddeb in self._matching_ddebs(current):
            self._add_copy(ddeb, stored, now, creator)
        return self._add_copy(current, stored, now, creator)

    def _matching_ddebs(self, deb: BinaryPublication) -> list[BinaryPublication]:
        """The active ddebs of the deb's record, as Launchpad's
        findCorrespondingDDEBPublications finds them: same architecture and pocket, and
        the same overrides, the percentage included (a ddeb left with another one, as
        older ones without a percentage are, is not rewritten)."""
        return [
            b
            for b in self.binaries_for_source(deb.source_id)
            if b.is_debug
            and b.name == deb.name + "-dbgsym"
            and (b.arch, b.pocket, b.pup) == (deb.arch, deb.pocket, deb.pup)
        ]

    def _add_copy(
        self, old: BinaryPublication, pup: int | None, now: datetime, creator: str
    ) -> BinaryPublication:
        new = replace(
            old,
            id=next(self._binary_ids),
            status="Pending",
            pup=pup,
            date_created=now,
            date_published=None,
            date_superseded=None,
            creator=creator,
        )
        self._add_binary(new)
        return new

    def publish(self, now: datetime) -> None:
        """The publisher's run: publish pending records, supersede what they replace.

        Arch-all binaries are dominated atomically, as Launchpad's
        Dominator.dominateBinaries does (getOtherPublications): a record superseded on
        one architecture takes with it its siblings on the others that carry the same
        percentage and are not kept live there, so that a changeOverride written on
        one architecture only leaves the binary on none of the others.
        """
        for source in self.sources.values():
            if source.status == "Pending":
                source.status, source.date_published = "Published", now
        for binary in self.binaries.values():
            if binary.status == "Pending":
                binary.status, binary.date_published = "Published", now
        groups: dict[tuple[int, str, str], list[BinaryPublication]] = {}
        for binary in self.binaries.values():
            if binary.status == "Published":
                groups.setdefault((binary.source_id, binary.name, binary.arch), []).append(binary)
        superseded: list[BinaryPublication] = []
        kept: set[int] = set()
        for records in groups.values():
            newest = max(records, key=lambda b: (b.date_created, b.id))
            if len(records) > 1:
                kept.add(newest.id)  # the dominator plans only names with rivals
            for record in records:
                if record is not newest:
                    record.status, record.date_superseded = "Superseded", now
                    superseded.append(record)
        for record in superseded:
            if record.architecture_specific:
                continue
            for sibling in _siblings(groups, record):
                if sibling.status == "Published" and sibling.id not in kept:
                    sibling.status, sibling.date_superseded = "Superseded", now


def _siblings(
    groups: Mapping[tuple[int, str, str], list[BinaryPublication]], record: BinaryPublication
) -> list[BinaryPublication]:
    """An arch-all record's copies on the other architectures with the same overrides
    (here, the percentage): what Launchpad's getOtherPublications returns."""
    return [
        other
        for (source_id, name, arch), records in groups.items()
        if (source_id, name) == (record.source_id, record.name) and arch != record.arch
        for other in records
        if (other.version, other.pocket, other.pup) == (record.version, record.pocket, record.pup)
    ]


def _expanded(binaries: Sequence[Binary], arches: Sequence[str]) -> list[tuple[Binary, str]]:
    """Each binary with the architectures Launchpad publishes it on: its own, or every
    architecture of the series for an architecture-independent one (publishBinaries,
    through expand_binary_requests in lib/lp/soyuz/model/publishing.py)."""
    return [
        (binary, arch)
        for binary in binaries
        for arch in ([binary.arch] if binary.architecture_specific else arches)
    ]


def _superseded_date(upload: Upload, history: list[datetime]) -> datetime:
    """A superseded upload was superseded when the next upload of its source appeared."""
    later = [published for published in history if published > upload.published]
    return min(later) if later else upload.published + timedelta(days=1)


def _name_matches(candidate: str, wanted: str | None, exact_match: bool) -> bool:
    if wanted is None:
        return True
    # Launchpad's non-exact match is a substring match (contains_string).
    return candidate == wanted if exact_match else wanted in candidate
