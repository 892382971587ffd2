"""Launchpad faults: failed reads, a write failing half-way through a source, a rejected
token, a response slower than the timeout, and paging that ends early.

Whatever happens, the run exits 1 naming the fault, and the runs after it converge:
every deb of an update ends at the same level, and no update's level ever rises more
than one step per interval (checked on the double's own records, see `invariants`).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from phased_updater.cycle import POCKET_WINDOW
from phased_updater.report.anchors import update_anchor
from phased_updater.sources import launchpad as launchpad_source
from phased_updater.sources.launchpad import REJECTED
from tests.doubles import launchpad_render
from tests.doubles.launchpad import Fault, LaunchpadDouble, history_lookup, pocket_listing
from tests.doubles.launchpad_render import Renderer
from tests.doubles.scenarios import CLEAN_UPDATE, CRASHING_UPDATE
from tests.faults.invariants import levels, step_violations, unconverged
from tests.functional.engine import Engine

STEP, INTERVAL = 10, timedelta(hours=6)
HELLO = " ".join(CLEAN_UPDATE[:3])
LIBFOO = " ".join(CRASHING_UPDATE[:3])
ZED = "jammy zed 0.9-1ubuntu0.22.04.1"


# Any source's history lookup: with one worker, the first update's own first read.
FIRST_HISTORY_LOOKUP = history_lookup()


def listing(series: str) -> str:
    """A regex for the request listing a series' -updates (it names no source)."""
    return rf"^(?=.*ws\.op=getPublishedSources)(?!.*source_name)(?=.*/{series}\b)"


def binaries_of(launchpad: LaunchpadDouble, source: str, version: str, arch: str) -> str:
    """The path of a deb's Published record, for a fault aimed at that one binary."""
    [record] = [
        b
        for b in launchpad.archive.binaries.values()
        if (b.source_name, b.source_version, b.arch, b.is_debug, b.status)
        == (source, version, arch, False, "Published")
    ]
    return rf"/\+binarypub/{record.id}$"


def assert_recovers(engine: Engine) -> None:
    """The next runs (1 h, then an interval, later) converge without a double step."""
    engine.later(1)
    assert engine.run() == 0
    assert unconverged(engine.launchpad) == []
    engine.later(6)
    assert engine.run() == 0
    assert unconverged(engine.launchpad) == []
    assert step_violations(engine.launchpad, STEP, INTERVAL) == []


