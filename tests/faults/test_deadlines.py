"""Hangs and unbounded input: every wait has a deadline, every answer a size.

Peers that trickle (a byte or a line at a time, each resetting a socket timeout)
are cut at their request's deadline: the Error Tracker, Launchpad, an SMTP relay's
greeting. A run past its own deadline starts no further update. `serve` keeps
answering `/healthz` beside FIFOs and slow clients. An Error Tracker answer is read
up to a bound and its text truncated before it is stored.

Outcomes are asserted, never durations: the trickling doubles count what they sent,
and a trickled answer would have arrived whole (and been acted on) without a deadline.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from phased_updater.commands.serve import create
from phased_updater.report import serving
from phased_updater.sources.errortracker import MAX_ANSWER_BYTES, MAX_SIGNATURE
from tests.doubles.errortracker import NEW_BUCKETS, ErrorTrackerDouble
from tests.doubles.launchpad import Fault, LaunchpadDouble, history_lookup
from tests.doubles.scenarios import CLEAN_UPDATE, CRASHING_UPDATE
from tests.functional.engine import Engine
from tests.functional.report_server import running
from tests.functional.smtp_server import TricklingRelay

# -- 13. one deadline per request, and one per run -------------------------------------


def test_an_error_tracker_trickling_its_answer_is_cut_at_the_deadline(
    engine: Engine, errortracker: ErrorTrackerDouble
) -> None:
    errortracker.failures[(NEW_BUCKETS, "hello")] = "trickle"
    errortracker.trickle_delay = 0.5  # a whole answer would take about a minute

    assert engine.run("--errors-timeout", "2") == 1

    hello = engine.package("hello")
    assert (hello["action"], hello["percentage"]) == ("unknown", 10)
    assert "no complete answer within 2 s" in hello["reason"]
    [answer] = errortracker.trickled
    assert 0 < answer.sent < len(answer.body)
    assert engine.package("libfoo")["action"] == "stop"  # the others went on


def test_launchpad_trickling_an_answer_is_cut_at_the_deadline(
    engine: Engine, launchpad: LaunchpadDouble
) -> None:
    # hello's own read: its history, which a first run lists for its previous version
    # (its binaries come with the listing of its pocket).
    launchpad.faults.append(
        Fault("GET", history_lookup("hello"), status=None, trickle=0.5, times=None)
    )

    assert engine.run("--launchpad-timeout", "2") == 1

    [entry] = [n for n in engine.report()["not_evaluated"] if n["source"] == "hello"]
    assert "cannot read from Launchpad" in entry["error"]
    assert "no complete answer within 2 s" in entry["error"]
    assert launchpad.trickled and all(0 < r.sent < len(r.body) for r in launchpad.trickled)
    assert set(engine.percentages(*CLEAN_UPDATE[:3]).values()) == {10}
    assert engine.package("libfoo")["action"] == "stop"  # read on the same client, anew


def test_an_smtp_greeting_trickled_line_by_line_is_cut_at_the_deadline(
    engine: Engine,
) -> None:
    with TricklingRelay(delay=0.5, lines=120) as relay:
        status = engine.run(
            *("--smtp-host", "127.0.0.1", "--smtp-port", str(relay.port)),
            *("--smtp-timeout", "2", "--mail-from", "phaser@ubuntu.example"),
        )
    assert status == 0  # the cycle's work is done; the mail waits for the next run
    assert 0 < relay.sent < relay.lines
    with sqlite3.connect(engine.home / "state.sqlite3") as database:
        rows = database.execute("SELECT source, status, last_error FROM mail_outbox").fetchall()
    libfoo = [row for row in rows if row[0] == "libfoo"]
    assert libfoo and libfoo[0][1] == "pending"
    assert "no complete answer within 2 s" in libfoo[0][2]


def test_a_run_past_its_deadline_starts_no_further_update_and_loses_none(
    engine: Engine, launchpad: LaunchpadDouble
) -> None:
    assert engine.run() == 0
    everything = {(p["series"], p["source"]) for p in engine.report()["packages"]}
    engine.later(6)
    launchpad.latency = 0.3  # each update costs a few requests: well past one second

    assert engine.run("--run-deadline", "1s") == 1

    document = engine.report()
    late = [n for n in document["not_evaluated"] if "deadline (1s) passed" in n["error"]]
    assert late, document["not_evaluated"]
    assert any("the run's deadline (1s) passed" in f for f in document["failures"])
    shown = {(p["series"], p["source"]) for p in document["packages"]}
    shown |= {(n["series"], n["source"]) for n in document["not_evaluated"]}
    assert everything <= shown  # nothing vanished from the report
    for entry in late:
        assert entry["last_known"] is not None  # shown as the last run left it
    launchpad.latency = 0.0
    engine.later(0.1)
    assert engine.run() == 0
    # hello stepped once for each interval, never twice: 10 -> 20 -> 30.
    assert set(engine.percentages(*CLEAN_UPDATE[:3]).values()) == {30}


# -- 14. serve: FIFOs and slow clients --------------------------------------------------


@pytest.fixture
def served(engine: Engine) -> Iterator[int]:
    assert engine.run() == 0
    server = create(
        engine.report_dir, "127.0.0.1:0", clock=lambda: engine.now, asyncore_loop_timeout=0.05
    )
    with running(server) as port:
        yield port


def status_of(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_fifos_in_the_report_directory_never_block_a_worker(engine: Engine, served: int) -> None:
    json_path = engine.report_dir / "phased-updates.json"
    json_path.unlink()
    os.mkfifo(json_path)
    os.mkfifo(engine.report_dir / "pipe")
    for _ in range(4):  # as many as the server has threads, and more
        assert status_of(served, "/phased-updates.json") == 404
        assert status_of(served, "/pipe") == 404
    assert status_of(served, "/healthz") == 200


def test_slow_header_clients_cannot_lock_out_healthz(served: int) -> None:
    with ExitStack() as stack:
        for _ in range(120):
            slow = stack.enter_context(socket.socket())
            slow.bind(("127.0.0.2", 0))  # one other client, on another loopback address
            slow.connect(("127.0.0.1", served))
            slow.sendall(b"GET / HTTP/1.1\r\nHo")  # and never the rest
        assert status_of(served, "/healthz") == 200
        assert status_of(served, "/") == 200


def test_a_client_that_never_finishes_its_headers_is_closed(
    served: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serving, "HEADER_DEADLINE_SECONDS", 1.0)
    with socket.create_connection(("127.0.0.1", served), timeout=15) as slow:
        slow.sendall(b"GET / HTTP/1.1\r\nHo")
        assert slow.recv(1024) == b""  # closed by the server, without an answer


# -- 15. bounded Error Tracker answers ---------------------------------------------------


def test_a_10_mb_answer_is_not_read_whole_and_a_long_signature_is_truncated(
    engine: Engine, errortracker: ErrorTrackerDouble
) -> None:
    crash = CRASHING_UPDATE
    huge = "f" * (10 * 1024 * 1024)
    errortracker.new_buckets[(crash.source, crash.previous_version, crash.version)] = [
        {"function": huge, "web_link": "https://errors.ubuntu.com/problem/4f6c1a0d"}
    ]
    assert engine.run() == 1
    libfoo = engine.package("libfoo")
    assert libfoo["action"] == "unknown" and "an answer larger than 1024 KiB" in libfoo["reason"]

    long = "g" * (MAX_ANSWER_BYTES // 4)  # inside the bound: kept, but truncated
    errortracker.new_buckets[(crash.source, crash.previous_version, crash.version)] = [
        {"function": long, "web_link": "https://errors.ubuntu.com/problem/4f6c1a0d"}
    ]
    for _ in range(3):
        engine.later(6)
        assert engine.run() == 0
    [problem] = engine.package("libfoo")["problems"]
    assert len(problem["signature"]) <= MAX_SIGNATURE
    assert (engine.home / "state.sqlite3").stat().st_size < 2 * 1024 * 1024
    assert (engine.report_dir / "index.html").stat().st_size < 1024 * 1024
