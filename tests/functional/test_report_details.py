"""A large report's update pages on disk (report/details.py, through report.publish).

Whole directories, named by their contents, written before the page that links
them, and only the two newest publishes' kept.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from phased_updater.atomic_write import STALE_AFTER_SECONDS
from phased_updater.report import details
from phased_updater.report.publish import publish
from phased_updater.store import RunRecord, Store
from tests.unit import report_db

NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def history(tmp_path: Path) -> tuple[Store, RunRecord]:
    store = Store.open(tmp_path / "state.sqlite3")
    _, last = report_db.realistic(store)
    return store, last


def published(report: Path) -> list[str]:
    return sorted(p.name for p in (report / details.DIRECTORY).iterdir())


def linked(report: Path) -> set[str]:
    html = (report / "index.html").read_text()
    return set(re.findall(r'href="details/([^/"]+)/', html))


def test_up_to_the_limit_everything_is_in_the_page(
    history: tuple[Store, RunRecord], tmp_path: Path
) -> None:
    store, last = history
    report = tmp_path / "report"
    publish(report, store, last, now=NOW, inline_limit=10)  # realistic has 10 updates
    assert not (report / details.DIRECTORY).exists()
    html = (report / "index.html").read_text()
    assert html.count('<ol class="decisions">') == 10
    assert " compact" not in html


def test_past_it_the_page_links_one_directory_written_whole(
    history: tuple[Store, RunRecord], tmp_path: Path
) -> None:
    store, last = history
    report = tmp_path / "report"
    publish(report, store, last, now=NOW, inline_limit=9)
    (name,) = published(report)
    assert linked(report) == {name}
    assert name.startswith(f"{last.id}-")
    files = sorted(p.name for p in (report / details.DIRECTORY / name).iterdir())
    assert files == sorted([*(f"{n}.html" for n in range(10)), "report.css"])
    for path in (report / details.DIRECTORY / name).iterdir():
        assert details.is_served(path.relative_to(report).as_posix()), path
    # The same report again: the same name, nothing rewritten.
    before = os.stat(report / details.DIRECTORY / name).st_ino
    publish(report, store, last, now=NOW, inline_limit=9)
    assert published(report) == [name]
    assert os.stat(report / details.DIRECTORY / name).st_ino == before


def test_only_the_two_newest_publishes_are_kept(
    history: tuple[Store, RunRecord], tmp_path: Path
) -> None:
    store, last = history
    report = tmp_path / "report"
    names = []
    for hours in range(4):  # each later: other relative times, other contents
        publish(report, store, last, now=NOW + timedelta(hours=hours), inline_limit=1)
        (current,) = linked(report)
        names.append(current)
        # Spaced in time as runs are (the newest is the one written last).
        moment = 1_000_000 + 3600 * hours
        os.utime(report / details.DIRECTORY / current, (moment, moment))
    assert len(set(names)) == 4
    assert published(report) == sorted(names[-2:])


def test_a_killed_writers_leftovers_go_once_stale(
    history: tuple[Store, RunRecord], tmp_path: Path
) -> None:
    store, last = history
    report = tmp_path / "report"
    leftover = report / details.DIRECTORY / ".partial-7-0123456789ab.x1y2"
    leftover.mkdir(parents=True)
    (leftover / "0.html").write_text("half")
    publish(report, store, last, now=NOW, inline_limit=1)
    assert leftover.exists()  # it may be another writer's, still at work
    old = leftover.stat().st_mtime - STALE_AFTER_SECONDS - 1
    os.utime(leftover, (old, old))
    publish(report, store, last, now=NOW, inline_limit=1)
    assert not leftover.exists()
    assert len(published(report)) == 1


def test_a_failed_write_keeps_the_old_page(
    history: tuple[Store, RunRecord], tmp_path: Path
) -> None:
    store, last = history
    report = tmp_path / "report"
    publish(report, store, last, now=NOW)
    page = (report / "index.html").read_bytes()
    data = (report / "phased-updates.json").read_bytes()
    # Where the update pages go is taken (by a file): the write fails, as a full disk
    # would, before the page is replaced.
    (report / details.DIRECTORY).write_text("in the way")
    with pytest.raises(OSError):
        publish(report, store, last, now=NOW + timedelta(hours=1), inline_limit=1)
    assert (report / "index.html").read_bytes() == page
    assert (report / "phased-updates.html").read_bytes() == page
    assert (report / "phased-updates.json").read_bytes() == data  # nothing half-published


def _fsyncs_of_update_pages(monkeypatch: pytest.MonkeyPatch, fail: bool) -> list[str]:
    """Count (or fail, as a disk would with EIO) the fsyncs of files being published
    under details/; the JSON's and the page's own fsyncs go through."""
    real = os.fsync
    calls: list[str] = []

    def fsync(descriptor: int) -> None:
        where = os.readlink(f"/proc/self/fd/{descriptor}")
        if f"/{details.DIRECTORY}/" in where:
            calls.append(where)
            if fail:
                raise OSError(5, "Input/output error")
        real(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


def test_the_pages_are_flushed_by_one_syncfs_or_else_an_fsync_each(
    history: tuple[Store, RunRecord], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, last = history
    calls = _fsyncs_of_update_pages(monkeypatch, fail=False)
    publish(tmp_path / "with", store, last, now=NOW, inline_limit=1)
    assert calls == []  # glibc has syncfs: one call for every file

    monkeypatch.setattr(details, "_libc", lambda: None)  # a C library without it
    publish(tmp_path / "without", store, last, now=NOW, inline_limit=1)
    (name,) = published(tmp_path / "without")
    assert sorted(Path(c).name for c in calls) == sorted(
        [details.STYLESHEET, *(f"{n}.html" for n in range(10))]
    )
    assert all(f"/.partial-{name}." in c for c in calls)  # before the rename


def test_a_failed_flush_keeps_the_old_page(
    history: tuple[Store, RunRecord], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, last = history
    report = tmp_path / "report"
    publish(report, store, last, now=NOW, inline_limit=1)
    page = (report / "index.html").read_bytes()
    data = (report / "phased-updates.json").read_bytes()
    before = published(report)
    monkeypatch.setattr(details, "_libc", lambda: None)
    _fsyncs_of_update_pages(monkeypatch, fail=True)

    with pytest.raises(OSError, match="Input/output error"):
        publish(report, store, last, now=NOW + timedelta(hours=1), inline_limit=1)

    assert (report / "index.html").read_bytes() == page
    assert (report / "phased-updates.json").read_bytes() == data
    assert published(report) == before  # no new directory, and no leftover


def test_what_serve_hands_out_from_under_details() -> None:
    good = "details/12-0123456789ab"
    assert details.is_served(f"{good}/0.html")
    assert details.is_served(f"{good}/1999.html")
    assert details.is_served(f"{good}/report.css")
    for path in (
        good,
        f"{good}/",
        f"{good}/.html",
        f"{good}/x.html",
        f"{good}/0.htm",
        "details/12-0123456789ab/../index.html",
        "details/.partial-12-0123456789ab.xyz/0.html",
        "details/12-0123456789a/0.html",
        "details/12-0123456789ab/sub/0.html",
        "state.sqlite3",
    ):
        assert not details.is_served(path), path
