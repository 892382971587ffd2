"""Fuzzed request paths against the running report server (waitress on loopback).

Beside the report, the directory holds a publisher's hidden temporary file, a
sub-directory, and symlinks to a file outside it; a secret file sits next to it. For
any path sent raw (no client normalises it), the answer is one of the report's own
files or a refusal: never the secret, the temporary file or a file reached through a
link out of the directory, never a directory listing, never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.functional.test_serve import Served, serve

SECRET = b"SECRET-OUTSIDE-THE-REPORT-7f3a"
HIDDEN = b"HALF-WRITTEN-TEMPORARY-91bc"
TRACEBACK = re.compile(rb"Traceback|File \"|\.py\b")
REFUSALS = {304, 400, 404, 405, 414, 431}

TOKENS = [
    "/", "..", ".", "%2e", "%2E", "%2f", "%2F", "%5c", "%00", "%", "%%", "\\", "~", "?", "#",
    ";", "index.html", "phased-updates.json", "sub", "escape", "escape-dir", ".index.html.x1",
    "etc", "passwd", "secret.txt", "report", "%252e", "\u00e9", "\u2024", "\uff0e", "//",
]  # fmt: skip
path_text = st.lists(
    st.sampled_from(TOKENS) | st.text(alphabet="./%\\abcz019-_~", max_size=4), max_size=10
).map("".join)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, set[bytes]]]:
    base = tmp_path_factory.mktemp("served")
    (base / "secret.txt").write_bytes(SECRET)
    report = base / "report"
    (report / "sub").mkdir(parents=True)
    files = {
        report / "index.html": b"<!DOCTYPE html><title>report</title>",
        report / "phased-updates.json": b'{"packages": []}',
        report / "sub" / "nested.txt": b"nested file",
    }
    for path, content in files.items():
        path.write_bytes(content)
    (report / ".index.html.x1").write_bytes(HIDDEN)
    (report / "escape").symlink_to(base / "secret.txt")
    (report / "escape-dir").symlink_to(base)
    for served in serve(report):
        yield served, set(files.values())


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=path_text, slash=st.booleans())
@example(path="/../secret.txt", slash=False)
@example(path="/escape-dir/secret.txt", slash=False)
@example(path="/sub/", slash=False)
@example(path="/.index.html.x1", slash=False)
@example(path="/%2e%2e/secret.txt", slash=False)
def test_any_path_gets_a_report_file_or_a_refusal(
    server: tuple[Served, set[bytes]], path: str, slash: bool
) -> None:
    served, allowed = server
    target = ("/" if slash else "") + path
    reply = served.raw(b"GET " + target.encode() + b" HTTP/1.1")
    assert SECRET not in reply.body
    assert HIDDEN not in reply.body
    assert not TRACEBACK.search(reply.body)
    assert b"nested.txt" not in reply.body  # no listing of sub/
    if reply.status == 200:
        assert reply.body in allowed, (target, reply.body[:80])
    else:
        assert reply.status in REFUSALS, (target, reply.status, reply.body[:200])
