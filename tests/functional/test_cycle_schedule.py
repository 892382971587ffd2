"""When a cycle asks what: each series' updates are checked while the next series is
listed, and the Launchpad bound holds throughout.

The Error Tracker is the bound a cycle waits on (two requests per update), so it
must not wait for every series to be listed first. Both tests hold the run to this
through the doubles' own records: the order is made certain by stalling a listing
until the Error Tracker has been asked something, never by timing.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import Fault, LaunchpadDouble, source_listing
from tests.doubles.scenarios import DEMO_NOW, demo_errors
from tests.functional.engine import Engine

# How long the stalled listing waits for the Error Tracker before it gives up. The
# run answers in well under a second when it works; when it does not (every series
# listed before any check), this is how long the test takes to fail.
PATIENCE_SECONDS = 20.0


def test_the_first_series_is_checked_while_the_last_one_is_listed(
    launchpad: LaunchpadDouble, errortracker: ErrorTrackerDouble, tmp_path: Path
) -> None:
    demo_errors(errortracker)
    first_asked: list[str | None] = []

    def until_the_error_tracker_is_asked() -> None:
        asked = errortracker.wait_for(lambda: bool(errortracker.requests), PATIENCE_SECONDS)
        with errortracker.lock:
            first_asked.append(errortracker.requests[0].query.get("package") if asked else None)

    # jammy is the oldest supported series of the demo archive: listed last.
    held = Fault(path_regex=source_listing("jammy"), status=None)
    launchpad.faults.append(replace(held, wait=until_the_error_tracker_is_asked))
    options = ["--launchpad-workers", "4", "--errors-workers", "4"]
    engine = Engine(launchpad, errortracker, tmp_path, DEMO_NOW, options)

    assert engine.run() == 0

    packages = engine.report()["packages"]
    noble = {p["source"] for p in packages if p["series"] == "noble"}
    jammy = {p["source"] for p in packages if p["series"] == "jammy"}
    assert noble and jammy  # both listed and decided on
    [asked] = first_asked  # jammy was listed once, and waited
    assert asked in noble  # asked about while jammy's listing was held


@pytest.mark.parametrize("workers", [1, 4])
def test_the_launchpad_bound_holds_while_listing_and_checking_overlap(
    launchpad: LaunchpadDouble,
    errortracker: ErrorTrackerDouble,
    tmp_path: Path,
    workers: int,
) -> None:
    demo_errors(errortracker)
    options = ["--launchpad-workers", str(workers), "--errors-workers", "4"]
    engine = Engine(launchpad, errortracker, tmp_path, DEMO_NOW, options)

    assert engine.run() == 0

    assert 1 <= launchpad.most_in_flight <= workers
