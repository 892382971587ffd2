"""The Launchpad request budget of a cycle, counted in the double's request log.

Issue 18's budget: on average at most 1.5 read requests per phasing source over a
first cycle of 400 sources, logins included (1.75 at this test's 40), plus at most
1.1 requests per binary publication written (a changeOverride POST each: Launchpad
answers it with the new record, so nothing is read back). Counting requests is
deterministic, unlike timing, so this is where the budget is enforced; bench/cycle.py
measures it at full size.

Per source a first run needs one read of its own (its history in the series, for
the previous version); its binaries come with a few listings of its series' whole
-updates pocket (one per architecture, `PAGE_SIZE` records a page). A later run,
which finds the previous version recorded, reads no source on its own. The rest is
fixed per cycle (login, the phaser's account, the series, their -updates listings
and architectures) or per extra client of the pool (2 requests each: WADL revalidation,
service root; the archive is handed over from the first client).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from phased_updater.config import Settings
from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import LaunchpadDouble, RecordedRequest
from tests.doubles.scenarios import SIZED_NOW, sized
from tests.functional.conftest import MakeLaunchpad
from tests.functional.engine_cli import EngineHome, current_binaries

SOURCES = 40
# The target is 1.5 at 400 sources (bench/cycle.py checks it); at 40 the fixed
# part, about 25 requests at the default bounds, is 0.6 a source of its own.
MAX_READS_PER_SOURCE = 1.75
MAX_REQUESTS_PER_WRITE = 1.1
DEFAULTS = Settings()


def breakdown(requests: list[RecordedRequest]) -> str:
    """Requests by method, path shape and named operation, the most frequent first."""
    counts = Counter(
        (r.method, re.sub(r"/\d+", "/N", r.path), r.query.get("ws.op") or r.form.get("ws.op"))
        for r in requests
    )
    return "\n".join(
        f"{n:5d} {method} {path} {op or ''}" for (method, path, op), n in counts.most_common()
    )


def split(requests: list[RecordedRequest]) -> tuple[list[RecordedRequest], list[RecordedRequest]]:
    """(reads, writes): the POSTs and the GETs of the entries posted to are writes."""
    posted = {r.path for r in requests if r.method == "POST"}
    writes = [r for r in requests if r.method == "POST" or r.path in posted]
    reads = [r for r in requests if not (r.method == "POST" or r.path in posted)]
    return reads, writes


@pytest.mark.parametrize(
    ("launchpad_workers", "errors_workers"),
    [(1, 1), (DEFAULTS.launchpad_workers, DEFAULTS.errors_workers)],
    ids=["sequential", "default-bounds"],
)
def test_a_cycle_with_writes_stays_within_the_request_budget(
    make_launchpad: MakeLaunchpad,
    errortracker: ErrorTrackerDouble,
    tmp_path: Path,
    launchpad_workers: int,
    errors_workers: int,
) -> None:
    scenario = sized(SOURCES)
    launchpad: LaunchpadDouble = make_launchpad(scenario, clock=SIZED_NOW)
    engine = EngineHome(tmp_path, launchpad, errortracker, launchpad_workers, errors_workers)

    assert engine.run(SIZED_NOW) == 0

    assert len(engine.report()["packages"]) == SOURCES
    with launchpad.lock:
        requests = list(launchpad.requests)
    # 303: people/+me redirects to the phaser's own account.
    assert all(r.status in (200, 303, 304) for r in requests), breakdown(requests)
    written = [
        record
        for records in current_binaries(launchpad, scenario).values()
        for record in records
        if record.status == "Pending" and not record.is_debug
    ]
    reads, writes = split(requests)
    # Every source advances or resumes, so this run writes: the write budget is tested.
    assert len(written) >= SOURCES
    assert sum(r.method == "POST" for r in writes) == len(written), breakdown(writes)
    assert all(r.method == "POST" for r in writes), breakdown(writes)  # nothing read back
    assert len(writes) <= MAX_REQUESTS_PER_WRITE * len(written), breakdown(writes)
    assert len(reads) <= MAX_READS_PER_SOURCE * SOURCES, (
        f"{len(reads)} reads for {SOURCES} sources:\n{breakdown(reads)}"
    )


def test_the_budget_counts_every_read_including_the_login(
    make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> None:
    """A dry run reads as much as a run with writes, and the login is in the log."""
    launchpad = make_launchpad(sized(SOURCES), clock=SIZED_NOW)
    engine = EngineHome(tmp_path, launchpad, errortracker, 1, 1, writes=False)

    assert engine.run(SIZED_NOW) == 0

    with launchpad.lock:
        requests = list(launchpad.requests)
    reads, writes = split(requests)
    assert writes == []
    # The first requests are the login: the WADL, then the service root, both at /devel/.
    assert [r.path for r in requests[:2]] == ["/devel/", "/devel/"]
    # One read of its own per source (its history), a listing of each pocket's
    # binaries per architecture, and the fixed part: small, but not nothing.
    assert len(per_source_lookups(reads)) == SOURCES, breakdown(reads)
    assert len(pocket_listings(reads)) >= 1, breakdown(reads)
    assert SOURCES < len(reads) <= MAX_READS_PER_SOURCE * SOURCES, breakdown(reads)


def per_source_lookups(requests: list[RecordedRequest]) -> list[RecordedRequest]:
    """The history listings of single sources (getPublishedSources by source_name)."""
    return [
        r
        for r in requests
        if r.query.get("ws.op") == "getPublishedSources" and "source_name" in r.query
    ]


def pocket_listings(requests: list[RecordedRequest]) -> list[RecordedRequest]:
    """The listings of a pocket's binaries on one architecture (getPublishedBinaries on
    the archive, by distro_arch_series)."""
    return [
        r
        for r in requests
        if r.query.get("ws.op") == "getPublishedBinaries" and "distro_arch_series" in r.query
    ]


def test_a_later_run_reads_each_source_once(
    make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> None:
    """Previous versions recorded by the first run are not looked up again, and each
    source's binaries are read once, in the one listing of its pocket's architecture."""
    launchpad = make_launchpad(sized(SOURCES), clock=SIZED_NOW)
    engine = EngineHome(tmp_path, launchpad, errortracker, 1, 1, writes=False)
    assert engine.run(SIZED_NOW) == 0
    with launchpad.lock:
        first = list(launchpad.requests)
    assert len(per_source_lookups(first)) == SOURCES
    launchpad.reset_requests()

    assert engine.run(SIZED_NOW + DEFAULTS.interval) == 0

    with launchpad.lock:
        requests = list(launchpad.requests)
    reads, _ = split(requests)
    assert per_source_lookups(reads) == [], breakdown(reads)
    binaries = [r for r in reads if r.query.get("ws.op") == "getPublishedBinaries"]
    # No upload's binaries read on its own: every architecture's pocket listed once.
    assert binaries == pocket_listings(reads), breakdown(reads)
    architectures = {r.query["distro_arch_series"] for r in binaries}
    assert len(binaries) == len(architectures), breakdown(reads)
    assert pocket_listings(reads) == pocket_listings(first), breakdown(reads)
    # No read of its own per source, and the same fixed part as the first run.
    assert len(reads) <= len(first) - SOURCES, breakdown(reads)
    assert len(engine.report()["packages"]) == SOURCES


def test_a_later_run_decides_as_a_first_one_would(
    make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> None:
    """Reusing recorded previous versions changes no decision (dry runs, one archive)."""
    launchpad = make_launchpad(sized(SOURCES), clock=SIZED_NOW)
    later = SIZED_NOW + DEFAULTS.interval
    seasoned = EngineHome(tmp_path / "seasoned", launchpad, errortracker, 4, 4, writes=False)
    assert seasoned.run(SIZED_NOW) == 0
    assert seasoned.run(later) == 0
    fresh = EngineHome(tmp_path / "fresh", launchpad, errortracker, 4, 4, writes=False)
    assert fresh.run(later) == 0

    def decisions(engine: EngineHome) -> list[dict[str, object]]:
        packages = engine.report()["packages"]
        return sorted(
            ({k: v for k, v in p.items() if k != "history"} for p in packages),
            key=lambda p: (str(p["series"]), str(p["source"])),
        )

    assert decisions(seasoned) == decisions(fresh)
    assert all(p["previous_version"] for p in decisions(fresh))
