"""A small read-only WSGI app that serves the report directory, and /healthz.

Only the report's own files are served (index.html under both its names, the JSON,
run-status.json, and a large report's update pages), by plain names: every path
segment must match `_SEGMENT` (letters, digits, `.`, `_`, `-`, not starting with a
dot), so `..`, encoded slashes or backslashes, NUL bytes and hidden files (the
publisher's temporary files start with a dot) are refused before the file system is
asked. The resolved path must still lie inside the directory, which also refuses
symlinks that point out of it. Refusals are 404, a missing report directory is 503,
and no error ever shows a traceback.

Each file is opened once and its ETag, Last-Modified and body all come from that one
open file, so a report swapped in meanwhile (by rename) never mixes old and new. Text
is sent gzipped to a client that accepts it (`Vary: Accept-Encoding`, an ETag of its
own), compressed once per version of the file.

`/metrics` is the Prometheus text format of the last run's `run-status.json` (see
`metrics.py`). `/healthz` answers 503 when the report is stale: older than twice the
run period (`run_every`, else the interval the run recorded in run-status.json).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

from phased_updater.report import details, metrics, run_status
from phased_updater.report.publish import HTML_NAME, JSON_NAME, PAGE_NAME
from phased_updater.report.run_status import SNAPSHOT_NAME

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Environ = dict[str, Any]

INDEX = "index.html"
# The files the report is made of, and so all that is ever served (no dotfile, no
# FIFO or device, nothing else someone put in the directory).
SERVED = frozenset({HTML_NAME, PAGE_NAME, JSON_NAME, SNAPSHOT_NAME})
MAX_AGE = 60  # seconds: the report changes every few hours, a reload should see it soon
IMMUTABLE = "public, max-age=86400, immutable"
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}")
_GENERATED = re.compile(rb'<meta name="generated" content="([0-9T:+\-]{19,32})">')
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
}
# What is worth compressing (the report's text: index.html at 2,000 updates is some
# 9 MB, about a fortieth of that gzipped); an image is compressed already.
COMPRESSIBLE = frozenset({".html", ".json", ".css", ".js", ".svg", ".txt", ".csv"})
GZIP_LEVEL = 6  # zlib's default: within a few per cent of 9, at a third of the time

SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
]
STATUS_TEXT = {
    200: "200 OK",
    304: "304 Not Modified",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


def _text(status: int, message: str, extra: Iterable[tuple[str, str]] = ()) -> Response:
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Cache-Control", "no-store"),
        *extra,
    ]
    return Response(status, headers, (message + "\n").encode("utf-8"))


def _json(status: int, document: dict[str, Any]) -> Response:
    body = (json.dumps(document, sort_keys=True) + "\n").encode("utf-8")
    return Response(
        status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body
    )


def safe_relative(path_info: str) -> str | None:
    """The file a request path names, relative to the report directory, or None.

    "/" names index.html. Anything that is not a sequence of plain names is None.
    """
    if path_info in ("", "/"):
        return INDEX
    if not path_info.startswith("/") or path_info.endswith("/"):
        return None
    segments = path_info[1:].split("/")
    if not all(_SEGMENT.fullmatch(segment) for segment in segments):
        return None
    return "/".join(segments)


def etag_for(status_result: os.stat_result) -> str:
    """Changes whenever the file is replaced (new inode) or rewritten (size, mtime)."""
    return f'"{status_result.st_ino:x}-{status_result.st_size:x}-{status_result.st_mtime_ns:x}"'


def _etag_matches(header: str, etag: str) -> bool:
    # Weak comparison (RFC 9110 13.1.2): W/ prefixes do not matter for GET.
    wanted = etag.removeprefix("W/")
    candidates = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in candidates or wanted in candidates


def _not_modified_since(header: str, mtime: float) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return int(mtime) <= since.timestamp()


def accepts_gzip(header: str | None) -> bool:
    """Whether an Accept-Encoding header allows gzip (RFC 9110 12.5.3): named, or `*`,
    with a q-value above 0. Absent, the client takes the body as it is."""
    if not header:
        return False
    weights: dict[str, float] = {}
    for item in header.split(","):
        coding, _, parameters = item.partition(";")
        weight = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                weight = 0.0
        weights[coding.strip().lower()] = weight
    for coding in ("gzip", "x-gzip", "*"):
        if coding in weights:
            return weights[coding] > 0
    return False


@dataclass(frozen=True)
class _Compressed:
    etag: str  # of the file it was made from
    body: bytes


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ReportApp:
    """The WSGI application: `ReportApp(report_dir)`.

    `run_every_seconds` is how often runs are expected (None: the run's own interval);
    `clock` gives the time health and metrics are measured at.
    """

    def __init__(
        self,
        report_dir: Path,
        *,
        run_every_seconds: int | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.report_dir = Path(report_dir)
        self.run_every_seconds = run_every_seconds
        self.clock = clock
        self.started = clock()
        # The last gzipped body of each file, by the file's ETag: a report is
        # compressed once per run, not once per request.
        self._compressed: dict[str, _Compressed] = {}

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            response = self.respond(method, environ)
        except Exception:  # the last line of defence: log it, never show it
            log.exception("error serving %r", environ.get("PATH_INFO"))
            response = _text(500, "internal error")
        headers = [*response.headers, *SECURITY_HEADERS]
        body = response.body
        if response.status != 304:
            headers.append(("Content-Length", str(len(body))))
        start_response(STATUS_TEXT[response.status], headers)
        return [b""] if method == "HEAD" or response.status == 304 else [body]

    def respond(self, method: str, environ: Environ) -> Response:
        if method not in ("GET", "HEAD"):
            return _text(405, "method not allowed", [("Allow", "GET, HEAD")])
        path_info = environ.get("PATH_INFO", "/")
        if path_info == "/healthz":
            return self.health()
        if path_info == "/metrics":
            return self.metrics()
        if not self.report_dir.is_dir():
            return _text(503, "no report yet: the report directory is missing")
        relative = safe_relative(path_info)
        if relative is None or not (relative in SERVED or details.is_served(relative)):
            return _text(404, "not found")
        response = self.file(relative, environ)
        if response is None and relative == PAGE_NAME:
            # A directory published before the page had both names: the same page.
            response = self.file(INDEX, environ)
        if response is None and relative in (INDEX, PAGE_NAME):
            return _text(503, "no report yet: index.html is missing")
        return response or _text(404, "not found")

    def _resolve(self, relative: str) -> Path | None:
        root = self.report_dir.resolve()
        try:
            target = (root / relative).resolve(strict=True)
        except (OSError, RuntimeError):  # missing, or a symlink loop
            return None
        if not target.is_relative_to(root) or target == root:
            return None
        return target

    def file(self, relative: str, environ: Environ) -> Response | None:
        target = self._resolve(relative)
        if target is None:
            return None
        try:
            # Only a regular file is ever opened: opening a FIFO would block this
            # worker until something writes to it (O_NONBLOCK guards the race with a
            # swap after this check).
            if not stat.S_ISREG(os.stat(target, follow_symlinks=False).st_mode):
                return None
            # O_NOFOLLOW: the final component was resolved above; refuse a swap to a link.
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
            descriptor = os.open(target, flags)
        except OSError:
            return None
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            os.close(descriptor)
            return None  # a directory (never listed), a FIFO, a device
        # An update page's name changes whenever its contents do (report/details.py).
        update_page = relative not in SERVED
        cache_control = IMMUTABLE if update_page else f"public, max-age={MAX_AGE}"
        with os.fdopen(descriptor, "rb") as stream:
            file_etag = etag_for(info)
            compressible = target.suffix in COMPRESSIBLE
            gzipped = compressible and accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING"))
            # Each encoding is its own representation, with its own ETag (RFC 9110 8.8.3).
            etag = f'{file_etag[:-1]}-gzip"' if gzipped else file_etag
            headers = [
                ("Content-Type", CONTENT_TYPES.get(target.suffix, "application/octet-stream")),
                ("Cache-Control", cache_control),
                ("ETag", etag),
                ("Last-Modified", formatdate(info.st_mtime, usegmt=True)),
            ]
            if compressible:
                headers.append(("Vary", "Accept-Encoding"))
            if gzipped:
                headers.append(("Content-Encoding", "gzip"))
            if_none_match = environ.get("HTTP_IF_NONE_MATCH")
            if if_none_match is not None:
                if _etag_matches(if_none_match, etag):
                    return Response(304, headers)
            elif _not_modified_since(environ.get("HTTP_IF_MODIFIED_SINCE", ""), info.st_mtime):
                return Response(304, headers)
            if not gzipped:
                return Response(200, headers, stream.read())
            if update_page:
                # A few KB, each asked for rarely: kept, 2,000 a publish would pile up.
                body = gzip.compress(stream.read(), compresslevel=GZIP_LEVEL, mtime=0)
                return Response(200, headers, body)
            kept = self._compressed.get(relative)
            if kept is None or kept.etag != file_etag:
                # mtime=0: the same file always gives the same bytes.
                body = gzip.compress(stream.read(), compresslevel=GZIP_LEVEL, mtime=0)
                kept = _Compressed(file_etag, body)
                self._compressed[relative] = kept
            return Response(200, headers, kept.body)

    def health(self) -> Response:
        """200 when a fresh report is there to serve, with when it was generated; else 503
        (no report, or one older than twice the run period)."""
        index = self.report_dir / INDEX
        if not self.report_dir.is_dir():
            return _json(503, {"report": False, "reason": "the report directory is missing"})
        try:
            with index.open("rb") as stream:
                head = stream.read(4096)
                modified = os.fstat(stream.fileno()).st_mtime
        except OSError:
            return _json(503, {"report": False, "reason": "index.html is missing"})
        match = _GENERATED.search(head)
        document: dict[str, Any] = {
            "report": True,
            "generated": match.group(1).decode("ascii") if match else None,
            "modified": datetime.fromtimestamp(modified, UTC).isoformat(timespec="seconds"),
        }
        snapshot = run_status.read_snapshot(self.report_dir)
        fresh = (
            run_status.freshness(snapshot, self.clock(), self.run_every_seconds)
            if snapshot
            else None
        )
        if fresh is None:
            return _json(200, document)
        document |= {
            "age_seconds": int(fresh.age_seconds),
            "stale_after_seconds": fresh.stale_after_seconds,
            "stale": fresh.stale,
        }
        if not fresh.stale:
            return _json(200, document)
        document["reason"] = (
            f"the last run ended {int(fresh.age_seconds)} s ago, more than twice the "
            f"run interval ({fresh.period_seconds} s): runs have stopped or keep failing"
        )
        return _json(503, document)

    def metrics(self) -> Response:
        snapshot = run_status.read_snapshot(self.report_dir)
        body = metrics.render(snapshot, self.clock(), self.run_every_seconds, self.started)
        headers = [("Content-Type", metrics.CONTENT_TYPE), ("Cache-Control", "no-store")]
        return Response(200, headers, body)
