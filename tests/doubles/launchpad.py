"""A Launchpad web service double that the real launchpadlib talks to over HTTP.

Usage::

    with LaunchpadDouble(scenario) as lp_double:
        lp = Launchpad.login_anonymously(
            "phased-updater", service_root=lp_double.service_root, version="devel",
            launchpadlib_dir=tmp, proxy_info=None)

It serves launchpadlib's own WADL (patched with the devel-only parts the
phaser uses, see `tests.doubles.wadl`), renders every entry from that WADL,
checks OAuth as Launchpad does, and implements the named operations the phaser
calls with Launchpad's semantics. See `LaunchpadDouble` for the knobs tests use.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from tests.doubles.launchpad_auth import (
    Token,
    Unauthorized,
    Viewer,
    identify,
    write_credentials_file,
)
from tests.doubles.launchpad_model import Archive, BadRequest, BinaryState
from tests.doubles.launchpad_render import (
    ARCHIVE_PATH,
    DISTRIBUTION,
    Json,
    Rendered,
    Renderer,
    person_path,
)
from tests.doubles.loopback import LoopbackServer, Request, Response
from tests.doubles.scenario import Person, Scenario, Series
from tests.doubles.wadl import WADL_MEDIA_TYPE, OperationSpec, schema, wadl_document

__all__ = [
    "BinaryState",
    "Fault",
    "LaunchpadDouble",
    "RecordedRequest",
    "write_credentials_file",
]

API_VERSION = "devel"
# The account a token acts as unless a test says otherwise: the phaser's bot.
PHASER_ACCOUNT = "phasing-bot"
JSON_TYPE = "application/json"  # exactly: with a charset launchpadlib returns raw bytes
# Collection links of the service root whose Launchpad path differs from the link name.
_ROOT_COLLECTION_PATHS = {
    "distributions_collection_link": "distros",
    "me_link": "people/+me",
    "bug_trackers_collection_link": "bugs/bugtrackers",
    "project_groups_collection_link": "projectgroups",
}
# Parameters lazr.restful takes on any collection-returning call: the page, and
# ws.show=total_size (a total_size_link), none of them an argument of the operation.
_PAGING_PARAMS = ("ws.start", "ws.size", "memo", "direction", "ws.show")


@dataclass(frozen=True)
class RecordedRequest:
    """One request the double answered."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    token: str | None
    status: int


