"""Real deadlines for Launchpad's and the Error Tracker's requests (see watchdog.py).

A socket timeout bounds one read: a server that trickles a byte a second never trips
it, and holds the run (and the cycle lock) for as long as it likes. Here a request gets
one deadline, connect and every read together.

`deadline(seconds)` sets the deadline for what the calling thread sends meanwhile. The
connections that carry it say so themselves: httplib2's (launchpadlib's) connection
classes are replaced, in `httplib2.SCHEME_TO_CONNECTION`, by subclasses that join the
current deadline at each request; the requests adapter `DeadlineAdapter` (the Error
Tracker client's) does the same through its connection pools. Outside a deadline they
behave exactly as the originals.

`guarded(http, seconds)` gives every request of one httplib2 `Http` (a launchpadlib
client's) its own deadline; `each_request_within(seconds)` does the same for the
requests a client makes while it is being built.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httplib2
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from phased_updater.watchdog import WATCHDOG, DeadlinePassed

_current = threading.local()  # the connections of this thread's current deadline


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """One deadline for the requests this thread makes meanwhile."""
    outer = getattr(_current, "connections", None)
    outer_guard = getattr(_current, "guard", None)
    connections: list[Any] = []
    _current.connections = connections
    try:
        with WATCHDOG.guard(seconds, connections) as guard:
            _current.guard = guard
            yield
    except DeadlinePassed:
        # A cut connection is dead: closed, the next request on it connects again
        # instead of failing with a broken pipe.
        for connection in connections:
            with contextlib.suppress(Exception):
                connection.close()
        raise
    finally:
        _current.connections = outer
        _current.guard = outer_guard


def _joins(connection: Any) -> None:
    """`connection` is about to send a request: it joins the thread's deadline.

    Past the deadline no request starts: httplib2 retries a GET whose connection was
    cut, and the retry must not outlive the deadline it was cut at. DeadlinePassed is
    a TimeoutError, which httplib2 passes on without retrying.
    """
    guard = getattr(_current, "guard", None)
    if guard is not None and guard.expired:
        raise guard.passed()
    connections = getattr(_current, "connections", None)
    if connections is not None and connection not in connections:
        connections.append(connection)


@contextmanager
def each_request_within(seconds: float) -> Iterator[None]:
    """Every httplib2 request this thread makes meanwhile has its own deadline.

    For a client's first requests, made while it is built (launchpadlib's login: the
    WADL, the service root), before `guarded` can wrap its `Http`. Per request, not one
    for the whole login: parsing the WADL is CPU, and no business of a deadline.
    """
    outer = getattr(_current, "per_request", None)
    _current.per_request = seconds
    try:
        yield
    finally:
        _current.per_request = outer


_http_request = httplib2.Http.request


def _request_within_deadline(self: Any, *args: Any, **kwargs: Any) -> Any:
    seconds = getattr(_current, "per_request", None)
    if seconds is None or getattr(_current, "connections", None) is not None:
        return _http_request(self, *args, **kwargs)  # no deadline asked, or one running
    with deadline(seconds):
        return _http_request(self, *args, **kwargs)


httplib2.Http.request = _request_within_deadline


def guarded(http: Any, seconds: float) -> None:
    """Give every request of this httplib2 `Http` its own deadline, `seconds` long."""
    request = http.request

    def within_deadline(*args: Any, **kwargs: Any) -> Any:
        with deadline(seconds):
            return request(*args, **kwargs)

    http.request = within_deadline


class _HTTPConnection(httplib2.HTTPConnectionWithTimeout):  # type: ignore[misc]
    def request(self, *args: Any, **kwargs: Any) -> Any:
        _joins(self)
        return super().request(*args, **kwargs)


class _HTTPSConnection(httplib2.HTTPSConnectionWithTimeout):  # type: ignore[misc]
    def request(self, *args: Any, **kwargs: Any) -> Any:
        _joins(self)
        return super().request(*args, **kwargs)


httplib2.SCHEME_TO_CONNECTION = {"http": _HTTPConnection, "https": _HTTPSConnection}


class _Pool(HTTPConnectionPool):
    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        _joins(conn)
        return super()._make_request(conn, *args, **kwargs)


class _HTTPSPool(HTTPSConnectionPool):
    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        _joins(conn)
        return super()._make_request(conn, *args, **kwargs)


class DeadlineAdapter(HTTPAdapter):
    """A requests adapter whose connections a `deadline` can cut short."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _HTTPSPool}