def test_a_500_at_login_fails_the_run_cleanly(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    engine.launchpad.faults.append(Fault("GET", r"^/devel/$"))
    assert engine.run() == 1
    assert "cannot read Launchpad" in caplog.text
    assert engine.posts() == []
    assert engine.report()["packages"] == []  # a report that says so, not yesterday's
    assert_recovers(engine)


def test_a_500_listing_a_series_skips_only_that_series(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    engine.launchpad.faults.append(Fault("GET", listing("noble")))
    assert engine.run() == 1
    assert "noble: cannot list -updates" in caplog.text
    assert levels(engine.launchpad)[HELLO] == 10
    assert levels(engine.launchpad)[ZED] == 30  # jammy was still processed
    assert {p["series"] for p in engine.report()["packages"]} == {"jammy"}
    assert_recovers(engine)
    assert levels(engine.launchpad)[HELLO] == 30  # caught up one step per run, no more


def test_a_500_reading_one_update_leaves_it_for_the_next_run(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    # A first run reads each update's history on its own (for its previous version);
    # the pockets' binaries come from listings of the whole pocket.
    engine.launchpad.faults.append(Fault("GET", FIRST_HISTORY_LOOKUP))
    assert engine.run() == 1
    assert "cannot read from Launchpad" in caplog.text
    # With one worker the first update read is noble's first; it alone is skipped.
    skipped = [u for u, level in levels(engine.launchpad).items() if u.startswith("noble")]
    decided = {f"{p['series']} {p['source']} {p['version']}" for p in engine.report()["packages"]}
    assert len([u for u in skipped if u not in decided]) == 1
    assert_recovers(engine)


def test_a_500_half_way_through_writing_one_source(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    # hello's amd64 deb is written first; the write of its arm64 deb fails.
    arm64 = binaries_of(engine.launchpad, "hello", CLEAN_UPDATE.version, "arm64")
    engine.launchpad.faults.append(Fault("POST", arm64))
    assert engine.run() == 1
    assert engine.percentages(*CLEAN_UPDATE[:3]) == {"hello/amd64": 20, "hello/arm64": 10}
    hello = engine.package("hello")
    assert hello["applied"] is False
    assert "write failed" in hello["error"]
    assert "changeOverride on hello failed: HTTP 500" in caplog.text
    engine.later(1)
    assert engine.run() == 0
    # Converged at the level it was moving to, not stepped again.
    assert engine.percentages(*CLEAN_UPDATE[:3]) == {"hello/amd64": 20, "hello/arm64": 20}
    assert engine.package("hello")["action"] == "wait"
    assert_recovers(engine)


def test_a_write_that_times_out_but_lands_is_not_stepped_again(engine: Engine) -> None:
    # The response is late, but Launchpad makes the change: the engine cannot know.
    engine.options += ["--launchpad-timeout", "0.5"]
    amd64 = binaries_of(engine.launchpad, "hello", CLEAN_UPDATE.version, "amd64")
    engine.launchpad.faults.append(Fault("POST", amd64, status=None, delay=1.0))
    assert engine.run() == 1
    assert "write failed" in engine.package("hello")["error"]
    # The double finishes the late request after the engine gave up on it.
    assert engine.launchpad.wait_for(lambda: levels(engine.launchpad)[HELLO] == 20, 5.0)
    assert_recovers(engine)
    assert levels(engine.launchpad)[HELLO] == 30


def test_a_read_slower_than_the_timeout_fails_that_read_only(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    engine.options += ["--launchpad-timeout", "0.5"]
    engine.launchpad.faults.append(
        Fault("GET", r"ws\.op=getPublishedBinaries", status=None, delay=1.5)
    )
    assert engine.run() == 1
    assert "no complete answer within 0.5 s" in caplog.text
    assert engine.report()["packages"], "the other updates were still decided"
    assert_recovers(engine)


def test_a_timeout_setting_out_of_range_is_refused(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert engine.run("--launchpad-timeout", "0") == 2
    assert "launchpad_timeout '0'" in capsys.readouterr().err
    assert engine.posts() == []


@pytest.mark.parametrize(
    "read",
    # A series' pocket, or the first update's own read (its history): before any write.
    [pocket_listing("noble"), FIRST_HISTORY_LOOKUP],
    ids=["listing-a-pocket", "reading-one-update"],
)
def test_a_token_expiring_mid_cycle_stops_the_cycle_without_a_prompt(
    engine: Engine, caplog: pytest.LogCaptureFixture, read: str
) -> None:
    engine.launchpad.faults.append(Fault("GET", read, status=401, body="Expired token."))
    assert engine.run() == 1
    assert REJECTED in caplog.text
    assert engine.posts() == []
    assert_recovers(engine)


def test_a_revoked_token_fails_fast_and_clearly_in_a_real_process(engine: Engine) -> None:
    # The file's token is unknown to Launchpad: launchpadlib would start its browser
    # flow if it had an authorization engine; with none, the run must end at once.
    engine.credentials.write_text(
        engine.credentials.read_text().replace("engine-token", "revoked-token")
    )
    engine.launchpad.clock = engine.now
    completed = subprocess.run(
        [sys.executable, "-m", "phased_updater.cli", *engine.argv()],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    assert REJECTED in completed.stderr
    assert "Traceback" not in completed.stderr
    assert "engine-secret" not in completed.stderr + completed.stdout
    paths = {r.path for r in engine.launchpad.requests}
    assert all(path.startswith("/devel/") for path in paths), paths  # no +request-token
    assert engine.posts() == []


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every listing in pages of 2, so that listings need several: the engine asks for
    pages of 2 (ws.size), and the double serves 2 when none is asked for."""
    monkeypatch.setattr(launchpad_source, "PAGE_SIZE", 2)
    monkeypatch.setattr(launchpad_render, "PAGE_SIZE", 2)


@pytest.mark.usefixtures("small_pages")
def test_a_next_page_that_fails_is_a_failed_read(engine: Engine) -> None:
    engine.launchpad.faults.append(Fault("GET", r"ws\.start=2\b"))
    assert engine.run() == 1
    assert_recovers(engine)


@dataclass
class ShortPages:
    """Makes the double's next listing of `entry_type` one entry short of its total_size.

    As when a row moves while a client pages through: the last page lacks an entry
    that `total_size` still counts, and launchpadlib, following next links, cannot tell.
    """

    entry_type: str
    remaining: int = 1
    cut: list[str] = field(default_factory=list)


@pytest.fixture
def short_pages(monkeypatch: pytest.MonkeyPatch) -> ShortPages:
    real = Renderer.collection
    lie = ShortPages("")

    def collection(
        self: Renderer, entry_type: str, entries: Any, path: str, query: Any, **options: Any
    ) -> Any:
        page = real(self, entry_type, entries, path, query, **options)
        listed = page["entries"]
        last_page = "next_collection_link" not in page
        if entry_type == lie.entry_type and lie.remaining and last_page and listed:
            assert isinstance(listed, list)
            lie.remaining -= 1
            lie.cut.append(path)
            page["entries"] = listed[:-1]
        return page

    monkeypatch.setattr(Renderer, "collection", collection)
    return lie


@pytest.mark.parametrize(
    "entry_type",
    ["distro_series", "source_package_publishing_history", "binary_package_publishing_history"],
)
def test_a_listing_shorter_than_announced_is_a_failed_read(
    engine: Engine, short_pages: ShortPages, entry_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    short_pages.entry_type = entry_type
    before = levels(engine.launchpad)
    assert engine.run() == 1
    assert short_pages.cut, "the double cut nothing"
    assert "entries it announced" in caplog.text
    if entry_type != "binary_package_publishing_history":
        # The series, or noble's -updates, could not be listed: none of it moved.
        assert levels(engine.launchpad)[HELLO] == before[HELLO]
    assert_recovers(engine)


def source_binaries(launchpad: LaunchpadDouble, series: str, source: str, version: str) -> str:
    """A regex for the request listing one upload's binaries (by its publication's id)."""
    [record] = [
        s
        for s in launchpad.archive.sources.values()
        if (s.series, s.name, s.version, s.pocket, s.status)
        == (series, source, version, "Updates", "Published")
    ]
    return rf"/\+sourcepub/{record.id}\?(?=.*ws\.op=getPublishedBinaries)"


# A run reads an update on its own (its binaries, from its publication) when none of
# its listings of the update's pocket covers it: after a stop longer than
# POCKET_WINDOW, every update is older than a listing reaches back.
LONG_STOP_HOURS = POCKET_WINDOW / timedelta(hours=1)


def test_an_update_launchpad_fails_for_stays_in_the_report_with_its_last_state(
    engine: Engine,
) -> None:
    assert engine.run() == 0
    before = next(p for p in engine.report()["packages"] if p["source"] == "hello")
    engine.later(LONG_STOP_HOURS)  # hello is then read on its own, and the read fails
    engine.launchpad.faults.append(
        Fault("GET", source_binaries(engine.launchpad, *CLEAN_UPDATE[:3]))
    )

    assert engine.run() == 1

    report = engine.report()
    assert "hello" not in {p["source"] for p in report["packages"]}
    [missing] = report["not_evaluated"]
    assert missing["source"] == "hello"
    assert missing["error"].startswith("cannot read from Launchpad")
    assert missing["last_known"]["percentage"] == before["percentage"]
    assert missing["last_known"]["decided_at"] == before["decided_at"]
    assert levels(engine.launchpad)[HELLO] == before["percentage"]  # kept, not stepped
    page = (engine.report_dir / "index.html").read_text(encoding="utf-8")
    assert 'id="not-evaluated"' in page and 'id="incomplete"' in page
    assert_recovers(engine)
    assert engine.report()["not_evaluated"] == []


def test_a_series_launchpad_cannot_list_keeps_its_updates_in_the_report(engine: Engine) -> None:
    assert engine.run() == 0
    noble = {p["source"]: p for p in engine.report()["packages"] if p["series"] == "noble"}
    engine.later(6)
    engine.launchpad.faults.append(Fault("GET", listing("noble")))

    assert engine.run() == 1

    report = engine.report()
    listed = {n["source"]: n for n in report["not_evaluated"]}
    assert set(listed) == set(noble)
    for source, last in noble.items():
        assert listed[source]["error"].startswith("noble: cannot list -updates")
        assert listed[source]["last_known"]["percentage"] == last["percentage"]
    assert any(f.startswith("noble: cannot list -updates") for f in report["failures"])
    assert report["counts"]["not_evaluated"] == len(noble)
    page = (engine.report_dir / "index.html").read_text(encoding="utf-8")
    section = page[page.index('id="not-evaluated"') : page.index('id="phasing"')]
    for source, last in noble.items():
        assert f'id="{update_anchor("noble", source, last["version"])}"' in section
    warning = page[page.index('id="incomplete"') : page.index('class="counts"')]
    assert f"could not evaluate {len(noble)} updates" in warning
    assert "noble: cannot list -updates" in warning


def test_an_update_missed_twice_in_a_row_stays_in_the_report(engine: Engine) -> None:
    # Run 1 decides hello; run 2 cannot read it; run 3 cannot list its series at all.
    assert engine.run() == 0
    before = next(p for p in engine.report()["packages"] if p["source"] == "hello")
    engine.later(LONG_STOP_HOURS)  # hello is then read on its own, and the read fails
    engine.launchpad.faults.append(
        Fault("GET", source_binaries(engine.launchpad, *CLEAN_UPDATE[:3]))
    )
    assert engine.run() == 1
    engine.later(6)
    engine.launchpad.faults.append(Fault("GET", listing("noble")))

    assert engine.run() == 1

    listed = {n["source"]: n for n in engine.report()["not_evaluated"]}
    assert "libfoo" in listed  # decided by run 2, which listed noble
    hello = listed["hello"]  # not decided by run 2, but not forgotten by run 3
    assert hello["error"].startswith("noble: cannot list -updates")
    assert hello["last_known"]["percentage"] == before["percentage"]
    assert hello["last_known"]["decided_at"] == before["decided_at"]
    assert levels(engine.launchpad)[HELLO] == before["percentage"]
    page = (engine.report_dir / "index.html").read_text(encoding="utf-8")
    assert f'id="{update_anchor(*CLEAN_UPDATE[:3])}"' in page
