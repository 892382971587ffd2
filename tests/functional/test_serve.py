"""`phased-updater serve` over real HTTP on loopback: files, caching, health, refusals."""

from __future__ import annotations

import gzip
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from phased_updater.atomic_write import write_atomically
from phased_updater.commands.serve import create, parse_bind
from phased_updater.errors import UsageError
from phased_updater.report import publish as report
from phased_updater.report.server import accepts_gzip
from phased_updater.store import Store
from tests.functional.report_server import running
from tests.unit import report_db

TRACEBACK = re.compile(rb"Traceback|File \"|\.py\b")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Served:
    root: Path
    port: int

    def raw(self, request_line: bytes, headers: dict[str, str] | None = None) -> Reply:
        """Send `request_line` exactly as given: no client normalises the path."""
        lines = [request_line, b"Host: 127.0.0.1", b"Connection: close"]
        lines += [f"{k}: {v}".encode() for k, v in (headers or {}).items()]
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as connection:
            connection.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
            data = b""
            while chunk := connection.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parsed = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            parsed[name.strip().lower()] = value.strip()
        return Reply(int(status_line.split()[1]), parsed, body)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.raw(f"GET {path} HTTP/1.1".encode(), headers)


def serve(root: Path) -> Iterator[Served]:
    # A short poll timeout, so that closing it ends run() at once.
    with running(create(root, "127.0.0.1:0", asyncore_loop_timeout=0.05)) as port:
        yield Served(root, port)


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """A report directory written by `report.publish` from a realistic database."""
    store = Store.open(Path(":memory:"))  # the database is not what is tested here
    try:
        _, run = report_db.realistic(store)
        report.publish(tmp_path / "report", store, run)
    finally:
        store.close()
    return tmp_path / "report"


@pytest.fixture
def served(published: Path) -> Iterator[Served]:
    yield from serve(published)


def test_index_and_json_with_their_types_and_cache_headers(served: Served) -> None:
    index = served.get("/")
    assert index.status == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert index.body == (served.root / "index.html").read_bytes()
    assert index.headers["cache-control"] == "public, max-age=60"
    assert index.headers["etag"].startswith('"')
    assert index.headers["last-modified"].endswith(" GMT")
    assert index.headers["x-content-type-options"] == "nosniff"
    same = served.get("/index.html")
    assert (same.status, same.body, same.headers["etag"]) == (
        200,
        index.body,
        index.headers["etag"],
    )

    data = served.get("/phased-updates.json")
    assert data.status == 200
    assert data.headers["content-type"] == "application/json"
    assert json.loads(data.body)["run"] == 57


def test_if_none_match_gives_304_until_the_report_changes(served: Served) -> None:
    first = served.get("/phased-updates.json")
    etag = first.headers["etag"]
    again = served.get("/phased-updates.json", {"If-None-Match": etag})
    assert (again.status, again.body) == (304, b"")
    assert again.headers["etag"] == etag
    assert served.get("/phased-updates.json", {"If-None-Match": f'"x", W/{etag}'}).status == 304
    assert served.get("/phased-updates.json", {"If-None-Match": '"other"'}).status == 200
    # A new report (replaced by rename, as publish does) has a new ETag.
    write_atomically(served.root / "phased-updates.json", "{}\n")
    changed = served.get("/phased-updates.json", {"If-None-Match": etag})
    assert (changed.status, changed.body) == (200, b"{}\n")
    assert changed.headers["etag"] != etag


