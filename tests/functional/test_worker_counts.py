"""The number of workers changes how fast a cycle runs, never what it decides.

Two installations of the engine, one with a single Launchpad and Error Tracker
worker and one with eight of each, each against its own Launchpad double holding the
same archive, run the same cycles (writes on): the double's clock advanced by the
interval and its publisher run between cycles, the Error Tracker's answers and the
overrides changed between them the same way for both. After every cycle their
reports (updates, decisions, histories) and the binaries' percentages in the two
doubles must be identical.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from phased_updater.debian import compare_versions, version_key
from tests.doubles import scenarios
from tests.doubles.errortracker import NEW_BUCKETS, RATE_OF_CRASHES, ErrorTrackerDouble
from tests.doubles.scenario import Scenario
from tests.functional.conftest import MakeLaunchpad
from tests.functional.engine_cli import EngineHome, current_binaries

INTERVAL = timedelta(hours=6)
CYCLES = 3
WORKER_COUNTS = (1, 8)

# Between cycles: the Error Tracker double, the cycle just run (0-based), and the
# overrides file lines to use from then on.
Evolve = Callable[[ErrorTrackerDouble, int], list[str]]


def phasing_updates(scenario: Scenario) -> list[tuple[str, str, str]]:
    """(source, previous version, version) of every update phasing in -updates."""
    found = []
    for upload in scenario.uploads:
        if upload.pocket != "Updates" or upload.status != "Published":
            continue
        older = [
            u.version
            for u in scenario.uploads
            if (u.series, u.source) == (upload.series, upload.source)
            and compare_versions(u.version, upload.version) < 0
        ]
        if older and any(b.pup is not None for b in upload.binaries):
            found.append((upload.source, max(older, key=version_key), upload.version))
    return found


def problem_url(name: str) -> str:
    """An Error Tracker problem URL (40 hex digits, like a sha1) of its own for each name."""
    return f"https://errors.ubuntu.com/problem/{hashlib.sha256(name.encode()).hexdigest()[:40]}"


def crash(name: str) -> list[dict[str, object]]:
    return [{"function": f"{name}_crash", "web_link": problem_url(name)}]


def sized_errors(scenario: Scenario) -> Evolve:
    """New crashes, increased rates and failures over a fifth of the updates.

    After the first cycle one crash is overridden (so it resumes) and the Error Tracker
    stops failing for one package while it starts failing for another.
    """
    updates = phasing_updates(scenario)

    def evolve(errors: ErrorTrackerDouble, cycle: int) -> list[str]:
        if cycle == -1:
            for index, key in enumerate(updates):
                if index % 10 == 1:
                    errors.new_buckets[key] = crash(key[0])
                elif index % 10 == 4:
                    errors.rates[key] = {
                        "increase": True,
                        "difference": 3.5,
                        "previous_average": 1.0,
                        "previous_period_in_days": 14,
                        "web_link": f"https://errors.ubuntu.com/?package={key[0]}",
                    }
                elif index % 10 == 7:
                    errors.failures[(RATE_OF_CRASHES, key[0])] = "500"
            return []
        source, _, version = updates[1]
        errors.failures.pop((RATE_OF_CRASHES, updates[7][0]), None)
        errors.failures[(NEW_BUCKETS, updates[2][0])] = "500"
        return [f"{source}, {version}, {problem_url(source)}"]

    return evolve


def demo_errors(errors: ErrorTrackerDouble, cycle: int) -> list[str]:
    """The demo's findings, with its override of gizmo's crash from the start.

    zed gets no answer about new crashes in the first cycle, and one after.
    """
    if cycle == -1:
        scenarios.demo_errors(errors)
        errors.failures[(NEW_BUCKETS, "zed")] = "500"
    else:
        errors.failures.pop((NEW_BUCKETS, "zed"), None)
    hinted = scenarios.OVERRIDDEN_UPDATE
    return [
        f"{hinted.source}, {hinted.version},"
        f" https://errors.ubuntu.com/bucket/?id={scenarios.OVERRIDDEN_SIGNATURE}"
    ]


def normalised(report: dict[str, Any]) -> dict[str, Any]:
    """The report without the order of its updates, which is the order decisions finished."""

    def by_update(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(entries, key=lambda p: (p["series"], p["source"], p["version"]))

    # The overrides were read from each installation's own file, and each has its own
    # Launchpad double, on its own port (in the signers' and creators' links).
    text = re.sub(r"workers-[0-9]+", "workers-N", json.dumps(report))
    text = re.sub(r"http://(127\.0\.0\.1|\[::1\]|localhost):[0-9]+/", "http://launchpad/", text)
    found: dict[str, Any] = json.loads(text)
    return {
        **found,
        "packages": by_update(found["packages"]),
        "recently_completed": by_update(found["recently_completed"]),
    }


@dataclass(frozen=True)
class Case:
    make_scenario: Callable[[], Scenario]
    start: datetime
    errors_for: Callable[[Scenario], Evolve]
    config: str = ""


# Phasing groups over the sized archive, each within one series (source i is in the
# series i % 3): g1 holds a crash, an increased rate and an Error Tracker failure.
GROUPS = """
[groups]
g0 = { sources = ["pkg00000", "pkg00003", "pkg00006"], class = "normal" }
g1 = ["pkg00001", "pkg00004", "pkg00007", "pkg00010"]
g2 = { sources = ["pkg00002", "pkg00005"], class = "medium" }
"""

CASES = {
    "demo": Case(scenarios.demo, scenarios.DEMO_NOW, lambda _: demo_errors),
    "sized-40": Case(lambda: scenarios.sized(40), scenarios.SIZED_NOW, sized_errors),
    "sized-40-groups": Case(
        lambda: scenarios.sized(40), scenarios.SIZED_NOW, sized_errors, config=GROUPS
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_worker_and_eight_decide_the_same_over_several_cycles(
    make_launchpad: MakeLaunchpad, errortracker: ErrorTrackerDouble, tmp_path: Path, case: str
) -> None:
    make_scenario, start = CASES[case].make_scenario, CASES[case].start
    scenario = make_scenario()
    evolve = CASES[case].errors_for(scenario)
    homes = [
        EngineHome(
            tmp_path / f"workers-{count}",
            make_launchpad(make_scenario(), clock=start),
            errortracker,
            launchpad_workers=count,
            errors_workers=count,
            overrides=tmp_path / f"workers-{count}" / "overrides.csv",
            extra_config=CASES[case].config,
        )
        for count in WORKER_COUNTS
    ]
    lines = evolve(errortracker, -1)
    actions: set[str] = set()
    percentages_seen: list[dict[str, int]] = []
    for cycle in range(CYCLES):
        now: datetime = start + cycle * INTERVAL
        statuses = []
        for home in homes:
            assert home.overrides is not None
            home.overrides.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
            home.launchpad.clock = now
            statuses.append(home.run(now))
            home.launchpad.publish()
        one, many = (normalised(home.report()) for home in homes)
        assert statuses[0] == statuses[1], f"cycle {cycle}"
        assert one == many, f"cycle {cycle}: the reports differ"
        assert current_binaries(homes[0].launchpad, scenario) == current_binaries(
            homes[1].launchpad, scenario
        ), f"cycle {cycle}: Launchpad's percentages differ"
        actions |= {p["action"] for p in one["packages"]}
        percentages_seen.append({p["source"]: p["percentage"] for p in one["packages"]})
        lines = evolve(errortracker, cycle)
    # The cycles were worth comparing: things moved, and in more than one way.
    assert percentages_seen[0] != percentages_seen[-1]
    assert {"advance", "stop", "keep-stopped", "unknown"} <= actions
    if case.startswith("sized-40"):
        assert "resume" in actions
    if case == "sized-40-groups":
        assert "group-hold" in actions
