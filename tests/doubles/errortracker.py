"""An Error Tracker (errors.ubuntu.com) API double on 127.0.0.1.

Serves the two tastypie endpoints the phaser reads::

    GET /api/1.0/package-version-new-buckets/?format=json&package=P&previous_version=O&new_version=N
    GET /api/1.0/package-rate-of-crashes/?format=json&exclude_proposed=True&release=Ubuntu%2022.04
        &package=P&old_version=O&new_version=N&phased_update_percentage=10&date=YYYY-MM-DD

Configure answers with `new_buckets`, `rates` and `known_versions`, and break
them with `failures` (see `FAILURE_MODES`). Missing or malformed query
parameters are answered with 400 so that a client bug shows in tests; the real
service is laxer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from tests.doubles.loopback import LoopbackServer, Request, Response

NEW_BUCKETS = "package-version-new-buckets"
RATE_OF_CRASHES = "package-rate-of-crashes"
API_PREFIX = "/api/1.0/"
FAILURE_MODES = (
    "500",  # HTTP 500 with tastypie's canned error
    "timeout",  # no answer within `timeout_delay` seconds, then the connection drops
    "html-200",  # an HTML page with status 200 (a proxy or maintenance page)
    "404",  # HTTP 404, as for a version Launchpad does not know
    "bad-json",  # status 200, application/json, a body that is not JSON
    "missing-fields",  # objects lacking required fields
    "wrong-types",  # objects whose fields have the wrong JSON types
    "empty-objects",  # "objects": [] (for new buckets that is a valid "nothing new")
    "trickle",  # a valid answer, one byte every `trickle_delay` seconds
)
_REQUIRED = {
    NEW_BUCKETS: ("format", "package", "previous_version", "new_version"),
    RATE_OF_CRASHES: (
        "format",
        "package",
        "old_version",
        "new_version",
        "release",
        "phased_update_percentage",
        "date",
    ),
}
_CANNED_500 = "Sorry, this request could not be processed. Please try again later."

Bucket = dict[str, object]
Rate = dict[str, object]


@dataclass(frozen=True)
class ErrorTrackerRequest:
    """One request the double answered."""

    path: str
    query: dict[str, str]
    status: int


def _json(document: object, status: int = 200) -> Response:
    return Response(status, json.dumps(document).encode(), "application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error_message": message}, status)


def _tastypie_list(objects: list[dict[str, object]]) -> dict[str, object]:
    meta = {"limit": 20, "next": None, "offset": 0, "previous": None, "total_count": len(objects)}
    return {"meta": meta, "objects": objects}


class ErrorTrackerDouble(LoopbackServer):
    """The Error Tracker API, answering from dictionaries tests fill in.

    - ``new_buckets[(package, previous_version, new_version)]``: list of
      ``{"function": ..., "web_link": ...}`` (default: none).
    - ``rates[(package, old_version, new_version)]``: the one rate object
      (default: ``{"increase": False}``).
    - ``known_versions``: when set, new-buckets answers 404 for a (package,
      version) not in it, with the service's message.
    - ``failures[(endpoint, package)] = mode``: endpoint is `NEW_BUCKETS` or
      `RATE_OF_CRASHES`, package may be "*"; mode one of `FAILURE_MODES`.
    """

    def __init__(self) -> None:
        super().__init__(self._handle)
        self.new_buckets: dict[tuple[str, str, str], list[Bucket]] = {}
        self.rates: dict[tuple[str, str, str], Rate] = {}
        self.known_versions: set[tuple[str, str]] | None = None
        self.failures: dict[tuple[str, str], str] = {}
        self.timeout_delay: float = 2.0
        self.trickle_delay: float = 0.5
        self.trickled: list[Response] = []  # the "trickle" answers, with the bytes sent
        # The body of a "500" failure (a proxy's or a debug page's, in tests of leaks).
        self.failure_body: str = _CANNED_500
        self.latency: float = 0.0
        self.requests: list[ErrorTrackerRequest] = []
        self.lock = threading.Lock()
        # Notified after every answered request, so tests wait on events, not clocks.
        self._answered = threading.Condition(self.lock)
        self._stopping = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    def stop(self) -> None:
        self._stopping.set()  # wake handlers stalled by a "timeout" failure
        super().stop()
        self._stopping.clear()

    def reset_requests(self) -> None:
        with self.lock:
            self.requests.clear()

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Whether `condition` holds, checked after each request the double answers."""
        with self._answered:
            return self._answered.wait_for(condition, timeout)

    # -- HTTP -----------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        if self.latency:
            time.sleep(self.latency)
        response = self._answer(request)
        with self.lock:
            status = 0 if response.drop else response.status
            self.requests.append(ErrorTrackerRequest(request.path, request.query_dict, status))
            self._answered.notify_all()
        return response

    def _answer(self, request: Request) -> Response:
        if request.method != "GET":
            return _error(405, f"{request.method} is not allowed")
        endpoint = request.path.removeprefix(API_PREFIX).strip("/")
        if not request.path.startswith(API_PREFIX) or endpoint not in _REQUIRED:
            return _error(404, f"No such resource: {request.path}")
        if not request.path.endswith("/"):
            # Django's APPEND_SLASH.
            location = f"{request.path}/?{urlencode(request.query)}"
            return Response(301, headers={"Location": location})
        params = request.query_dict
        problem = _validate(endpoint, params)
        if problem is not None:
            return _error(400, problem)
        package = params["package"]
        mode = self.failures.get((endpoint, package), self.failures.get((endpoint, "*")))
        if mode is not None:
            return self._fail(endpoint, mode)
        if endpoint == NEW_BUCKETS:
            return self._new_buckets(package, params["previous_version"], params["new_version"])
        return self._rate(package, params["old_version"], params["new_version"])

    def _new_buckets(self, package: str, previous: str, new: str) -> Response:
        if self.known_versions is not None:
            for version in (previous, new):
                if (package, version) not in self.known_versions:
                    return _error(404, f"{package} version {version} was not found in Launchpad.")
        buckets = self.new_buckets.get((package, previous, new), [])
        return _json(_tastypie_list([dict(b) for b in buckets]))

    def _rate(self, package: str, old: str, new: str) -> Response:
        rate = self.rates.get((package, old, new), {"increase": False})
        return _json(_tastypie_list([dict(rate)]))

    def _fail(self, endpoint: str, mode: str) -> Response:
        if mode == "500":
            return _error(500, self.failure_body)
        if mode == "timeout":
            self._stopping.wait(self.timeout_delay)
            return Response(0, drop=True)
        if mode == "html-200":
            page = "<!DOCTYPE html><html><body><h1>Down for maintenance</h1></body></html>"
            return Response(200, page.encode(), "text/html; charset=utf-8")
        if mode == "404":
            return _error(404, "Not found.")
        if mode == "bad-json":
            return Response(200, b'{"meta": {"limit": 20}, "objects": [', "application/json")
        if mode == "missing-fields":
            broken: Bucket = {"function": "main"} if endpoint == NEW_BUCKETS else {"difference": 3}
            return _json(_tastypie_list([broken]))
        if mode == "wrong-types":
            wrong: Bucket = (
                {"function": 42, "web_link": ["not", "a", "link"]}
                if endpoint == NEW_BUCKETS
                else {"increase": "yes", "difference": "many", "previous_average": "high"}
            )
            return _json(_tastypie_list([wrong]))
        if mode == "empty-objects":
            return _json(_tastypie_list([]))
        if mode == "trickle":
            answer = _json(_tastypie_list([] if endpoint == NEW_BUCKETS else [{"increase": False}]))
            answer.trickle = self.trickle_delay
            with self.lock:
                self.trickled.append(answer)
            return answer
        raise ValueError(f"unknown failure mode {mode!r}; expected one of {FAILURE_MODES}")


def _validate(endpoint: str, params: dict[str, str]) -> str | None:
    """The first problem with the query parameters, or None."""
    missing = [name for name in _REQUIRED[endpoint] if not params.get(name)]
    if missing:
        return f"Missing required parameter(s): {', '.join(missing)}"
    if params["format"] != "json":
        return f"Unsupported format {params['format']!r}; the phaser must ask for format=json"
    if endpoint == RATE_OF_CRASHES:
        if not re.fullmatch(r"Ubuntu \d\d\.\d\d", params["release"]):
            return f"release must look like 'Ubuntu 22.04', got {params['release']!r}"
        pup = params["phased_update_percentage"]
        if not pup.isdigit() or not 0 <= int(pup) <= 100:
            return f"phased_update_percentage must be an integer 0..100, got {pup!r}"
        try:
            date.fromisoformat(params["date"])
        except ValueError:
            return f"date must be YYYY-MM-DD, got {params['date']!r}"
        if len(params["date"]) != 10:
            return f"date must be YYYY-MM-DD, got {params['date']!r}"
        if params.get("exclude_proposed", "True") not in ("True", "False"):
            return f"exclude_proposed must be True or False, got {params['exclude_proposed']!r}"
    return None
