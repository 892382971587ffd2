"""A small HTTP server on 127.0.0.1 that both doubles are built on.

A double implements ``handle(request) -> Response``; this module does the
sockets: a ThreadingHTTPServer on a free port, served from a daemon thread,
speaking HTTP/1.1 with keep-alive (httplib2 and requests reuse connections,
and the benchmark should pay for round trips, not TCP handshakes).
"""

from __future__ import annotations

import functools
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass(frozen=True)
class Request:
    """One HTTP request as a double sees it."""

    method: str
    path: str  # percent-decoded
    query: list[tuple[str, str]]
    headers: Message
    body: bytes

    @property
    def query_dict(self) -> dict[str, str]:
        return dict(self.query)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class Response:
    """What a double answers. `drop` closes the connection without answering.

    `trickle` > 0 sends the body one byte every `trickle` seconds (headers at once),
    as a peer on a bad link or a hostile one does: each byte resets a socket timeout,
    so only a deadline ends the request. `sent` counts the bytes that went out.
    """

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    trickle: float = 0.0
    sent: int = 0


App = Callable[[Request], Response]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, app: App, on_error: Callable[[str], None]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app
        self.on_error = on_error
        self.stopping = threading.Event()  # ends trickled answers when the double stops


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm and the
    # client's delayed ACK, every keep-alive response would stall for ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(split.path),
            query=parse_qsl(split.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
        )
        try:
            response = self.server.app(request)
        except Exception:
            # A bug in the double: answer 500 and let the owner report it.
            text = traceback.format_exc()
            self.server.on_error(text)
            response = Response(500, text.encode(), "text/plain")
        if response.drop:
            self.close_connection = True
            return
        self.send_response(response.status)
        if response.content_type is not None:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        no_body = response.status == 304 or self.command == "HEAD"
        self.send_header("Content-Length", "0" if no_body else str(len(response.body)))
        self.end_headers()
        if no_body:
            return
        if not response.trickle:
            self.wfile.write(response.body)
            response.sent = len(response.body)
            return
        try:
            for index in range(len(response.body)):
                response.sent += 1  # counted first: the client may finish reading at once
                self.wfile.write(response.body[index : index + 1])
                self.wfile.flush()
                if self.server.stopping.wait(response.trickle):
                    break
        except OSError:
            pass  # the client gave up: what a deadline is for
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the doubles keep their own request logs."""


class LoopbackServer:
    """Serves `app` on 127.0.0.1:<free port> until stopped."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.internal_errors: list[str] = []

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not started")
        return int(self._server.server_address[1])

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = _Server(self._app, self.internal_errors.append)
        # A short poll interval keeps stop() (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=functools.partial(self._server.serve_forever, poll_interval=0.02),
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
