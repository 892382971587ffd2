"""JSON representations of the Launchpad double's objects, shaped by the WADL.

Every entry carries exactly the fields the served WADL lists for its type
(null where the double has nothing), plus ``self_link``,
``resource_type_link`` and ``http_etag``. Setting a field the WADL does not
list raises `WadlMismatch`: that is a bug in the double, and launchpadlib
would never see such a field from Launchpad.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Generic, TypeVar, overload
from urllib.parse import urlencode

from tests.doubles.launchpad_model import (
    ACTIVE_SERIES_STATUSES,
    SUPPORTED_SERIES_STATUSES,
    Archive,
    BadRequest,
    BinaryPublication,
    SourcePublication,
)
from tests.doubles.scenario import Person, Series
from tests.doubles.wadl import WadlSchema

WEB_ROOT = "https://launchpad.net/"
# What Launchpad puts in place of an email link the viewer may not see.
REDACTED = "tag:launchpad.net:2008:redacted"
DISTRIBUTION = "ubuntu"
ARCHIVE_PATH = "ubuntu/+archive/primary"
# Launchpad's page sizes: 75 entries unless the client asks for ws.size, which may be
# at most 300 (lazr.restful's max_batch_size, as Launchpad configures it).
PAGE_SIZE = 75
MAX_PAGE_SIZE = 300
# Batch parameters of a page's URL, none of them an argument of the operation.
_BATCH_PARAMS = ("ws.start", "ws.size", "memo", "direction", "ws.show")

Json = dict[str, object]


class WadlMismatch(AssertionError):
    """The double tried to render a field its own WADL does not list."""


T = TypeVar("T")


class Rendered(Sequence[Json], Generic[T]):
    """Records rendered only when read, so a page of a large result renders only itself."""

    def __init__(self, records: Sequence[T], render: Callable[[T], Json]) -> None:
        self._records = records
        self._render = render

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, index: int) -> Json: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Json]: ...
    def __getitem__(self, index: int | slice) -> Json | Sequence[Json]:
        if isinstance(index, slice):
            return [self._render(record) for record in self._records[index]]
        return self._render(self._records[index])


def batch_size(requested: str | None) -> int:
    """A page's size as lazr.batchnavigator reads ws.size: one that is not a positive
    number is ignored, one above the maximum refused (lazr.restful serves its
    InvalidBatchSizeError as 400)."""
    try:
        size = int(requested) if requested is not None else 0
    except ValueError:
        size = 0
    if size <= 0:
        return PAGE_SIZE
    if size > MAX_PAGE_SIZE:
        raise BadRequest(f'Maximum for "ws.size" parameter is {MAX_PAGE_SIZE}.')
    return size


def batch_start(requested: str | None) -> int:
    """A page's first entry as lazr.batchnavigator reads ws.start (0 if not a number)."""
    try:
        return max(0, int(requested)) if requested is not None else 0
    except ValueError:
        return 0


def series_path(series: str) -> str:
    return f"{DISTRIBUTION}/{series}"


def arch_series_path(series: str, arch: str) -> str:
    return f"{DISTRIBUTION}/{series}/{arch}"


def source_path(source_id: int) -> str:
    return f"{ARCHIVE_PATH}/+sourcepub/{source_id}"


def binary_path(binary_id: int) -> str:
    return f"{ARCHIVE_PATH}/+binarypub/{binary_id}"


def person_path(name: str) -> str:
    return f"~{name}"


def email_path(person: Person) -> str:
    return f"~{person.name}/+email/{person.email}"


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def etag_of(representation: Mapping[str, object]) -> str:
    digest = hashlib.sha1(
        json.dumps(representation, sort_keys=True).encode(), usedforsecurity=False
    ).hexdigest()
    return f'"{digest}"'


