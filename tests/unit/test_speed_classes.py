"""Speed classes: each class's pace, and the policy stepping by it (the clock passed in)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from phased_updater.errors import EntryError
from phased_updater.model import Action, CrashCheck, Pace, State
from phased_updater.overrides import Overrides
from phased_updater.policy import decide
from phased_updater.speed import (
    SLOW_SOURCES,
    SpeedClass,
    SpeedClasses,
    parse_classes,
    parse_sources,
)
from tests.unit.factories import T0, binary, update

SIX_HOURS = timedelta(hours=6)
BUILT_IN = SpeedClasses(10, SIX_HOURS)


def test_the_built_in_classes_are_ubuntus() -> None:
    assert BUILT_IN.pace("normal") == Pace("normal", 10, SIX_HOURS)
    assert BUILT_IN.pace("medium") == Pace("medium", 5, SIX_HOURS)
    assert BUILT_IN.pace("slow") == Pace("slow", 1, SIX_HOURS)


@pytest.mark.parametrize("source", SLOW_SOURCES)
def test_bootloader_and_secure_boot_sources_are_slow(source: str) -> None:
    assert BUILT_IN.class_of(source) == "slow"
    assert BUILT_IN.pace_of(source).step == 1


def test_a_source_in_no_class_gets_the_default_whose_step_is_the_global_step() -> None:
    assert BUILT_IN.class_of("hello") == "normal"
    assert SpeedClasses(20, timedelta(hours=12)).pace_of("hello") == Pace(
        "normal", 20, timedelta(hours=12)
    )


def test_the_config_adds_classes_and_moves_sources() -> None:
    classes = parse_classes({"glacial": {"step": 1, "interval": "1d"}, "slow": {"step": 2}})
    sources = parse_sources({"openssl": "medium", "grub2": "glacial", "shim": "normal"})
    speed = SpeedClasses(10, SIX_HOURS, classes, sources)
    assert speed.pace_of("openssl") == Pace("medium", 5, SIX_HOURS)
    assert speed.pace_of("grub2") == Pace("glacial", 1, timedelta(days=1))
    assert speed.pace_of("shim") == Pace("normal", 10, SIX_HOURS)  # out of the slow set
    assert speed.pace_of("shim-signed") == Pace("slow", 2, SIX_HOURS)  # slow, redefined


@pytest.mark.parametrize(
    ("classes", "entry", "reason"),
    [
        ({"slow": {"step": 0}}, "classes.slow.step", "0 is not a whole number from 1 to 100"),
        ({"slow": {"step": True}}, "classes.slow.step", "True is not a whole number"),
        ({"x": {"step": 1, "interval": "30s"}}, "classes.x.interval", "'30s' is shorter than 1m"),
        ({"x": {"step": 1, "interval": "soon"}}, "classes.x.interval", "invalid duration"),
        ({"x": {"interval": "1d"}}, "classes.x", "expected {step = N}"),
        ({"x": {"step": 1, "speed": 2}}, "classes.x", "unknown key(s) speed"),
        ({"Fast!": {"step": 1}}, "classes.Fast!", "a class name is lower-case"),
        ({"normal": {"step": 5}}, "classes.normal", "its step is `step`"),
    ],
)
def test_a_bad_class_names_its_entry(classes: object, entry: str, reason: str) -> None:
    with pytest.raises(EntryError) as raised:
        parse_classes(classes)
    assert raised.value.entry == entry
    assert reason in raised.value.reason


def test_an_unknown_class_names_the_source() -> None:
    with pytest.raises(EntryError, match=r"sources\.grub2: unknown class 'glacial'"):
        SpeedClasses(10, SIX_HOURS, (), parse_sources({"grub2": "glacial"}))
    with pytest.raises(EntryError, match=r"sources\.Grub2: not a Debian source"):
        parse_sources({"Grub2": "slow"})


def test_describe() -> None:
    assert SpeedClass("slow", 1).describe(SIX_HOURS) == "slow: 1 point every 6h"
    assert SpeedClass("g", 3, timedelta(days=1)).describe(SIX_HOURS) == "g: 3 points every 1d"


# -- the policy at each class's pace -------------------------------------------------------


def step_at(pace: Pace, level: int, hours_at_level: float) -> tuple[Action, int]:
    u = update(binary(percentage=level, created=T0))
    now = T0 + timedelta(hours=hours_at_level)
    d = decide(u, CrashCheck(), Overrides(), None, now, pace.step, pace.interval)
    return d.action, d.to_percentage


@pytest.mark.parametrize(("name", "step"), [("normal", 10), ("medium", 5), ("slow", 1)])
def test_each_class_steps_by_its_own_step(name: str, step: int) -> None:
    pace = BUILT_IN.pace(name)
    assert step_at(pace, 20, 6) == (Action.ADVANCE, 20 + step)
    assert step_at(pace, 20, 5) == (Action.WAIT, 20)  # not an interval yet
    assert step_at(pace, 99, 6) == (Action.ADVANCE, 100)  # capped, every class


def test_a_class_with_its_own_interval_waits_for_it() -> None:
    speed = SpeedClasses(10, SIX_HOURS, parse_classes({"daily": {"step": 2, "interval": "1d"}}))
    pace = speed.pace("daily")
    assert step_at(pace, 20, 6) == (Action.WAIT, 20)  # the global interval is not enough
    assert step_at(pace, 20, 21.6) == (Action.ADVANCE, 22)  # a day less a tenth
    u = update(binary(percentage=20, created=T0))
    d = decide(u, CrashCheck(), Overrides(), None, T0 + SIX_HOURS, pace.step, pace.interval)
    assert (d.state, d.next_step_at) == (State.PHASING, T0 + timedelta(hours=21.6))
