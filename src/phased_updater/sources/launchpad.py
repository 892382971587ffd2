"""Reading phasing updates from Launchpad, and writing their percentages.

Cost matters more than anything here: every request is a remote round trip. So
listings are read page by page as JSON, `PAGE_SIZE` entries a page (the most
Launchpad serves), and their entries travel between worker threads as plain data.
A run reads the binaries of every update in a series' -updates pocket with a few
listings of the whole pocket (`list_binaries`, one per architecture, all the records
created since the oldest of those updates was copied there); only an update copied
before that (a long stop) is read on its own (`read_update`: its binaries, one
request). The first run that sees an update also lists the source's history in the
series, for its previous version; later runs take it from the state database. A
write is one POST (`set_percentage`): Launchpad answers it with the new record, so
nothing is read back.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import httplib2
from launchpadlib.credentials import AnonymousAccessToken, Credentials
from launchpadlib.launchpad import Launchpad
from launchpadlib.uris import lookup_service_root
from lazr.restfulclient.errors import HTTPError, Unauthorized
from wadllib.application import Resource as WadlResource

from phased_updater.debian import (
    compare_versions,
    is_series_name,
    is_source_name,
    is_version,
    version_key,
)
from phased_updater.errors import error_text
from phased_updater.model import FULLY_PHASED, BinaryPublication, Series, Update
from phased_updater.sources.deadline import each_request_within, guarded

log = logging.getLogger(__name__)

API_VERSION = "devel"
CONSUMER = "phased-updater"
ACTIVE = ("Pending", "Published")
PREVIOUS_POCKETS = ("Release", "Security", "Updates")
PREVIOUS_STATUSES = ("Published", "Superseded")
# The development series phases nothing; obsolete ones are no longer updated.
SUPPORTED_STATUSES = ("Current Stable Release", "Supported")
REJECTED = "Launchpad rejected the credentials (401): the token may be expired or revoked"
# Series versions go into the Error Tracker's queries ("Ubuntu 24.04").
_SERIES_VERSION = re.compile(r"[0-9]{1,4}\.[0-9]{1,4}")
# What launchpadlib raises when Launchpad cannot be read: this module turns each into a
# LaunchpadFailure, so no caller outside sources/ needs to know launchpadlib's errors.
# (http.client's HTTPException: an answer cut short, IncompleteRead, is not an OSError.)
LAUNCHPAD_ERRORS: tuple[type[Exception], ...] = (
    HTTPError,
    httplib2.HttpLib2Error,
    http.client.HTTPException,
    OSError,
)

# The most entries Launchpad serves in a page: lazr.restful's max_batch_size, which
# Launchpad sets to 300 (lib/lp/services/config/schema-lazr.conf); a larger ws.size is
# refused with 400 ('Maximum for "ws.size" parameter is 300.'). Without ws.size a page
# holds 75.
PAGE_SIZE = 300

Params = ParamSpec("Params")
Result = TypeVar("Result")


class LaunchpadFailure(Exception):
    """Launchpad could not be read or written; the message says what and why."""


class CredentialsRejected(LaunchpadFailure):
    """Launchpad answered 401: the token is expired, revoked or lacks the rights."""


class SetupError(Exception):
    """A Launchpad setting that cannot work: which one, its value (as shown) and why.

    Callers name the setting in their own terms (the CLI as an option, `--series`).
    """

    def __init__(self, setting: str, shown_value: str, reason: str) -> None:
        self.setting = setting
        self.shown_value = shown_value
        self.reason = reason
        super().__init__(f"{setting} {shown_value}: {reason}")


def _translated(method: Callable[Params, Result]) -> Callable[Params, Result]:
    """launchpadlib's errors as this module's: 401 as CredentialsRejected, others as failures."""

    @functools.wraps(method)
    def call(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        try:
            return method(*args, **kwargs)
        except Unauthorized:
            raise CredentialsRejected(REJECTED) from None
        except LAUNCHPAD_ERRORS as error:
            raise LaunchpadFailure(error_text(error)) from error

    return call


def _is_text(value: object, valid: Callable[[str], bool]) -> bool:
    """Whether a field Launchpad sent is a string that passes `valid`."""
    return isinstance(value, str) and valid(value)


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_service_root(name: str) -> str:
    """`production`, `staging`, `qastaging` or an http(s) URL of a service root."""
    if name in ("production", "staging", "qastaging"):
        return str(lookup_service_root(name))
    try:
        parts = urlsplit(name)
        parts.port  # noqa: B018 - raises for a port out of range or not a number
    except ValueError as error:
        raise SetupError("launchpad", repr(name), f"not a URL ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SetupError(
            "launchpad", repr(name), "expected production, staging, qastaging or an http(s) URL"
        )
    root = name if name.endswith("/") else name + "/"
    if root.rstrip("/").endswith("/" + API_VERSION):
        raise SetupError("launchpad", repr(name), "give the service root without the API version")
    return root


def read_credentials(path: Path) -> Credentials:
    """A launchpadlib credentials file; SetupError naming only its path and the reason."""
    try:
        with path.open() as handle:
            credentials = Credentials(None)
            credentials.load(handle)
    except OSError as error:
        raise SetupError("credentials", repr(str(path)), str(error.strerror)) from None
    except Exception:
        # The parser's own message could quote the file's contents: say only where.
        raise SetupError(
            "credentials", repr(str(path)), "not a launchpadlib credentials file"
        ) from None
    if not credentials.consumer or not credentials.access_token:
        raise SetupError("credentials", repr(str(path)), "no consumer key or access token in it")
    return credentials


CACHE_MAX_AGE_SECONDS = 24 * 3600


def prune_cache(cache_dir: Path, now: float, max_age: float = CACHE_MAX_AGE_SECONDS) -> int:
    """Remove httplib2 cache files not touched for `max_age` seconds; return how many.

    Every listing's URL carries the run's own created_since_date, so each run adds
    cache entries that no later run asks for again: without pruning the cache grows
    forever. The WADL is revalidated every run, which keeps its file fresh.
    """
    removed = 0
    if not cache_dir.is_dir():
        return removed
    for path in cache_dir.rglob("*"):
        try:
            if path.is_file() and now - path.stat().st_mtime > max_age:
                path.unlink()
                removed += 1
        except OSError:
            continue  # another process pruned or rewrote it: nothing to do
    return removed


@dataclass(frozen=True)
class Connection:
    service_root: str
    credentials: Path | None
    cache_dir: Path
    timeout: float = 60.0  # each request's deadline, connect and every read together


def connect(connection: Connection) -> Launchpad:
    """A launchpadlib client that never falls back to an interactive OAuth prompt."""
    if connection.credentials is None:
        credentials = Credentials(CONSUMER)
        credentials.access_token = AnonymousAccessToken()
    else:
        credentials = read_credentials(connection.credentials)
    proxy_info: Any = (
        None if _is_loopback(connection.service_root) else httplib2.proxy_info_from_environment
    )
    try:
        # No authorization engine and no credential store: a 401 raises instead of
        # starting the browser flow, which would hang an unattended service. The login
        # is two requests (the WADL, the service root), each with its own deadline.
        with each_request_within(connection.timeout):
            lp = Launchpad(
                credentials,
                None,
                None,
                service_root=connection.service_root,
                cache=str(connection.cache_dir),
                # The socket timeout only backs the deadline up: a request that hangs
                # is cut by its deadline first, and says so.
                timeout=2 * connection.timeout,
                proxy_info=proxy_info,
                version=API_VERSION,
            )
        # From now on each request has a deadline of its own (connect and all reads).
        guarded(lp._browser._connection, connection.timeout)
        return lp
    except Unauthorized:
        raise CredentialsRejected(REJECTED) from None
    except LAUNCHPAD_ERRORS as error:
        raise LaunchpadFailure(
            f"cannot reach Launchpad at {connection.service_root}: {error_text(error)}"
        ) from None


def _entries(page: object, what: str) -> list[dict[str, Any]]:
    """The entries of one page of a listing; LaunchpadFailure if it is not one."""
    entries = page.get("entries") if isinstance(page, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise LaunchpadFailure(f"{what}: Launchpad sent something other than a page of entries")
    return entries


def _announced(page: Mapping[str, Any]) -> int | None:
    total = page.get("total_size")
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def read_pages(lp: Launchpad, url: str, what: str) -> list[dict[str, Any]]:
    """Every entry of a paged listing, from its first page's URL; LaunchpadFailure when
    the pages do not add up.

    Launchpad pages by offset (lazr.batchnavigator's ListRangeFactory), so an entry
    that moves while a client pages through (one published, or leaving a status the
    listing asks for) shifts the others: one is then listed twice, or missed.
    Deciding on part of an upload's binaries could step the ones read and skip the
    others, so a listing with an entry twice, or with a number of entries other than
    a `total_size` it announced, is a failed read, retried on the next run.
    lazr.restful announces `total_size` on the last page always, and on the first
    one too unless it gives a `total_size_link` instead (devel's named operations do,
    when there is more than one page); that link would cost a request, so it is not
    followed.
    """
    entries: list[dict[str, Any]] = []
    seen: set[object] = set()
    announced: set[int] = set()
    next_url: str | None = url
    while next_url is not None:
        content = lp._browser.get(next_url)
        try:
            page = json.loads(content)
        except ValueError:
            raise LaunchpadFailure(f"{what}: Launchpad sent a page that is not JSON") from None
        listed = _entries(page, what)
        for entry in listed:
            link = entry.get("self_link")
            if link in seen:
                # Also what ends a next link that leads back to a page already read.
                raise LaunchpadFailure(f"{what}: Launchpad listed an entry twice while paging")
            seen.add(link)
        entries.extend(listed)
        total = _announced(page)
        if total is not None:
            announced.add(total)
        following = page.get("next_collection_link")
        next_url = following if isinstance(following, str) else None
        if next_url is not None and not listed:
            raise LaunchpadFailure(f"{what}: Launchpad sent an empty page before the last")
    for total in sorted(announced):
        if total != len(entries):
            # More than announced is as bad as fewer: an entry published while the pages
            # were read moves the others.
            raise LaunchpadFailure(
                f"{what}: Launchpad listed {len(entries)} of the {total} entries it announced"
            )
    return entries


@dataclass(frozen=True)
class SourceListing:
    """One source publication of a -updates listing, as plain data.

    `representation` is the entry's JSON as Launchpad sent it in the listing's page:
    any thread's client reads the update's binaries from it without loading the
    publication again.
    """

    source: str
    version: str
    representation: Mapping[str, Any] = field(compare=False, repr=False)

    @property
    def date_created(self) -> datetime | None:
        """When the publication was created, which is when it was copied to -updates."""
        return _parse_time(self.representation.get("date_created"))


@dataclass(frozen=True)
class Gone:
    """An update no longer phasing, and why: later runs need not read it again."""

    why: str


GONE_FROM_UPDATES = Gone("no longer published in -updates (superseded or deleted)")
FULLY_PHASED_ALREADY = Gone("fully phased")
NO_ACTIVE_BINARIES = Gone("no active binaries in -updates (superseded or deleted)")

# What the phaser reads of a binary_package_publishing_history entry. A listing keeps
# only these of each entry it lists, so a week of a pocket's records stays small.
BINARY_FIELDS = (
    "self_link",
    "binary_package_name",
    "source_package_name",
    "source_package_version",
    "distro_arch_series_link",
    "phased_update_percentage",
    "is_debug",
    "status",
    "date_created",
    "creator_link",
)
# One binary_package_publishing_history record, as those fields.
BinaryRecord = Mapping[str, Any]


def binary_record(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {name: entry.get(name) for name in BINARY_FIELDS}


def by_upload(records: list[BinaryRecord]) -> dict[tuple[str, str], list[BinaryRecord]]:
    """A listing's records grouped by the source name and version that built them."""
    found: dict[tuple[str, str], list[BinaryRecord]] = {}
    for record in records:
        source, version = record.get("source_package_name"), record.get("source_package_version")
        if isinstance(source, str) and isinstance(version, str):
            found.setdefault((source, version), []).append(record)
    return found


def _parse_time(value: object) -> datetime | None:
    """A date Launchpad sent (ISO 8601), in UTC; None for none or one that is not a date."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _previous(history: list[dict[str, Any]], source: str, version: str) -> str | None:
    """The newest version of `source` published in the series before `version`."""
    older = {
        entry.get("source_package_version")
        for entry in history
        if entry.get("source_package_name") == source
        and entry.get("pocket") in PREVIOUS_POCKETS
        and entry.get("status") in PREVIOUS_STATUSES
        and _is_text(entry.get("source_package_version"), is_version)
        and compare_versions(str(entry.get("source_package_version")), version) < 0
    }
    return max((str(v) for v in older), key=version_key) if older else None


def _level(record: BinaryRecord) -> int:
    """A record's percentage; Launchpad's None (fully phased) as FULLY_PHASED.

    Anything but a whole number from 0 to 100 is a failed read of the update, never
    a level the engine acts on.
    """
    percentage = record.get("phased_update_percentage")
    if percentage is None:
        return FULLY_PHASED
    if isinstance(percentage, bool) or not isinstance(percentage, int):
        raise LaunchpadFailure(f"a phased_update_percentage of type {type(percentage).__name__}")
    if not 0 <= percentage <= FULLY_PHASED:
        raise LaunchpadFailure(f"a phased_update_percentage of {percentage}, out of 0..100")
    return percentage


def _order(record: BinaryRecord) -> tuple[datetime, str]:
    created = _parse_time(record.get("date_created")) or datetime.min.replace(tzinfo=UTC)
    return (created, str(record.get("self_link")))


def _predecessor(records: list[BinaryRecord], record: BinaryRecord) -> BinaryRecord | None:
    """The record `record` replaced (same binary and architecture), None for the first.

    The first record of a binary in an upload is the copy to -updates; every later one
    was made by a changeOverride, and names its caller in `creator_link`.
    """
    earlier = [r for r in records if _order(r) < _order(record)]
    return max(earlier, key=_order) if earlier else None


def _link(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _binary(record: BinaryRecord, predecessor: BinaryRecord | None) -> BinaryPublication:
    return BinaryPublication(
        self_link=str(record.get("self_link")),
        name=str(record.get("binary_package_name")),
        arch_link=str(record.get("distro_arch_series_link")),
        percentage=_level(record),
        is_debug=bool(record.get("is_debug")),
        date_created=_parse_time(record.get("date_created")) or datetime.now(UTC),
        set_by=None if predecessor is None else _link(record.get("creator_link")),
        previous_percentage=None if predecessor is None else _level(predecessor),
    )


def phasing_update(
    series: Series,
    publication: Mapping[str, Any],
    records: list[BinaryRecord],
    previous: str | None,
) -> Update | Gone:
    """The update a source publication in -updates is, from every record of its binaries
    there (superseded ones too), or why it is not phasing.

    The records' order does not matter: a listing of one upload's binaries and a
    listing of the whole pocket, grouped by upload, give the same update.
    """
    source = str(publication.get("source_package_name"))
    current: dict[tuple[str, str], BinaryRecord] = {}
    history: dict[tuple[str, str], list[BinaryRecord]] = {}
    highest = 0
    for record in records:
        name = record.get("binary_package_name")
        if not _is_text(name, is_source_name):
            # Binary names follow the source name syntax; this one is not a name. The
            # log quotes it; the failure, which the public report shows, does not.
            log.warning(
                "%s %s: a binary is named %r, not a Debian package name", series.name, source, name
            )
            raise LaunchpadFailure(
                f"{series.name} {source}: a binary's name is not a"
                " Debian package name (the log quotes it)"
            )
        percentage = _level(record)  # every record's, superseded ones too
        if not record.get("is_debug") and percentage < FULLY_PHASED:
            highest = max(highest, percentage)
        key = (str(name), str(record.get("distro_arch_series_link")))
        history.setdefault(key, []).append(record)
        if record.get("status") not in ACTIVE:
            continue
        best = current.get(key)
        if best is None or _order(record) > _order(best):
            current[key] = record
    binaries = tuple(
        _binary(record, _predecessor(history[key], record)) for key, record in current.items()
    )
    debs = [b for b in binaries if not b.is_debug]
    if not debs:
        return NO_ACTIVE_BINARIES
    if all(b.percentage == FULLY_PHASED for b in debs):
        return FULLY_PHASED_ALREADY
    published = (
        _parse_time(publication.get("date_published"))
        or _parse_time(publication.get("date_created"))
        or datetime.now(UTC)
    )
    return Update(
        series=series,
        source=source,
        version=str(publication.get("source_package_version")),
        previous_version=previous,
        date_published=published,
        self_link=str(publication.get("self_link")),
        signer_link=_link(publication.get("package_signer_link")),
        creator_link=_link(publication.get("package_creator_link")),
        binaries=binaries,
        highest_percentage=max(
            highest, *(b.percentage for b in debs if b.percentage < FULLY_PHASED)
        ),
    )


@dataclass(frozen=True)
class ArchiveRef:
    """Ubuntu's primary archive as one client found it: all another client needs of it."""

    self_link: str
    type_link: str  # its resource_type_link, which names its named operations in the WADL


class LaunchpadArchive:
    """The reads and writes of one cycle against Ubuntu's primary archive.

    One instance per thread: a launchpadlib client must not be shared between threads.
    What it reads it returns as plain data, which any other instance can use.
    """

    @_translated
    def __init__(self, lp: Launchpad, found: ArchiveRef | None = None) -> None:
        """`found`: the archive as another client found it, which costs this one no
        request; without it, it is looked up (two requests)."""
        self.lp = lp
        self._distribution: Any = None
        if found is None:
            try:
                self._distribution = lp.distributions["ubuntu"]
                archive = self._distribution.main_archive
                # Read now, by the thread that owns this client: other threads only
                # need the strings, and must never touch this client's entries.
                found = ArchiveRef(str(archive.self_link), str(archive.resource_type_link))
            except Unauthorized:
                raise CredentialsRejected(REJECTED) from None
        self.ref = found

    def _operation_url(
        self, self_link: str, type_link: str, operation: str, params: Mapping[str, object]
    ) -> str:
        """The URL of a named GET operation's first page, `PAGE_SIZE` entries long.

        Built from the WADL as launchpadlib's NamedOperation builds it (every value
        JSON-encoded but those of parameters with a fixed list of options), so an
        argument the WADL does not list fails here, before any request.
        """
        wadl = self.lp._wadl
        try:
            resource = WadlResource(wadl, self_link, wadl.get_resource_type(type_link).tag)
        except (KeyError, ValueError):  # a type this WADL lacks, a link to another WADL
            raise LaunchpadFailure(f"{self_link}: not an entry of Launchpad's WADL") from None
        method = resource.get_method("get", query_params={"ws.op": operation})
        if method is None:
            raise LaunchpadFailure(f"Launchpad's WADL has no {operation} on {self_link}")
        as_is = {
            param.name
            for param in method.request.query_params
            if param.type == "binary" or len(param.options) > 0
        }
        encoded = {
            name: value if name in as_is else json.dumps(value) for name, value in params.items()
        }
        url = str(method.build_request_url(**encoded))
        return f"{url}{'&' if '?' in url else '?'}ws.size={PAGE_SIZE}"

    def _archive_listing(self, operation: str, what: str, **params: object) -> list[dict[str, Any]]:
        url = self._operation_url(self.ref.self_link, self.ref.type_link, operation, params)
        return read_pages(self.lp, url, what)

    @_translated
    def supported_series(self, wanted: tuple[str, ...] = ()) -> list[Series]:
        """The series to phase: the ones named, or every supported stable one."""
        found: dict[str, Series] = {}
        if self._distribution is None:
            self._distribution = self.lp.distributions["ubuntu"]
        listing = f"{self._distribution.series_collection_link}?ws.size={PAGE_SIZE}"
        for entry in read_pages(self.lp, listing, "ubuntu's series"):
            if entry.get("status") not in SUPPORTED_STATUSES:
                continue
            name, version = entry.get("name"), entry.get("version")
            if not (
                isinstance(name, str)
                and is_series_name(name)
                and isinstance(version, str)
                and _SERIES_VERSION.fullmatch(version)
            ):
                log.warning("skipping series %r %r: not a series name and version", name, version)
                continue
            arches = entry.get("architectures_collection_link")
            found[name] = Series(
                name,
                version,
                str(entry.get("self_link")),
                architectures_link=arches if isinstance(arches, str) else None,
            )
        unknown = [name for name in wanted if name not in found]
        if unknown:
            raise SetupError(
                "series",
                ",".join(unknown),
                f"not a supported Ubuntu series (supported: {', '.join(sorted(found))})",
            )
        chosen = [found[name] for name in wanted] if wanted else list(found.values())
        return sorted(chosen, key=lambda series: version_key(series.version), reverse=True)

    @_translated
    def list_sources(self, series: Series, since: datetime | None = None) -> list[SourceListing]:
        """Every source publication in the series' -updates pocket."""
        filters: dict[str, object] = {}
        if since is not None:
            filters["created_since_date"] = since.astimezone(UTC).isoformat()
        found = []
        for spph in self._archive_listing(
            "getPublishedSources",
            f"{series.name} -updates",
            distro_series=series.self_link,
            pocket="Updates",
            status="Published",
            **filters,
        ):
            source, version = spph.get("source_package_name"), spph.get("source_package_version")
            if _is_text(source, is_source_name) and _is_text(version, is_version):
                found.append(SourceListing(str(source), str(version), spph))
            else:
                log.warning(
                    "skipping %r %r in %s: not a Debian name and version",
                    source,
                    version,
                    series.name,
                )
        return found

    @_translated
    def architectures(self, series: Series) -> list[str]:
        """The self_links of the series' architectures (its distro_arch_series)."""
        link = series.architectures_link
        if link is None:
            link = str(self.lp.load(series.self_link).architectures_collection_link)
        entries = read_pages(
            self.lp, f"{link}?ws.size={PAGE_SIZE}", f"{series.name}'s architectures"
        )
        return [str(entry.get("self_link")) for entry in entries]

    @_translated
    def list_binaries(self, series: Series, arch_link: str, since: datetime) -> list[BinaryRecord]:
        """Every binary record of one architecture of the series' -updates pocket created
        since `since`, superseded ones too: the records of every upload copied there
        since, with each change of their percentages (`BINARY_FIELDS` of each).

        Oldest first: a record created while the pages are read is then listed last,
        instead of moving every record after it to the next page.
        """
        arch = arch_link.rstrip("/").rsplit("/", 1)[-1]
        entries = self._archive_listing(
            "getPublishedBinaries",
            f"{series.name} -updates binaries on {arch}",
            distro_arch_series=arch_link,
            pocket="Updates",
            created_since_date=since.astimezone(UTC).isoformat(),
            order_by_date_ascending=True,
        )
        return [binary_record(entry) for entry in entries]

    @_translated
    def read_update(
        self,
        series: Series,
        source: str,
        version: str,
        *,
        listed: SourceListing | None = None,
        previous_version: str | None = None,
        records: list[BinaryRecord] | None = None,
    ) -> Update | Gone:
        """The update if its binaries are still phasing, else why not.

        `records`: every record of its binaries in -updates, as this run's listings of
        the pocket gave them; without them, its binaries are listed (one request, given
        the publication as `listed`). An update already fully phased costs that one
        request, which is most of what a fresh database's full listing holds. The
        previous version is then the one an earlier run found, or one listing of the
        source's history in the series. Without `listed`, that history listing gives
        the publication too.
        """
        if listed is not None:
            if records is None:
                records = self._binaries_of(series, listed.representation)
            found = phasing_update(series, listed.representation, records, previous_version)
            if isinstance(found, Gone) or previous_version is not None:
                return found
            return replace(found, previous_version=self._previous(series, source, version))
        history = self._history(series, source)
        current = [
            entry
            for entry in history
            if entry.get("source_package_name") == source
            and entry.get("source_package_version") == version
            and entry.get("pocket") == "Updates"
            and entry.get("status") == "Published"
        ]
        if not current:
            return GONE_FROM_UPDATES
        return phasing_update(
            series,
            current[0],
            self._binaries_of(series, current[0]),
            _previous(history, source, version),
        )

    def _binaries_of(self, series: Series, publication: Mapping[str, Any]) -> list[BinaryRecord]:
        """Every record of a source publication's binaries, superseded ones too."""
        self_link, type_link = publication.get("self_link"), publication.get("resource_type_link")
        if not (isinstance(self_link, str) and isinstance(type_link, str)):
            raise LaunchpadFailure(
                f"{series.name} {publication.get('source_package_name')}: a source"
                " publication without its links"
            )
        url = self._operation_url(
            self_link, type_link, "getPublishedBinaries", {"active_binaries_only": False}
        )
        entries = read_pages(
            self.lp, url, f"{series.name} {publication.get('source_package_name')} binaries"
        )
        return [binary_record(entry) for entry in entries]

    def _history(self, series: Series, source: str) -> list[dict[str, Any]]:
        """Every publication of `source` in the series, any pocket and status."""
        return self._archive_listing(
            "getPublishedSources",
            f"{series.name} {source} publications",
            distro_series=series.self_link,
            source_name=source,
            exact_match=True,
        )

    def _previous(self, series: Series, source: str, version: str) -> str | None:
        return _previous(self._history(series, source), source, version)

    @_translated
    def account(self) -> str:
        """The link of the Launchpad account this client's credentials act as (`lp.me`).

        Launchpad names it as the creator of every record the phaser's writes create,
        which is how a run tells the phaser's changes from a person's. Two requests.
        """
        return str(self.lp.me.self_link)

    @_translated
    def set_percentage(self, binary: BinaryPublication, percentage: int) -> None:
        """Write one binary's percentage (100 means fully phased; Launchpad stores None).

        One POST of the named operation to the record's own link, as launchpadlib's
        NamedOperation sends it. launchpadlib would then GET the record posted to
        (`lp_refresh`), but that old record tells nothing: Launchpad answers the POST
        itself with the new record (or null, when nothing changed). It rewrites this
        record's architecture only (see `policy.writes_for`).
        """
        try:
            self.lp._browser.post(
                binary.self_link,
                "changeOverride",
                new_phased_update_percentage=json.dumps(percentage),
            )
        except Unauthorized:
            raise CredentialsRejected(
                "Launchpad refused the write (401): the token needs archive-admin rights"
            ) from None
        except HTTPError as error:
            raise LaunchpadFailure(
                f"changeOverride on {binary.name} failed: HTTP {error.response.status}"
            ) from None
