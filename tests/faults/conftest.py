"""Fixtures for the fault tests: the doubles on loopback and an engine driving them.

- ``launchpad``: a started `LaunchpadDouble` serving `scenarios.demo()` at `DEMO_NOW`.
- ``errortracker``: a started `ErrorTrackerDouble` with the demo's findings.
- ``engine``: an `Engine` (in-process `phased-updater run`) with one worker of each
  kind, so that the order of requests, and so where a fault lands, is fixed.

A test fails if a double hit an internal error (a bug in the double, not a fault).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import LaunchpadDouble
from tests.doubles.scenarios import DEMO_NOW, demo, demo_errors
from tests.functional.engine import Engine


@pytest.fixture
def launchpad() -> Iterator[LaunchpadDouble]:
    with LaunchpadDouble(demo(), clock=DEMO_NOW) as double:
        yield double
    assert not double.internal_errors, "\n".join(double.internal_errors)


@pytest.fixture
def errortracker() -> Iterator[ErrorTrackerDouble]:
    with ErrorTrackerDouble() as double:
        demo_errors(double)
        yield double
    assert not double.internal_errors, "\n".join(double.internal_errors)


@pytest.fixture
def engine(launchpad: LaunchpadDouble, errortracker: ErrorTrackerDouble, tmp_path: Path) -> Engine:
    options = ["--launchpad-workers", "1", "--errors-workers", "1"]
    return Engine(launchpad, errortracker, tmp_path, DEMO_NOW, options)
