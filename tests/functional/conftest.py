"""Fixtures for functional tests: the HTTP doubles on loopback.

- ``launchpad``: a started `LaunchpadDouble` serving `scenarios.demo()` at
  `scenarios.DEMO_NOW`.
- ``make_launchpad(scenario, clock=None)``: start a double for another scenario.
- ``errortracker``: a started, empty `ErrorTrackerDouble`.

Every double is stopped at teardown, and a test fails if the double hit an
internal error (a bug in the double, answered as HTTP 500).

Every phased-updates.json a test leaves in its temporary directory is validated
against docs/report-schema.json at its teardown (and, at the end of a module, those
in the directories its shared fixtures made), so no report the engine writes in
these tests can drift from the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests import report_schema
from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import LaunchpadDouble
from tests.doubles.scenario import Scenario
from tests.doubles.scenarios import DEMO_NOW, demo

MakeLaunchpad = Callable[..., LaunchpadDouble]


@pytest.fixture
def make_launchpad() -> Iterator[MakeLaunchpad]:
    started: list[LaunchpadDouble] = []

    def make(scenario: Scenario, clock: datetime | None = None) -> LaunchpadDouble:
        double = LaunchpadDouble(scenario, clock=clock).start()
        started.append(double)
        return double

    yield make
    for double in started:
        double.stop()
    for double in started:
        assert not double.internal_errors, "\n".join(double.internal_errors)


@pytest.fixture
def launchpad(make_launchpad: MakeLaunchpad) -> LaunchpadDouble:
    return make_launchpad(demo(), clock=DEMO_NOW)


@pytest.fixture
def errortracker() -> Iterator[ErrorTrackerDouble]:
    with ErrorTrackerDouble() as double:
        yield double
    assert not double.internal_errors, "\n".join(double.internal_errors)


@pytest.fixture(scope="session")
def reports_checked() -> set[Path]:
    """The reports validated so far in this session (each is validated once)."""
    return set()


@pytest.fixture(autouse=True)
def reports_match_the_schema(tmp_path: Path, reports_checked: set[Path]) -> Iterator[None]:
    # Requesting tmp_path (an empty directory for a test that does not use it) keeps
    # it until this check has run.
    yield
    report_schema.check_reports_under(tmp_path, reports_checked)


@pytest.fixture(scope="module", autouse=True)
def module_reports_match_the_schema(
    tmp_path_factory: pytest.TempPathFactory, reports_checked: set[Path]
) -> Iterator[None]:
    """The reports in the directories a module's shared fixtures made (tmp_path_factory),
    once the module is done: only those this module made, none of other suites."""
    base = tmp_path_factory.getbasetemp()
    before = set(base.iterdir())
    yield
    for made in sorted(set(base.iterdir()) - before):
        report_schema.check_reports_under(made, reports_checked)
