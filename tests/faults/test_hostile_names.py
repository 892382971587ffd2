"""Names and versions from Launchpad and the Error Tracker are checked against Debian's
syntax before they go into a URL, a file name, a mail header or the report.

The Launchpad double serves, beside the demo, publications whose source names,
versions and binary names are hostile: path traversal, header injection, markup,
a query string. The Error Tracker double answers with links that are not plain URLs.
None of it reaches the Error Tracker, a file name, a write, a mail or the report.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import LaunchpadDouble
from tests.doubles.scenario import Binary, Upload
from tests.doubles.scenarios import CLEAN_UPDATE, DEMO_NOW, demo
from tests.functional.engine import Engine

HOSTILE_SOURCES = [
    ("../../../etc/passwd", "1.0-1ubuntu0.1"),
    ("evil", "1.0-1\r\nBcc: victim@example.com"),
    ("evil2", "1.0-1ubuntu0.1&package=hello"),
    ("<script>steal()</script>", "1.0-1ubuntu0.1"),
    ("Capital", "1.0-1ubuntu0.1"),
    ("evil3", "../1.0"),
]
# A well-named source whose binary has a name no Debian package can have.
ODD_BINARY_SOURCE, ODD_BINARY = "oddbin", "oddbin<img src=x onerror=alert(1)>"
# Each hostile value contains one of these; the demo itself contains none of them.
MARKERS = ["passwd", "evil", "victim", "steal()", "Capital", "onerror", "0.1&package", "../"]


def hostile_scenario() -> object:
    scenario = demo()
    published = DEMO_NOW - timedelta(days=3)
    for source, version in HOSTILE_SOURCES:
        scenario.uploads.append(
            Upload("noble", source, version, published, signer="alice", creator="alice",
                   binaries=[Binary("hostile", pup=10)])
        )  # fmt: skip
    scenario.uploads += [
        Upload("noble", ODD_BINARY_SOURCE, "1.0-1", DEMO_NOW - timedelta(days=300), "Release",
               signer="alice", creator="alice", binaries=[Binary(ODD_BINARY, pup=None)]),
        Upload("noble", ODD_BINARY_SOURCE, "1.0-1ubuntu0.1", published, signer="alice",
               creator="alice", binaries=[Binary(ODD_BINARY, pup=10)]),
    ]  # fmt: skip
    return scenario


@pytest.fixture
def hostile_engine(tmp_path: Path, errortracker: ErrorTrackerDouble) -> Iterator[Engine]:
    with LaunchpadDouble(hostile_scenario(), clock=DEMO_NOW) as launchpad:  # type: ignore[arg-type]
        options = ["--launchpad-workers", "1", "--errors-workers", "1"]
        yield Engine(launchpad, errortracker, tmp_path, DEMO_NOW, options)
    assert not launchpad.internal_errors, "\n".join(launchpad.internal_errors)


def everything_written(home: Path) -> str:
    """Every file name under `home`, and the text of every file but the database."""
    parts = []
    for path in sorted(home.rglob("*")):
        parts.append(str(path.relative_to(home)))
        if path.is_file() and "sqlite3" not in path.name and "launchpadlib-cache" not in str(path):
            parts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(parts)


def test_hostile_names_from_launchpad_go_nowhere(
    hostile_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    engine = hostile_engine
    assert engine.run() == 1  # the odd binary makes its update unreadable this run
    # Each hostile publication was skipped with a warning naming it, quoted.
    for source, version in HOSTILE_SOURCES:
        assert f"skipping {source!r} {version!r}" in caplog.text
    assert f"a binary is named {ODD_BINARY!r}" in caplog.text
    # Nothing hostile reached the Error Tracker, Launchpad writes, files or the report.
    asked = json.dumps([r.query for r in engine.errors.requests])
    assert not [m for m in MARKERS if m in asked]
    posted = [r for r in engine.launchpad.requests if r.method == "POST"]
    names = {b.id: b.name for b in engine.launchpad.archive.binaries.values()}
    assert {names[int(r.path.rsplit("/", 1)[1])] for r in posted} <= {
        "hello", "libfoo1", "libfoo-dev", "libfoo-doc", "cryptkit", "libcryptkit3", "zed",
        "zed-common", "nettool", "gizmo", "gizmo-data",
    }  # fmt: skip
    sources = {p["source"] for p in engine.report()["packages"]}
    assert sources == {"hello", "libfoo", "cryptkit", "zed", "nettool", "gizmo"}
    written = everything_written(engine.home)
    assert not [m for m in MARKERS if m in written]
    assert engine.package("hello")["percentage"] == 20  # the rest of the run went on


def test_error_tracker_links_that_are_not_plain_urls_are_refused(engine: Engine) -> None:
    key = (CLEAN_UPDATE.source, CLEAN_UPDATE.previous_version, CLEAN_UPDATE.version)
    engine.errors.new_buckets[key] = [
        {"function": "f()", "web_link": "javascript:alert(1)"},
    ]
    assert engine.run() == 1
    hello = engine.package("hello")
    assert (hello["state"], hello["percentage"]) == ("unknown", 10)
    assert "javascript" not in json.dumps(engine.report())
    engine.errors.new_buckets[key] = [
        {"function": "f()", "web_link": "https://errors.ubuntu.com/problem/1\r\nBcc: x@y"},
    ]
    engine.later(1)
    assert engine.run() == 1
    assert engine.package("hello")["state"] == "unknown"
    assert "Bcc" not in (engine.report_dir / "index.html").read_text()
