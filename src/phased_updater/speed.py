"""Speed classes: how many points an update steps per interval, by source package.

A class has a name, a step and, optionally, its own interval. The built-in classes
follow Ubuntu's phaser ("low: 10 points per run, medium: 5, slow: 1", ubuntu-release,
January 2025):

- `normal`: the default class of every source no class names. Its step is the global
  `step` (10 by default) and its interval the global `interval`: it is not defined in
  the `[classes]` table.
- `medium`: 5 points per interval.
- `slow`: 1 point per interval: the bootloader and Secure Boot sources
  (`SLOW_SOURCES`), whose regressions leave machines unbootable.

The config's `[classes]` table adds classes or redefines `medium` and `slow`; its
`[sources]` table puts sources in classes, on top of the built-in ones (a source named
there with `normal` leaves the slow set). Pure: values in, values out; every bad entry
raises `EntryError` naming it, which `config` turns into a usage error and the charm
into a blocked status.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from phased_updater.debian import is_source_name
from phased_updater.duration import format_duration, parse_duration
from phased_updater.errors import EntryError
from phased_updater.model import Pace

DEFAULT_CLASS = "normal"
MINIMUM_INTERVAL = timedelta(minutes=1)
_CLASS_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")


@dataclass(frozen=True)
class SpeedClass:
    name: str
    step: int
    interval: timedelta | None = None  # None: the global interval

    def describe(self, default_interval: timedelta) -> str:
        """e.g. "slow: 1 point every 6h"."""
        interval = self.interval or default_interval
        points = "point" if self.step == 1 else "points"
        return f"{self.name}: {self.step} {points} every {format_duration(interval)}"


BUILTIN_CLASSES = (SpeedClass("medium", 5), SpeedClass("slow", 1))
# The bootloader and Secure Boot sources, phased at 1 point per run as Ubuntu does.
# grub2-signed and shim-signed are the signed EFI binaries machines with Secure Boot
# actually boot, and grub2-unsigned builds the EFI images that are signed: the same
# boot code as grub2 and shim, so a regression in them is just as hard to recover
# from. (Ubuntu publishes no shim-unsigned or secureboot-db-signed source.)
SLOW_SOURCES = ("grub2", "grub2-signed", "grub2-unsigned", "shim", "shim-signed", "secureboot-db")


def is_class_name(text: str) -> bool:
    return _CLASS_NAME.fullmatch(text) is not None


def _step(where: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
        raise EntryError(where, f"{value!r} is not a whole number from 1 to 100")
    return value


def _interval(where: str, value: Any) -> timedelta:
    if not isinstance(value, str):
        raise EntryError(where, f"{value!r} is not a duration such as 6h or 1d")
    try:
        interval = parse_duration(value)
    except ValueError as error:
        raise EntryError(where, str(error)) from None
    if interval < MINIMUM_INTERVAL:
        raise EntryError(where, f"{value!r} is shorter than 1m")
    return interval


def parse_classes(value: Any) -> tuple[SpeedClass, ...]:
    """The `[classes]` table: NAME = {step = N} or {step = N, interval = "1d"}."""
    if not isinstance(value, Mapping):
        raise EntryError("classes", "expected a table of NAME = {step = N}")
    found = []
    for name, spec in value.items():
        where = f"classes.{name}"
        if not isinstance(name, str) or not is_class_name(name):
            raise EntryError(where, "a class name is lower-case letters, digits and '-'")
        if name == DEFAULT_CLASS:
            raise EntryError(
                where,
                "the default class is not defined here: its step is `step` and its"
                " interval `interval`",
            )
        if not isinstance(spec, Mapping) or "step" not in spec:
            raise EntryError(where, "expected {step = N} or {step = N, interval = D}")
        unknown = sorted(set(spec) - {"step", "interval"})
        if unknown:
            raise EntryError(where, f"unknown key(s) {', '.join(map(str, unknown))}")
        interval = _interval(f"{where}.interval", spec["interval"]) if "interval" in spec else None
        found.append(SpeedClass(name, _step(f"{where}.step", spec["step"]), interval))
    return tuple(found)


def parse_sources(value: Any) -> tuple[tuple[str, str], ...]:
    """The `[sources]` table: SOURCE = "CLASS". Class names are checked by `SpeedClasses`."""
    if not isinstance(value, Mapping):
        raise EntryError("sources", 'expected a table of SOURCE = "CLASS"')
    found = []
    for source, name in value.items():
        where = f"sources.{source}"
        if not isinstance(source, str) or not is_source_name(source):
            raise EntryError(where, "not a Debian source package name")
        if not isinstance(name, str):
            raise EntryError(where, f"{name!r} is not the name of a class")
        found.append((source, name))
    return tuple(found)


@dataclass(frozen=True)
class SpeedClasses:
    """The classes in force: the default one, the built-in ones and the config's own."""

    step: int  # the default class's (the global `step`)
    interval: timedelta  # the default interval (the global `interval`)
    classes: tuple[SpeedClass, ...] = ()  # the config's, over the built-in ones
    sources: tuple[tuple[str, str], ...] = ()  # the config's, over SLOW_SOURCES

    def __post_init__(self) -> None:
        known = self.by_name
        for source, name in self.sources:
            if name not in known:
                raise EntryError(
                    f"sources.{source}", f"unknown class {name!r} (known: {', '.join(known)})"
                )

    @property
    def by_name(self) -> dict[str, SpeedClass]:
        found = {DEFAULT_CLASS: SpeedClass(DEFAULT_CLASS, self.step)}
        found |= {c.name: c for c in BUILTIN_CLASSES}
        found |= {c.name: c for c in self.classes}
        return found

    def named(self, name: str) -> SpeedClass:
        """The class called `name`; ValueError naming the known ones otherwise."""
        found = self.by_name.get(name)
        if found is None:
            raise ValueError(f"unknown class {name!r} (known: {', '.join(self.by_name)})")
        return found

    def class_of(self, source: str) -> str:
        assigned = dict.fromkeys(SLOW_SOURCES, "slow") | dict(self.sources)
        return assigned.get(source, DEFAULT_CLASS)

    def pace(self, name: str, group: str | None = None) -> Pace:
        """The pace of class `name`, as a decision records it."""
        speed = self.named(name)
        return Pace(speed.name, speed.step, speed.interval or self.interval, group)

    def pace_of(self, source: str) -> Pace:
        return self.pace(self.class_of(source))