@dataclass
class Fault:
    """Make matching requests fail or stall, for reliability tests.

    Matches when `method` (None: any) equals the request method and
    `path_regex` is found in "path?query". `status` None only adds `delay`.
    `times` is how many requests it affects (None: all of them). `trickle` sends the
    answer one byte every `trickle` seconds (see `loopback.Response`).
    """

    method: str | None = None
    path_regex: str = ""
    status: int | None = 500
    delay: float = 0.0
    times: int | None = 1
    body: str = "Injected fault"
    trickle: float = 0.0
    # Run when the fault matches, before the answer (e.g. an upload published while
    # the phaser pages through a listing).
    action: Callable[[], None] | None = None
    # Run likewise, but without the double's lock: it may wait for something to
    # happen elsewhere (a request to the Error Tracker) while other requests go on.
    wait: Callable[[], None] | None = None

    def matches(self, method: str, target: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        return re.search(self.path_regex, target) is not None


def history_lookup(source: str | None = None) -> str:
    """A `Fault` regex for the listing of one source's publications in a series (its
    history, which a run reads for the previous version of an update it sees first);
    None: any source's.

    A fault's target string names the query's keys in the order launchpadlib sends
    them, alphabetical, with their values decoded (JSON-encoded strings in quotes).
    """
    name = '[^"]+' if source is None else re.escape(source)
    return rf'source_name="{name}"&ws\.op=getPublishedSources\b'


def source_listing(series: str) -> str:
    """A `Fault` regex for the listing of a series' -updates sources (what a run lists
    each series with first)."""
    return (
        rf'distro_series="[^"]*/{re.escape(series)}"&pocket=Updates&status=Published'
        r"&ws\.op=getPublishedSources\b"
    )


def pocket_listing(series: str) -> str:
    """A `Fault` regex for the listings of a series' -updates binaries (one per
    architecture: `distro_arch_series` names the series)."""
    return rf'distro_arch_series="[^"]*/{re.escape(series)}/[^"]*".*ws\.op=getPublishedBinaries\b'


class _NotFound(Exception):
    pass


class _Me(Exception):
    """people/+me: Launchpad redirects to the caller's own person, or refuses anonymous."""


@dataclass(frozen=True)
class _Entry:
    entry_type: str
    render: Callable[[Viewer], Json]
    key: object = None


@dataclass(frozen=True)
class _Collection:
    entry_type: str
    entries: Callable[[Viewer], Sequence[Json]]


_Target = _Entry | _Collection


def _json_response(document: object, status: int = 200, etag: str | None = None) -> Response:
    headers = {"ETag": etag} if etag is not None else {}
    return Response(status, json.dumps(document).encode(), JSON_TYPE, headers)


def _text_response(status: int, text: str) -> Response:
    return Response(status, text.encode(), "text/plain")


class LaunchpadDouble(LoopbackServer):
    """Serves one `Scenario` as Launchpad's ``devel`` web service on 127.0.0.1.

    Tests read and set:

    - `clock`: the double's "now" (UTC); records it creates are dated with it.
    - `requests`: every request answered (`RecordedRequest`), guarded by `lock`.
    - `faults`: `Fault` rules consulted on every request; `latency`: seconds
      added to every request.
    """

    def __init__(self, scenario: Scenario, *, clock: datetime | None = None) -> None:
        super().__init__(self._handle)
        self.scenario = scenario
        self.archive = Archive(scenario)
        latest = max((u.published for u in scenario.uploads), default=None)
        self.clock: datetime = clock or (
            latest + timedelta(hours=1) if latest else datetime.now(UTC)
        )
        self.lock = threading.RLock()
        # Notified after every answered request, so tests wait on events, not clocks.
        self._answered = threading.Condition(self.lock)
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.trickled: list[Response] = []  # answers a `Fault(trickle=...)` slowed, as sent
        self.latency: float = 0.0
        # Requests being answered now, and the most there ever were at once: what the
        # client's bound on requests in flight is held to.
        self.in_flight = 0
        self.most_in_flight = 0
        self._tokens: dict[tuple[str, str], Token] = {}
        self._renderer: Renderer | None = None

    # -- addresses ------------------------------------------------------------

    @property
    def service_root(self) -> str:
        """What the engine passes as --launchpad; launchpadlib appends ``devel/``."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def api_base(self) -> str:
        """The base every link uses: ``http://127.0.0.1:PORT/devel/``."""
        return f"{self.service_root}{API_VERSION}/"

    @property
    def renderer(self) -> Renderer:
        if self._renderer is None or self._renderer.base != self.api_base:
            self._renderer = Renderer(self.api_base, schema(), self.archive)
        return self._renderer

    # -- test controls --------------------------------------------------------

    def add_token(
        self,
        consumer_key: str,
        token: str,
        secret: str,
        *,
        admin: bool = True,
        person: str = PHASER_ACCOUNT,
    ) -> None:
        """Accept this OAuth token, acting as `person`; only admin tokens may call changeOverride.

        A person the scenario does not know is added, as an account with no address
        (the phaser's bot account, an SRU member's).
        """
        with self.lock:
            if person not in self.archive.people:
                self.archive.people[person] = Person(person, person, None)
            self._tokens[(consumer_key, token)] = Token(consumer_key, token, secret, admin, person)

    def revoke_all_tokens(self) -> None:
        """Every token is revoked: Launchpad answers 401 "Unknown access token"."""
        with self.lock:
            self._tokens.clear()

    def publish(self) -> None:
        """Run the publisher: Pending records become Published, older ones Superseded."""
        with self.lock:
            self.archive.publish(self.clock)

    def binaries(self, series: str, source: str, version: str) -> list[BinaryState]:
        """The active (Pending and Published) binary records of an upload."""
        with self.lock:
            return self.archive.current_binaries(series, source, version)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Whether `condition` holds, checked after each request the double answers."""
        with self._answered:
            return self._answered.wait_for(condition, timeout)

    def reset_requests(self) -> None:
        with self.lock:
            self.requests.clear()
            self.most_in_flight = self.in_flight

    def count(self, method: str | None = None, path_contains: str | None = None) -> int:
        with self.lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method.upper())
                and (path_contains is None or path_contains in r.path)
            )

    # -- HTTP -----------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return self._answer(request)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _answer(self, request: Request) -> Response:
        if self.latency:
            time.sleep(self.latency)
        form = (
            dict(parse_qsl(request.body.decode(), keep_blank_values=True))
            if request.method == "POST"
            else {}
        )
        viewer: Viewer | None = None
        fault = self._fault(request)
        response = (
            None
            if fault is None or fault.status is None
            else _text_response(fault.status, fault.body)
        )
        if response is None:
            try:
                viewer = identify(request.header("Authorization"), self._tokens)
            except Unauthorized as error:
                response = _text_response(401, str(error))
        if response is None and viewer is not None:
            with self.lock:
                response = self._route(request, form, viewer)
        assert response is not None
        if fault is not None and fault.trickle:
            response.trickle = fault.trickle
            with self.lock:
                self.trickled.append(response)
        with self.lock:
            self.requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    query=request.query_dict,
                    form=form,
                    token=viewer.token.token if viewer and viewer.token else None,
                    status=response.status,
                )
            )
            self._answered.notify_all()
        return response

    def _fault(self, request: Request) -> Fault | None:
        """The fault this request meets, if any (counted against its `times`)."""
        target = request.path + (
            "?" + "&".join(f"{k}={v}" for k, v in request.query) if request.query else ""
        )
        with self.lock:
            fault = next((f for f in self.faults if f.matches(request.method, target)), None)
            if fault is not None and fault.times is not None:
                fault.times -= 1
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.action is not None:
            with self.lock:
                fault.action()
        if fault is not None and fault.wait is not None:
            fault.wait()
        return fault

    def _route(self, request: Request, form: dict[str, str], viewer: Viewer) -> Response:
        prefix = f"/{API_VERSION}/"
        if not request.path.startswith(prefix):
            return _text_response(404, f"No such API version: {request.path}")
        path = request.path[len(prefix) :]
        if path == "":
            return self._service_root(request)
        try:
            target = self._resolve(path)
        except _NotFound:
            return _text_response(404, f"Object: {path!r} not found")
        except _Me:
            if viewer.token is None:
                return _text_response(401, "You need to be logged in to view this URL.")
            location = self.api_base + person_path(viewer.token.person)
            return Response(303, headers={"Location": location})
        try:
            if request.method == "GET":
                return self._get(request, path, target, viewer)
            if request.method == "POST" and isinstance(target, _Entry):
                return self._post(target, form, viewer)
        except BadRequest as error:
            return _text_response(400, str(error))
        except Unauthorized as error:
            return _text_response(401, str(error))
        return _text_response(405, f"{request.method} is not supported by the double")

    def _service_root(self, request: Request) -> Response:
        if request.method != "GET":
            return _text_response(405, "The service root only answers GET")
        if WADL_MEDIA_TYPE in (request.header("Accept") or ""):
            body, etag = wadl_document(self.api_base)
            headers = {"ETag": etag, "Vary": "Accept"}
            if request.header("If-None-Match") == etag:
                return Response(304, headers=headers)
            return Response(200, body, WADL_MEDIA_TYPE, headers)
        document: Json = {}
        for name in schema().service_root_links:
            if name != "resource_type_link":
                suffix = _ROOT_COLLECTION_PATHS.get(name, name.split("_collection_link")[0])
                document[name] = self.api_base + suffix.removesuffix("_link")
        document["resource_type_link"] = f"{self.api_base}#service-root"
        return Response(200, json.dumps(document).encode(), JSON_TYPE, {"Vary": "Accept"})

    # -- resolution -----------------------------------------------------------

    def _resolve(self, path: str) -> _Target:
        render = self.renderer
        archive = self.archive
        parts = path.rstrip("/").split("/")
        if parts == ["people", "+me"]:
            raise _Me
        if parts == ["distros"]:
            return _Collection("distribution", lambda v: [render.distribution()])
        if parts[0].startswith("~") and len(parts) in (1, 3):
            return self._resolve_person(parts)
        if parts[0] != DISTRIBUTION:
            raise _NotFound
        rest = parts[1:]
        if not rest:
            return _Entry("distribution", lambda v: render.distribution())
        if rest == ["series"]:
            return _Collection(
                "distro_series",
                lambda v: [render.distro_series(s) for s in archive.series_newest_first()],
            )
        if path.startswith(ARCHIVE_PATH):
            return self._resolve_archive(path[len(ARCHIVE_PATH) :].strip("/"))
        series = archive.series.get(rest[0])
        if series is None:
            raise _NotFound
        if len(rest) == 1:
            return _Entry("distro_series", lambda v: render.distro_series(series), series)
        if rest[1:] == ["architectures"]:
            return _Collection(
                "distro_arch_series",
                lambda v: [
                    render.distro_arch_series(series, a) for a in archive.arches[series.name]
                ],
            )
        if len(rest) == 2 and rest[1] in archive.arches[series.name]:
            arch = rest[1]
            return _Entry(
                "distro_arch_series", lambda v: render.distro_arch_series(series, arch), series
            )
        raise _NotFound

    def _resolve_archive(self, rest: str) -> _Target:
        render = self.renderer
        if rest == "":
            return _Entry("archive", lambda v: render.primary_archive())
        kind, _, number = rest.partition("/")
        if not number.isdigit():
            raise _NotFound
        record_id = int(number)
        if kind == "+sourcepub" and record_id in self.archive.sources:
            source = self.archive.sources[record_id]
            return _Entry(
                "source_package_publishing_history", lambda v: render.source(source), record_id
            )
        if kind == "+binarypub" and record_id in self.archive.binaries:
            binary = self.archive.binaries[record_id]
            return _Entry(
                "binary_package_publishing_history", lambda v: render.binary(binary), record_id
            )
        raise _NotFound

    def _resolve_person(self, parts: list[str]) -> _Target:
        person = self.archive.people.get(parts[0][1:])
        if person is None:
            raise _NotFound
        if len(parts) == 1:
            return _Entry("person", lambda v: self.renderer.person(person, anonymous=v.anonymous))
        visible = person.is_valid and not person.hidden_email
        if parts[1] == "+email" and parts[2] == person.email and visible:
            return _Entry("email_address", lambda v: self.renderer.email_address(person))
        raise _NotFound

    def _entry_for_link(self, link: object, entry_type: str, param: str) -> _Entry:
        """An entry argument of a named operation, passed as its self_link."""
        if not isinstance(link, str) or not link.startswith(self.api_base):
            raise BadRequest(f"{param}: {link!r} is not a link to a {entry_type}")
        try:
            target = self._resolve(link[len(self.api_base) :])
        except _NotFound:
            raise BadRequest(f"{param}: no such object {link!r}") from None
        if not isinstance(target, _Entry) or target.entry_type != entry_type:
            raise BadRequest(f"{param}: {link!r} is not a link to a {entry_type}")
        return target

    # -- GET and POST ---------------------------------------------------------

    def _get(self, request: Request, path: str, target: _Target, viewer: Viewer) -> Response:
        params = request.query_dict
        if "ws.op" in params:
            if not isinstance(target, _Entry):
                raise BadRequest("The double implements no named operations on collections")
            operation = self._operation(target, params["ws.op"], "GET")
            args = _decode_args(operation, params)
            result = self._call(target, operation, args, viewer)
            if isinstance(result, Rendered):
                if params.get("ws.show") == "total_size":
                    # What a total_size_link answers (lazr.restful's get_total_size).
                    return _json_response(len(result))
                result_type = _RESULT_TYPES[(target.entry_type, operation.name)]
                page = self.renderer.collection(
                    result_type, result, path, request.query, operation=True
                )
                return _json_response(page)
            return _json_response(result)
        if isinstance(target, _Collection):
            page = self.renderer.collection(
                target.entry_type, target.entries(viewer), path, request.query
            )
            return _json_response(page)
        document = target.render(viewer)
        etag = str(document["http_etag"])
        if request.header("If-None-Match") == etag:
            return Response(304, headers={"ETag": etag})
        return _json_response(document, etag=etag)

    def _post(self, target: _Entry, form: dict[str, str], viewer: Viewer) -> Response:
        if "ws.op" not in form:
            raise BadRequest("No operation name given (ws.op).")
        operation = self._operation(target, form["ws.op"], "POST")
        args = _decode_args(operation, form)
        if viewer.token is None or not viewer.token.admin:
            who = "anonymous" if viewer.token is None else viewer.token.token
            raise Unauthorized(
                f"(<{target.entry_type} {target.key}>, {operation.name!r}, "
                f"'launchpad.Admin') denied to {who}"
            )
        return _json_response(self._call(target, operation, args, viewer))

    def _operation(self, target: _Entry, name: str, http_method: str) -> OperationSpec:
        operation = schema().operations.get(target.entry_type, {}).get(name)
        if operation is None or operation.http_method != http_method:
            raise BadRequest(f"No such operation: {name}")
        return operation

    def _call(
        self, target: _Entry, operation: OperationSpec, args: dict[str, object], viewer: Viewer
    ) -> object:
        """Run an implemented named operation; a `Rendered` result becomes a collection."""
        render = self.renderer
        archive = self.archive
        match (target.entry_type, operation.name):
            case ("archive", "getPublishedSources"):
                series = args.get("distro_series")
                sources = archive.published_sources(
                    name=_optional_str(args, "source_name"),
                    exact_match=_bool(args, "exact_match", default=False),
                    version=_optional_str(args, "version"),
                    status=_optional_str(args, "status"),
                    series=self._series_of(series, "distro_series"),
                    pocket=_optional_str(args, "pocket"),
                    created_since=_optional_datetime(args, "created_since_date"),
                    order_by_date=_bool(args, "order_by_date", default=False),
                    order_by_date_ascending=_bool(args, "order_by_date_ascending", default=False),
                )
                return Rendered(sources, render.source)
            case ("archive", "getPublishedBinaries"):
                arch_series = None
                if args.get("distro_arch_series") is not None:
                    das = self._entry_for_link(
                        args["distro_arch_series"], "distro_arch_series", "distro_arch_series"
                    )
                    assert isinstance(das.key, Series)
                    arch = str(args["distro_arch_series"]).rstrip("/").rsplit("/", 1)[1]
                    arch_series = (das.key.name, arch)
                binaries = archive.published_binaries(
                    name=_optional_str(args, "binary_name"),
                    exact_match=_bool(args, "exact_match", default=False),
                    version=_optional_str(args, "version"),
                    status=_optional_str(args, "status"),
                    series_arch=arch_series,
                    pocket=_optional_str(args, "pocket"),
                    created_since=_optional_datetime(args, "created_since_date"),
                    order_by_date=_bool(args, "order_by_date", default=False),
                    order_by_date_ascending=_bool(args, "order_by_date_ascending", default=False),
                )
                return Rendered(binaries, render.binary)
            case ("source_package_publishing_history", "getPublishedBinaries"):
                assert isinstance(target.key, int)
                active_only = _bool(args, "active_binaries_only", default=True)
                records = archive.binaries_for_source(target.key, active_only=active_only)
                return Rendered(records, render.binary)
            case ("binary_package_publishing_history", "changeOverride"):
                assert isinstance(target.key, int)
                assert viewer.token is not None  # _post refuses anonymous writes
                new = archive.change_override(
                    target.key,
                    _optional_int(args, "new_phased_update_percentage"),
                    self.clock,
                    viewer.token.person,
                )
                return None if new is None else render.binary(new)
            case ("distribution", "getSeries"):
                wanted = _optional_str(args, "name_or_version")
                for series in archive.series.values():
                    if wanted in (series.name, series.version):
                        return render.distro_series(series)
                raise BadRequest(f"No such distribution series: '{wanted}'.")
            case ("distro_series", "getDistroArchSeries"):
                assert isinstance(target.key, Series)
                tag = _optional_str(args, "archtag")
                if tag not in archive.arches[target.key.name]:
                    raise BadRequest(f"Unknown architecture {tag} for {target.key.name}")
                return render.distro_arch_series(target.key, tag)
        raise BadRequest(
            f"{operation.name} exists in the WADL but the double does not implement it"
        )

    def _series_of(self, link: object, param: str) -> str | None:
        if link is None:
            return None
        entry = self._entry_for_link(link, "distro_series", param)
        assert isinstance(entry.key, Series)
        return entry.key.name


# The entry type of each collection-returning operation the double implements.
_RESULT_TYPES = {
    ("archive", "getPublishedSources"): "source_package_publishing_history",
    ("archive", "getPublishedBinaries"): "binary_package_publishing_history",
    ("source_package_publishing_history", "getPublishedBinaries"): (
        "binary_package_publishing_history"
    ),
}


def _decode_args(operation: OperationSpec, raw: dict[str, str]) -> dict[str, object]:
    """Decode named-operation arguments the way lazr.restful does.

    launchpadlib JSON-encodes every value except those of parameters with a
    fixed list of options, which it sends raw. Unknown parameter names are
    refused so that a misspelling fails loudly.
    """
    given = {k: v for k, v in raw.items() if k != "ws.op" and k not in _PAGING_PARAMS}
    unknown = sorted(set(given) - set(operation.params))
    if unknown:
        raise BadRequest(f"{operation.name}: unknown parameter(s): {', '.join(unknown)}")
    args: dict[str, object] = {}
    for name, spec in operation.params.items():
        if name not in given:
            if spec.required:
                raise BadRequest(f"{operation.name}: missing required parameter {name}")
            continue
        value = given[name]
        if spec.options:
            if value not in spec.options:
                raise BadRequest(
                    f"{name}: Invalid value {value!r}; valid values are: " + ", ".join(spec.options)
                )
            args[name] = value
            continue
        try:
            args[name] = json.loads(value)
        except ValueError:
            args[name] = value
    return args


def _optional_str(args: dict[str, object], name: str) -> str | None:
    value = args.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name}: expected a string, got {value!r}")
    return value


def _bool(args: dict[str, object], name: str, *, default: bool) -> bool:
    value = args.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{name}: expected true or false, got {value!r}")
    return value


def _optional_int(args: dict[str, object], name: str) -> int | None:
    value = args.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name}: expected an integer, got {value!r}")
    return value


def _optional_datetime(args: dict[str, object], name: str) -> datetime | None:
    value = _optional_str(args, name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name}: {value!r} is not a date-time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