def test_if_modified_since(served: Served) -> None:
    modified = served.get("/").headers["last-modified"]
    assert served.get("/", {"If-Modified-Since": modified}).status == 304
    assert served.get("/", {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status == 200
    assert served.get("/", {"If-Modified-Since": "garbage"}).status == 200


def test_text_is_gzipped_for_a_client_that_accepts_it(served: Served) -> None:
    for path, name in (("/", "index.html"), ("/phased-updates.json", "phased-updates.json")):
        raw = (served.root / name).read_bytes()
        plain = served.get(path)
        gzipped = served.get(path, {"Accept-Encoding": "gzip, deflate, br"})

        assert "content-encoding" not in plain.headers
        assert plain.body == raw
        assert gzipped.headers["content-encoding"] == "gzip"
        assert plain.headers["vary"] == gzipped.headers["vary"] == "Accept-Encoding"
        assert gzip.decompress(gzipped.body) == raw
        assert int(gzipped.headers["content-length"]) == len(gzipped.body) < len(raw)
        # Each encoding is its own representation: its own ETag, and its own 304.
        etag = gzipped.headers["etag"]
        assert etag != plain.headers["etag"]
        again = served.get(path, {"Accept-Encoding": "gzip", "If-None-Match": etag})
        assert (again.status, again.headers["content-encoding"]) == (304, "gzip")
        assert served.get(path, {"If-None-Match": etag}).status == 200
    # The same file always gives the same bytes (compressed once, mtime 0).
    first = served.get("/", {"Accept-Encoding": "gzip"}).body
    assert served.get("/", {"Accept-Encoding": "gzip"}).body == first


def test_a_standard_client_reads_the_gzipped_report(served: Served) -> None:
    reply = requests.get(f"http://127.0.0.1:{served.port}/phased-updates.json", timeout=10)
    assert reply.headers["Content-Encoding"] == "gzip"  # requests asks for it by default
    assert reply.json()["run"] == 57


def test_a_new_report_is_gzipped_anew(served: Served) -> None:
    served.get("/phased-updates.json", {"Accept-Encoding": "gzip"})
    write_atomically(served.root / "phased-updates.json", '{"new": true}\n')
    reply = served.get("/phased-updates.json", {"Accept-Encoding": "gzip"})
    assert gzip.decompress(reply.body) == b'{"new": true}\n'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("GZIP;q=0.5", True),
        ("deflate, br", False),
        ("gzip;q=0", False),
        ("*", True),
        ("*;q=0", False),
        ("gzip;q=0, *", False),  # named beats the wildcard
        ("identity, x-gzip", True),
        ("gzip;q=nonsense", False),
    ],
)
def test_accepts_gzip(header: str | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def test_metrics_and_health_are_never_compressed(served: Served) -> None:
    for path in ("/healthz", "/metrics"):
        assert "content-encoding" not in served.get(path, {"Accept-Encoding": "gzip"}).headers


def test_head_has_headers_and_no_body(served: Served) -> None:
    reply = served.raw(b"HEAD / HTTP/1.1")
    assert reply.status == 200
    assert reply.body == b""
    assert int(reply.headers["content-length"]) == (served.root / "index.html").stat().st_size


def test_other_methods_are_refused(served: Served) -> None:
    reply = served.raw(b"POST / HTTP/1.1", {"Content-Length": "0"})
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    [
        b"/../state.sqlite3",
        b"/../../../../etc/passwd",
        b"/%2e%2e/state.sqlite3",
        b"/%2E%2E%2Fstate.sqlite3",
        b"/..%2fstate.sqlite3",
        b"/%2fetc%2fpasswd",
        b"//etc/passwd",
        b"/..%5cstate.sqlite3",
        b"/%5c..%5cstate.sqlite3",
        b"/index.html%00.png",
        b"/%00",
        b"/./index.html",
        b"/.hidden",
        b"/%252e%252e/state.sqlite3",
        b"/outside",
        b"/outside-dir/secret",
        b"/sub",
        b"/sub/",
        b"/missing.html",
        b"/index.html/",
    ],
)
def test_paths_that_leave_the_directory_are_404_without_a_traceback(
    served: Served, path: bytes
) -> None:
    secret_dir = served.root.parent / "secret-dir"
    secret_dir.mkdir(exist_ok=True)
    (secret_dir / "secret").write_text("secret\n")
    (served.root.parent / "outside.txt").write_text("secret\n")
    (served.root / ".hidden").write_text("secret\n")
    (served.root / "sub").mkdir(exist_ok=True)
    for name, target in (("outside", "../outside.txt"), ("outside-dir", "../secret-dir")):
        if not (served.root / name).is_symlink():
            os.symlink(target, served.root / name)
    reply = served.raw(b"GET " + path + b" HTTP/1.1")
    assert reply.status == 404, reply
    assert b"secret" not in reply.body and b"SQLite" not in reply.body
    assert not TRACEBACK.search(reply.body)
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"


