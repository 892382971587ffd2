"""Error Tracker faults, on either endpoint: the update is `unknown` for that run.

It is neither stepped nor stopped (no data is neither a pass nor a fail), the run
exits 1, and the reason is in the report: phased-updates.json's `reason` and the
HTML page. Two updates fail at once: hello, which would otherwise step, and libfoo,
which would otherwise stop on its new crash.
"""

from __future__ import annotations

import html

import pytest

from tests.doubles.errortracker import FAILURE_MODES, NEW_BUCKETS, RATE_OF_CRASHES
from tests.doubles.scenarios import CLEAN_UPDATE, CRASHING_UPDATE
from tests.functional.engine import Engine

# What the engine says for each mode, after "Error Tracker failed: <endpoint>: ".
EXPECTED_REASON = {
    "500": "HTTP 500",
    "timeout": "no complete answer within 0.3 s",
    "trickle": "no complete answer within 0.3 s",
    "html-200": "the answer is not JSON",
    "404": "HTTP 404",
    "bad-json": "the answer is not JSON",
    "missing-fields": "",  # the wording depends on the endpoint; the endpoint is named
    "wrong-types": "",
    "empty-objects": "expected one object, got 0",
}
# An empty list of new buckets is the normal "nothing new": not a fault.
CASES = [
    (endpoint, mode)
    for endpoint in (NEW_BUCKETS, RATE_OF_CRASHES)
    for mode in FAILURE_MODES
    if (endpoint, mode) != (NEW_BUCKETS, "empty-objects")
]


def assert_unknown_and_untouched(engine: Engine, source: str, level: int, reason: str) -> None:
    package = engine.package(source)
    assert (package["state"], package["action"], package["percentage"]) == (
        "unknown",
        "unknown",
        level,
    )
    assert package["reason"].startswith("Error Tracker failed: ")
    assert reason in package["reason"]
    page = (engine.report_dir / "index.html").read_text(encoding="utf-8")
    assert package["reason"] in html.unescape(page)


@pytest.mark.parametrize(("endpoint", "mode"), CASES, ids=[f"{e[8:]}-{m}" for e, m in CASES])
def test_a_failing_error_tracker_leaves_the_update_unknown(
    engine: Engine, endpoint: str, mode: str
) -> None:
    engine.errors.timeout_delay = 0.6
    engine.options += ["--errors-timeout", "0.3"]
    for source in ("hello", "libfoo"):
        engine.errors.failures[(endpoint, source)] = mode
    assert engine.run() == 1
    reason = f"{endpoint}: {EXPECTED_REASON[mode]}"
    assert_unknown_and_untouched(engine, "hello", 10, reason)
    assert_unknown_and_untouched(engine, "libfoo", 30, reason)
    assert set(engine.percentages(*CLEAN_UPDATE[:3]).values()) == {10}
    assert set(engine.percentages(*CRASHING_UPDATE[:3]).values()) == {30}
    assert engine.package("zed")["percentage"] == 30  # the others still move
    assert engine.package("cryptkit")["state"] == "stopped"
    # Once it answers again, the updates move on, one step or a stop.
    engine.errors.failures.clear()
    engine.later(1)
    assert engine.run() == 0
    assert (engine.package("hello")["state"], engine.package("hello")["percentage"]) == (
        "phasing",
        20,
    )
    assert engine.package("libfoo")["state"] == "stopped"


def test_a_version_the_error_tracker_does_not_know_is_held_for_a_person(engine: Engine) -> None:
    # The service answers 404 "<src> version <v> was not found in Launchpad.": an
    # expected condition, not a fault: held (exit 0), until an override or resume.
    known = {(CLEAN_UPDATE.source, CLEAN_UPDATE.previous_version)}
    engine.errors.known_versions = known
    assert engine.run() == 0
    hello = engine.package("hello")
    assert (hello["state"], hello["action"], hello["percentage"]) == ("held", "hold", 10)
    assert f"does not know version {CLEAN_UPDATE.version} (404)" in hello["reason"]
    assert set(engine.percentages(*CLEAN_UPDATE[:3]).values()) == {10}