class Renderer:
    """Builds the JSON documents of one double, whose API base is `base`."""

    def __init__(self, base: str, schema: WadlSchema, archive: Archive) -> None:
        self.base = base
        self.schema = schema
        self.archive = archive

    def link(self, path: str | None) -> str | None:
        return None if path is None else self.base + path

    def entry(
        self,
        entry_type: str,
        path: str,
        values: Mapping[str, object],
        web_path: str | None = None,
    ) -> Json:
        names = self.schema.field_names(entry_type)
        unknown = set(values) - set(names)
        if unknown:
            raise WadlMismatch(f"{entry_type} has no field(s) {sorted(unknown)} in the WADL")
        document: Json = dict.fromkeys(names)
        document.update({name: _jsonable(value) for name, value in values.items()})
        document["self_link"] = self.base + path
        document["resource_type_link"] = f"{self.base}#{entry_type}"
        if "web_link" in document:
            document["web_link"] = WEB_ROOT + (web_path if web_path is not None else path)
        document["http_etag"] = None
        document["http_etag"] = etag_of(document)
        return document

    def collection(
        self,
        entry_type: str,
        entries: Sequence[Json],
        path: str,
        query: Sequence[tuple[str, str]],
        *,
        operation: bool = False,
    ) -> Json:
        """One page of a collection, as lazr.restful's BatchingResourceMixin.batch serves it.

        `operation`: the collection is what a named GET operation returned. lazr.restful
        then announces the total of any page but the last as a `total_size_link`
        (``ws.show=total_size``), since Launchpad makes devel its
        first_version_with_total_size_link; the last page, and every page of a plain
        collection, carry `total_size` itself.
        """
        params = dict(query)
        start = batch_start(params.get("ws.start"))
        size = batch_size(params.get("ws.size"))
        kept = [(k, v) for k, v in query if k not in _BATCH_PARAMS]
        page: Json = {
            "start": start,
            "entries": list(entries[start : start + size]),
            "resource_type_link": f"{self.base}#{entry_type}-page-resource",
        }
        last = start + size >= len(entries)
        if operation and not last:
            page["total_size_link"] = f"{self.base}{path}?" + urlencode(
                [*kept, ("ws.show", "total_size")]
            )
        else:
            page["total_size"] = len(entries)

        def page_link(page_start: int) -> str:
            # lazr.batchnavigator names the size only when it is not the default one.
            sized = [("ws.size", str(size))] if size != PAGE_SIZE else []
            return f"{self.base}{path}?" + urlencode([*kept, *sized, ("ws.start", str(page_start))])

        if not last:
            page["next_collection_link"] = page_link(start + size)
        if start > 0:
            page["prev_collection_link"] = page_link(max(0, start - size))
        return page

    # -- entries --------------------------------------------------------------

    def distribution(self) -> Json:
        current = self.archive.development_series()
        return self.entry(
            "distribution",
            DISTRIBUTION,
            {
                "name": DISTRIBUTION,
                "display_name": "Ubuntu",
                "title": "Ubuntu",
                "summary": "Ubuntu is a complete Linux-based operating system.",
                "active": True,
                "official_packages": True,
                "supports_ppas": True,
                "series_collection_link": self.link(f"{DISTRIBUTION}/series"),
                "main_archive_link": self.link(ARCHIVE_PATH),
                "current_series_link": self.link(series_path(current.name) if current else None),
            },
        )

    def distro_series(self, series: Series) -> Json:
        path = series_path(series.name)
        return self.entry(
            "distro_series",
            path,
            {
                "name": series.name,
                "version": series.version,
                "status": series.status,
                "active": series.status in ACTIVE_SERIES_STATUSES,
                "supported": series.status in SUPPORTED_SERIES_STATUSES,
                "displayname": series.name.capitalize(),
                "fullseriesname": f"Ubuntu {series.name.capitalize()}",
                "title": f"Ubuntu {series.version} ({series.name})",
                "distribution_link": self.link(DISTRIBUTION),
                "main_archive_link": self.link(ARCHIVE_PATH),
                "architectures_collection_link": self.link(f"{path}/architectures"),
                "component_names": ["main", "restricted", "universe", "multiverse"],
            },
        )

    def distro_arch_series(self, series: Series, arch: str) -> Json:
        return self.entry(
            "distro_arch_series",
            arch_series_path(series.name, arch),
            {
                "architecture_tag": arch,
                "display_name": f"Ubuntu {series.name.capitalize()} {arch}",
                "title": f"Ubuntu {series.version} ({series.name}) {arch}",
                "distroseries_link": self.link(series_path(series.name)),
                "main_archive_link": self.link(ARCHIVE_PATH),
                "is_nominated_arch_indep": arch == "amd64",
                "official": True,
                "supports_virtualized": True,
            },
        )

    def primary_archive(self) -> Json:
        return self.entry(
            "archive",
            ARCHIVE_PATH,
            {
                "name": "primary",
                "displayname": "Primary Archive for Ubuntu",
                "reference": DISTRIBUTION,
                "distribution_link": self.link(DISTRIBUTION),
                "private": False,
                "require_virtualized": False,
            },
            web_path=DISTRIBUTION,
        )

    def source(self, source: SourcePublication) -> Json:
        def person(name: str | None) -> str | None:
            return self.link(person_path(name) if name is not None else None)

        return self.entry(
            "source_package_publishing_history",
            source_path(source.id),
            {
                "source_package_name": source.name,
                "source_package_version": source.version,
                "display_name": f"{source.name} {source.version} in {source.series}",
                "pocket": source.pocket,
                "status": source.status,
                "component_name": "main",
                "section_name": "misc",
                "date_created": source.date_created,
                "date_published": source.date_published,
                "date_superseded": source.date_superseded,
                "archive_link": self.link(ARCHIVE_PATH),
                "distro_series_link": self.link(series_path(source.series)),
                "package_signer_link": person(source.signer),
                "package_creator_link": person(source.creator),
                "sponsor_link": person(source.sponsor),
            },
        )

    def binary(self, binary: BinaryPublication) -> Json:
        return self.entry(
            "binary_package_publishing_history",
            binary_path(binary.id),
            {
                "binary_package_name": binary.name,
                "binary_package_version": binary.version,
                "source_package_name": binary.source_name,
                "source_package_version": binary.source_version,
                "display_name": (
                    f"{binary.name} {binary.version} in {binary.series} {binary.arch}"
                ),
                "architecture_specific": binary.architecture_specific,
                "is_debug": binary.is_debug,
                "phased_update_percentage": binary.pup,
                "pocket": binary.pocket,
                "status": binary.status,
                "component_name": "main",
                "section_name": "misc",
                "priority_name": "OPTIONAL",
                "date_created": binary.date_created,
                "date_published": binary.date_published,
                "date_superseded": binary.date_superseded,
                "archive_link": self.link(ARCHIVE_PATH),
                "distro_arch_series_link": self.link(arch_series_path(binary.series, binary.arch)),
                "creator_link": self.link(
                    person_path(binary.creator) if binary.creator is not None else None
                ),
            },
        )

    def person(self, person: Person, *, anonymous: bool) -> Json:
        return self.entry(
            "person",
            person_path(person.name),
            {
                "name": person.name,
                "display_name": person.display_name,
                "is_valid": person.is_valid,
                "is_team": False,
                "private": False,
                "visibility": "Public",
                "hide_email_addresses": person.hidden_email,
                "preferred_email_address_link": self.email_link(person, anonymous=anonymous),
            },
        )

    def email_link(self, person: Person, *, anonymous: bool) -> str | None:
        """Launchpad redacts addresses from anonymous viewers and hidden ones from all.

        A person without a valid account has no preferred address at all.
        """
        if person.email is None or not person.is_valid:
            return None
        if anonymous or person.hidden_email:
            return REDACTED
        return self.link(email_path(person))

    def email_address(self, person: Person) -> Json:
        return self.entry(
            "email_address",
            email_path(person),
            {"email": person.email, "person_link": self.link(person_path(person.name))},
            web_path=person_path(person.name),
        )