def test_a_raw_nul_or_backslash_never_gets_a_file(served: Served) -> None:
    for line in (b"GET /index.html\x00 HTTP/1.1", b"GET /..\\state.sqlite3 HTTP/1.1"):
        reply = served.raw(line)
        assert reply.status in (400, 404), reply
        assert not TRACEBACK.search(reply.body)


def test_only_the_files_the_report_writes_are_served(served: Served) -> None:
    """An allow-list, checked before anything is opened: no other name, however it got
    there (a symlink, a file someone left), and never a FIFO that would block a worker."""
    os.symlink("index.html", served.root / "latest.html")
    (served.root / "notes.txt").write_text("not the report\n")
    assert served.get("/latest.html").status == 404
    assert served.get("/notes.txt").status == 404
    assert served.get("/index.html").status == 200


def test_healthz_reports_the_generated_time(served: Served) -> None:
    reply = served.get("/healthz")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["cache-control"] == "no-store"
    health = json.loads(reply.body)
    assert health["report"] is True
    assert health["generated"] == "2026-11-02T06:00:00+00:00"


def test_missing_index_is_503_on_health_and_root(served: Served) -> None:
    (served.root / "index.html").unlink()
    health = served.get("/healthz")
    assert health.status == 503
    assert json.loads(health.body) == {"report": False, "reason": "index.html is missing"}
    assert served.get("/").status == 503
    assert served.get("/phased-updates.json").status == 200


def test_a_missing_report_directory_is_503_everywhere(tmp_path: Path) -> None:
    for server in serve(tmp_path / "not-yet"):
        for path in ("/", "/index.html", "/phased-updates.json", "/../x", "/healthz"):
            reply = server.get(path)
            assert reply.status == 503, path
            assert not TRACEBACK.search(reply.body)
        # The directory appears with the first report: served from then on.
        (tmp_path / "not-yet").mkdir()
        (tmp_path / "not-yet" / "index.html").write_text("<!DOCTYPE html><title>x</title>")
        assert server.get("/").status == 200
        assert json.loads(server.get("/healthz").body)["generated"] is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("[::1]:0", ("::1", 0)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),  # noqa: S104 - parsed, never bound
    ],
)
def test_parse_bind(text: str, expected: tuple[str, int]) -> None:
    assert parse_bind(text) == expected


@pytest.mark.parametrize("text", ["localhost:80", "127.0.0.1", "127.0.0.1:http", "1.2.3.4:70000"])
def test_parse_bind_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="--bind"):
        parse_bind(text)


def test_the_serve_command_runs_and_answers(published: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "phased_updater.cli", "serve", "--report-dir", str(published),
         "--bind", "127.0.0.1:0"],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        port = None
        for line in process.stderr:
            match = re.search(r"serving .* on http://127\.0\.0\.1:(\d+)/", line)
            if match:
                port = int(match.group(1))
                break
        assert port is not None, "the server never said where it listens"
        reply = Served(published, port).get("/healthz")
        assert reply.status == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_serve_command_listens_on_ipv4_and_ipv6_at_once(published: Path) -> None:
    # Issue 17, 2: `serve` listened on one IPv4 address only. The charm passes
    # 0.0.0.0:PORT and [::]:PORT; on loopback the same is 127.0.0.1 and ::1.
    if not socket.has_ipv6 or not Path("/proc/net/if_inet6").exists():
        pytest.skip("no IPv6 on this machine")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "phased_updater.cli", "serve", "--report-dir", str(published),
         "--bind", f"127.0.0.1:{port}", "--bind", f"[::1]:{port}"],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        announced = []
        for line in process.stderr:
            announced += re.findall(r"serving .* on http://(\S+)/", line)
            if len(announced) == 2:
                break
        assert sorted(announced) == sorted([f"127.0.0.1:{port}", f"[::1]:{port}"])
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            with socket.socket(family) as connection:
                connection.settimeout(10)
                connection.connect((host, port))
                connection.sendall(b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n")
                assert connection.recv(12) in (b"HTTP/1.0 200", b"HTTP/1.1 200")
    finally:
        process.terminate()
        process.wait(timeout=10)
