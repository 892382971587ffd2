"""Reading phasing updates from Launchpad, and writing their percentages.

Cost matters more than anything here: every request is a remote round trip. Link
attributes (`*_link`) are read as strings and resolved at most once per run; an
entry's own fields come with the collection page that listed it, and travel to the
worker thread that reads the update as plain JSON (`SourceListing`), so no thread
loads an entry another client already has. The first run that sees an update reads
two things (the source's history in the series, for its previous version, then its
binaries); later runs, given the previous version the state database recorded, read
only the binaries.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
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


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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


def read_all(collection: Any, what: str) -> list[Any]:
    """Every entry of a paged collection; LaunchpadFailure when pages fell short.

    launchpadlib follows `next_collection_link` until a page has none, so a listing
    that stops early (a page lost between requests, a row that moved while paging)
    would look complete. Deciding on part of an upload's binaries could step the
    ones read and skip the others, so a listing with fewer entries than its first
    page's `total_size` is a failed read, retried on the next run. When Launchpad
    gives only a `total_size_link`, counting would cost a request: no check then.
    """
    entries = list(collection)
    # The first page's representation, as lazr.restfulclient keeps it (no request).
    first_page = getattr(getattr(collection, "_wadl_resource", None), "representation", None)
    promised = first_page.get("total_size") if isinstance(first_page, dict) else None
    if isinstance(promised, int) and not isinstance(promised, bool) and len(entries) != promised:
        # More than announced is as bad as fewer: an entry published while the pages
        # were read moves the others, and one of them is then listed twice.
        raise LaunchpadFailure(
            f"{what}: Launchpad listed {len(entries)} of the {promised} entries it announced"
        )
    links = [getattr(entry, "self_link", None) for entry in entries]
    if len(set(links)) != len(links):
        raise LaunchpadFailure(f"{what}: Launchpad listed an entry twice while paging")
    return entries


@dataclass(frozen=True)
class SourceListing:
    """One source publication of a -updates listing, as plain data.

    `representation` is the entry's JSON as Launchpad sent it in the listing's page:
    another thread's client binds it (`LaunchpadArchive.read_update`) and lists its
    binaries without loading the publication again.
    """

    source: str
    version: str
    representation: Mapping[str, Any] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Gone:
    """An update no longer phasing, and why: later runs need not read it again."""

    why: str


GONE_FROM_UPDATES = Gone("no longer published in -updates (superseded or deleted)")
FULLY_PHASED_ALREADY = Gone("fully phased")
NO_ACTIVE_BINARIES = Gone("no active binaries in -updates (superseded or deleted)")


def representation_of(entry: Any) -> dict[str, Any] | None:
    """The JSON an entry of a collection page was built from, as lazr keeps it (no request)."""
    representation = getattr(getattr(entry, "_wadl_resource", None), "representation", None)
    return dict(representation) if isinstance(representation, dict) else None


def _previous(history: list[Any], source: str, version: str) -> str | None:
    """The newest version of `source` published in the series before `version`."""
    older = {
        entry.source_package_version
        for entry in history
        if entry.source_package_name == source
        and entry.pocket in PREVIOUS_POCKETS
        and entry.status in PREVIOUS_STATUSES
        and _is_text(entry.source_package_version, is_version)
        and compare_versions(entry.source_package_version, version) < 0
    }
    return max(older, key=version_key) if older else None


def _level(record: Any) -> int:
    """A record's percentage; Launchpad's None (fully phased) as FULLY_PHASED.

    Anything but a whole number from 0 to 100 is a failed read of the update, never
    a level the engine acts on.
    """
    percentage = record.phased_update_percentage
    if percentage is None:
        return FULLY_PHASED
    if isinstance(percentage, bool) or not isinstance(percentage, int):
        raise LaunchpadFailure(f"a phased_update_percentage of type {type(percentage).__name__}")
    if not 0 <= percentage <= FULLY_PHASED:
        raise LaunchpadFailure(f"a phased_update_percentage of {percentage}, out of 0..100")
    return percentage


def _order(record: Any) -> tuple[datetime, str]:
    return (_utc(record.date_created) or datetime.min.replace(tzinfo=UTC), record.self_link)


def _predecessor(records: list[Any], record: Any) -> Any:
    """The record `record` replaced (same binary and architecture), None for the first.

    The first record of a binary in an upload is the copy to -updates; every later one
    was made by a changeOverride, and names its caller in `creator_link`.
    """
    earlier = [r for r in records if _order(r) < _order(record)]
    return max(earlier, key=_order) if earlier else None


def _binary(record: Any, predecessor: Any) -> BinaryPublication:
    return BinaryPublication(
        self_link=record.self_link,
        name=record.binary_package_name,
        arch_link=record.distro_arch_series_link,
        percentage=_level(record),
        is_debug=bool(record.is_debug),
        date_created=_utc(record.date_created) or datetime.now(UTC),
        set_by=None if predecessor is None else record.creator_link,
        previous_percentage=None if predecessor is None else _level(predecessor),
    )


class LaunchpadArchive:
    """The reads and writes of one cycle against Ubuntu's primary archive.

    One instance per thread: a launchpadlib client must not be shared between threads.
    Entries are cached per instance, so a write goes through the client that read it.
    """

    @_translated
    def __init__(self, lp: Launchpad, archive_link: str | None = None) -> None:
        self.lp = lp
        self._binaries: dict[str, Any] = {}
        try:
            if archive_link is None:
                self.archive = lp.distributions["ubuntu"].main_archive
            else:
                self.archive = lp.load(archive_link)
            # Read now, by the thread that owns this client: other threads only need
            # the string, and must never touch this client's entries.
            self.archive_link = str(self.archive.self_link)
        except Unauthorized:
            raise CredentialsRejected(REJECTED) from None

    @_translated
    def supported_series(self, wanted: tuple[str, ...] = ()) -> list[Series]:
        """The series to phase: the ones named, or every supported stable one."""
        found: dict[str, Series] = {}
        for entry in read_all(self.lp.distributions["ubuntu"].series, "ubuntu's series"):
            if entry.status not in SUPPORTED_STATUSES:
                continue
            name, version = entry.name, entry.version
            if not (
                isinstance(name, str)
                and is_series_name(name)
                and isinstance(version, str)
                and _SERIES_VERSION.fullmatch(version)
            ):
                log.warning("skipping series %r %r: not a series name and version", name, version)
                continue
            found[name] = Series(name, version, entry.self_link)
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
        filters: dict[str, Any] = {}
        if since is not None:
            filters["created_since_date"] = since.astimezone(UTC).isoformat()
        publications = self.archive.getPublishedSources(
            distro_series=series.self_link, pocket="Updates", status="Published", **filters
        )
        found = []
        for spph in read_all(publications, f"{series.name} -updates"):
            source, version = spph.source_package_name, spph.source_package_version
            if _is_text(source, is_source_name) and _is_text(version, is_version):
                found.append(SourceListing(source, version, representation_of(spph) or {}))
            else:
                log.warning(
                    "skipping %r %r in %s: not a Debian name and version",
                    source,
                    version,
                    series.name,
                )
        return found

    @_translated
    def read_update(
        self,
        series: Series,
        source: str,
        version: str,
        *,
        listed: SourceListing | None = None,
        previous_version: str | None = None,
    ) -> Update | Gone:
        """The update if its binaries are still phasing, else why not. One or two requests.

        Given the publication as `listed` (by this run's -updates listing, or as kept
        from an earlier one), the binaries are read first: an update already fully
        phased costs that one request, which is most of what a fresh database's full
        listing holds. The previous version is then the one an earlier run found, or
        one listing of the source's history in the series. Without `listed`, that
        history listing gives the publication (as an entry of this thread's client) too.
        """
        spph = self._bind(listed.representation) if listed is not None else None
        if spph is not None:
            found = self._phasing_update(series, spph, previous_version)
            if isinstance(found, Gone) or previous_version is not None:
                return found
            return replace(found, previous_version=self._previous(series, source, version))
        history = self._history(series, source)
        current = [
            entry
            for entry in history
            if entry.source_package_name == source
            and entry.source_package_version == version
            and entry.pocket == "Updates"
            and entry.status == "Published"
        ]
        if not current:
            return GONE_FROM_UPDATES
        return self._phasing_update(series, current[0], _previous(history, source, version))

    def _history(self, series: Series, source: str) -> list[Any]:
        """Every publication of `source` in the series, any pocket and status."""
        return read_all(
            self.archive.getPublishedSources(
                distro_series=series.self_link, source_name=source, exact_match=True
            ),
            f"{series.name} {source} publications",
        )

    def _previous(self, series: Series, source: str, version: str) -> str | None:
        return _previous(self._history(series, source), source, version)

    def _bind(self, representation: Mapping[str, Any]) -> Any:
        """An entry of this client made from a representation another client read.

        This is what lazr.restfulclient's `ServiceRoot.load` does once its GET has
        answered (unchanged since 2009, and in Ubuntu 24.04's 0.14.6), without the GET.
        None when the representation lacks what binding needs: the caller then reads
        the publication itself.
        """
        type_link = representation.get("resource_type_link")
        self_link = representation.get("self_link")
        if not (isinstance(type_link, str) and isinstance(self_link, str)):
            return None
        wadl = self.lp._wadl
        try:
            resource_type = wadl.get_resource_type(type_link)
        except (KeyError, ValueError):  # a type this WADL lacks, a link to another WADL
            return None
        return self.lp._create_bound_resource(
            self.lp,
            WadlResource(wadl, self_link, resource_type.tag),
            dict(representation),
            "application/json",
            representation_needs_processing=False,
        )

    def _phasing_update(self, series: Series, spph: Any, previous: str | None) -> Update | Gone:
        records = read_all(
            spph.getPublishedBinaries(active_binaries_only=False),
            f"{series.name} {spph.source_package_name} binaries",
        )
        current: dict[tuple[str, str], Any] = {}
        history: dict[tuple[str, str], list[Any]] = {}
        highest = 0
        for record in records:
            if not _is_text(record.binary_package_name, is_source_name):
                # Binary names follow the source name syntax; this one is not a name. The
                # log quotes it; the failure, which the public report shows, does not.
                log.warning(
                    "%s %s: a binary is named %r, not a Debian package name",
                    series.name,
                    spph.source_package_name,
                    record.binary_package_name,
                )
                raise LaunchpadFailure(
                    f"{series.name} {spph.source_package_name}: a binary's name is not a"
                    " Debian package name (the log quotes it)"
                )
            percentage = _level(record)  # every record's, superseded ones too
            if not record.is_debug and percentage < FULLY_PHASED:
                highest = max(highest, percentage)
            key = (record.binary_package_name, record.distro_arch_series_link)
            history.setdefault(key, []).append(record)
            if record.status not in ACTIVE:
                continue
            best = current.get(key)
            if best is None or (_utc(record.date_created), record.self_link) > (
                _utc(best.date_created),
                best.self_link,
            ):
                current[key] = record
        binaries = tuple(
            _binary(record, _predecessor(history[key], record)) for key, record in current.items()
        )
        debs = [b for b in binaries if not b.is_debug]
        if not debs:
            return NO_ACTIVE_BINARIES
        if all(b.percentage == FULLY_PHASED for b in debs):
            return FULLY_PHASED_ALREADY
        for record in current.values():
            self._binaries[record.self_link] = record
        published = _utc(spph.date_published) or _utc(spph.date_created) or datetime.now(UTC)
        return Update(
            series=series,
            source=spph.source_package_name,
            version=spph.source_package_version,
            previous_version=previous,
            date_published=published,
            self_link=spph.self_link,
            signer_link=spph.package_signer_link,
            creator_link=spph.package_creator_link,
            binaries=binaries,
            highest_percentage=max(
                highest, *(b.percentage for b in debs if b.percentage < FULLY_PHASED)
            ),
        )

    @_translated
    def account(self) -> str:
        """The link of the Launchpad account this client's credentials act as (`lp.me`).

        Launchpad names it as the creator of every record the phaser's writes create,
        which is how a run tells the phaser's changes from a person's. Two requests.
        """
        return str(self.lp.me.self_link)

    @_translated
    def set_percentage(self, binary: BinaryPublication, percentage: int) -> None:
        """Write one binary's percentage (100 means fully phased; Launchpad stores None)."""
        entry = self._binaries.get(binary.self_link) or self.lp.load(binary.self_link)
        try:
            entry.changeOverride(new_phased_update_percentage=percentage)
        except Unauthorized:
            raise CredentialsRejected(
                "Launchpad refused the write (401): the token needs archive-admin rights"
            ) from None
        except HTTPError as error:
            raise LaunchpadFailure(
                f"changeOverride on {binary.name} failed: HTTP {error.response.status}"
            ) from None
