"""A stop that reached Launchpad but not the history is recorded, and mailed, exactly once.

Three ways for the write of a stop to land while its record does not: the process is
killed (SIGKILL) right after the last write; the write times out on our side although
Launchpad applies it; the state database is locked by another process when the run
records. In each case the run after it finds the phaser's own 0 on Launchpad with no
stop recorded, records the stop from Launchpad's records (when, from which level) with
the problems reported now, and mails it once; the runs after that keep it stopped and
mail nothing more. A run that could not record writes nothing more to Launchpad.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from phased_updater import store
from tests.doubles.launchpad import Fault, LaunchpadDouble
from tests.doubles.scenarios import CRASHING_UPDATE
from tests.functional.engine import Engine
from tests.functional.smtp_server import SmtpServer

LIBFOO_MAIL = f"Phasing of libfoo {CRASHING_UPDATE.version} in noble-updates stopped"


@pytest.fixture
def mail(engine: Engine) -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        engine.options += [
            *("--smtp-host", "127.0.0.1", "--smtp-port", str(server.port)),
            *("--mail-from", "phaser@ubuntu.example"),
        ]
        yield server


def libfoo_debs(launchpad: LaunchpadDouble) -> list[int]:
    """The ids of libfoo's Published deb records, in the order the stop writes them:
    the order the listing of its pocket gives them in (oldest first, then by id)."""
    records = [
        b
        for b in launchpad.archive.binaries.values()
        if (b.source_name, b.source_version, b.status, b.is_debug)
        == (CRASHING_UPDATE.source, CRASHING_UPDATE.version, "Published", False)
    ]
    return [b.id for b in sorted(records, key=lambda b: (b.date_created, b.id))]


def libfoo_posts(launchpad: LaunchpadDouble, ids: list[int]) -> int:
    paths = {f"/devel/ubuntu/+archive/primary/+binarypub/{i}" for i in ids}
    with launchpad.lock:
        return sum(r.method == "POST" and r.path in paths for r in launchpad.requests)


def libfoo_history(engine: Engine) -> list[tuple[str, bool]]:
    with sqlite3.connect(engine.home / "state.sqlite3") as database:
        rows = database.execute(
            "SELECT action, applied FROM decisions WHERE source = 'libfoo' ORDER BY id"
        ).fetchall()
    return [(action, bool(applied)) for action, applied in rows]


def assert_recorded_and_mailed_once(engine: Engine, mail: SmtpServer) -> None:
    """The next runs record the stop from Launchpad and mail it once, then keep it."""
    engine.later(1)
    assert engine.run() == 0
    libfoo = engine.package("libfoo")
    assert (libfoo["action"], libfoo["state"], libfoo["percentage"]) == ("stop", "stopped", 0)
    assert "no run recorded the stop" in libfoo["reason"]
    assert [p["kind"] for p in libfoo["problems"]] == ["new-crash"]
    assert [str(r.message["Subject"]) for r in mail.received].count(LIBFOO_MAIL) == 1
    for _ in range(2):
        engine.later(6)
        assert engine.run() == 0
        assert engine.package("libfoo")["action"] == "keep-stopped"
    assert [str(r.message["Subject"]) for r in mail.received].count(LIBFOO_MAIL) == 1
    assert set(engine.percentages(*CRASHING_UPDATE[:3]).values()) == {0}


def test_sigkill_right_after_a_stops_last_write(engine: Engine, mail: SmtpServer) -> None:
    ids = libfoo_debs(engine.launchpad)
    # launchpadlib reads each entry again after its POST: holding the last of those
    # reads keeps the process between the write and its record, where it is killed.
    engine.launchpad.faults.append(
        Fault("GET", rf"/\+binarypub/{ids[-1]}$", status=None, delay=30.0, times=1)
    )
    engine.launchpad.clock = engine.now
    process = subprocess.Popen(
        [sys.executable, "-m", "phased_updater.cli", *engine.argv()],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert engine.launchpad.wait_for(lambda: libfoo_posts(engine.launchpad, ids) == len(ids))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert ("stop", True) not in libfoo_history(engine)  # written, never recorded
    engine.launchpad.faults.clear()
    assert_recorded_and_mailed_once(engine, mail)


def test_a_stop_write_that_times_out_but_lands(engine: Engine, mail: SmtpServer) -> None:
    ids = libfoo_debs(engine.launchpad)
    # The first write of the stop answers after our timeout, but Launchpad applies it.
    engine.launchpad.faults.append(
        Fault("POST", rf"/\+binarypub/{ids[0]}$", status=None, delay=3.0, times=1)
    )
    assert engine.run("--launchpad-timeout", "1") == 1
    assert libfoo_history(engine) == [("stop", False)]
    assert mail.received == [] or LIBFOO_MAIL not in {
        str(r.message["Subject"]) for r in mail.received
    }
    assert engine.launchpad.wait_for(lambda: libfoo_posts(engine.launchpad, ids) >= 1)
    assert_recorded_and_mailed_once(engine, mail)


def test_a_database_locked_while_a_stop_is_recorded(
    engine: Engine, mail: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "BUSY_TIMEOUT_SECONDS", 0.5)
    ids = libfoo_debs(engine.launchpad)
    # Another process takes the database's write lock while libfoo's last write is being
    # answered: the double holds that POST until the lock is taken, then makes the
    # change and answers, and the engine, recording the stop, finds the database locked.
    last_write, locked, refused = threading.Event(), threading.Event(), threading.Event()
    written = [0]

    def on_libfoo_post() -> None:
        written[0] += 1
        if written[0] == len(ids):
            last_write.set()
            locked.wait(timeout=30)

    libfoo = "|".join(str(i) for i in ids)
    engine.launchpad.faults.append(
        Fault("POST", rf"/\+binarypub/({libfoo})$", status=None, times=None,
              action=on_libfoo_post)
    )  # fmt: skip

    class Refusals(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "the state database refused a record" in record.getMessage():
                refused.set()

    def hold_the_lock() -> None:
        last_write.wait(timeout=30)
        other = sqlite3.connect(engine.home / "state.sqlite3", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        locked.set()
        refused.wait(timeout=30)  # until the engine gave up recording libfoo's stop
        other.execute("ROLLBACK")
        other.close()

    handler = Refusals()
    logging.getLogger("phased_updater.cycle").addHandler(handler)
    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        status = engine.run()
    finally:
        holder.join()
        logging.getLogger("phased_updater.cycle").removeHandler(handler)
    assert refused.is_set()
    assert locked.is_set()
    assert status == 1  # the run says it could not record libfoo's decision
    assert ("stop", True) not in libfoo_history(engine)
    # Nothing was written after the record failed: the later updates wrote nothing.
    posts = engine.posts()
    assert libfoo_posts(engine.launchpad, ids) == len(ids)
    last_libfoo = max(i for i, path in enumerate(posts) if int(path.rsplit("/", 1)[1]) in ids)
    assert posts[last_libfoo + 1 :] == []
    assert_recorded_and_mailed_once(engine, mail)
