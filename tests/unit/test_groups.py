"""Phasing groups: the config, and each group rule over the members' own decisions."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from phased_updater.errors import EntryError
from phased_updater.freeze import FreezeCalendar
from phased_updater.groups import Group, Groups, Member, move_together, parse_groups
from phased_updater.model import (
    Action,
    CrashCheck,
    Decision,
    Halt,
    Pace,
    Problem,
    ProblemKind,
    Standing,
    StopRecord,
)
from phased_updater.overrides import Overrides
from phased_updater.policy import decide, minimum_wait
from phased_updater.speed import SpeedClasses, parse_classes, parse_sources
from tests.unit.factories import T0, binary, update

SIX_HOURS = timedelta(hours=6)
NOW = T0 + SIX_HOURS
PACE = Pace("normal", 10, SIX_HOURS, "boot")
CRASH = Problem(ProblemKind.NEW_CRASH, "https://errors.ubuntu.com/problem/" + "ab" * 20, "main()")


def member(
    source: str,
    level: int,
    *,
    since: datetime = T0,
    check: CrashCheck | None = None,
    highest: int | None = None,
    standing: Standing | None = None,
    halt: Halt | None = None,
    overrides: Overrides | None = None,
    freeze: FreezeCalendar | None = None,
    now: datetime = NOW,
) -> Member:
    """A member and its own decision, made at the group's pace as the cycle makes it."""
    u = update(
        binary(source, level, created=since),
        source=source,
        version="1.0-1ubuntu0.1",
        highest=highest,
    )
    d = decide(
        u,
        check or CrashCheck(),
        overrides or Overrides(),
        halt,
        now,
        PACE.step,
        PACE.interval,
        standing=standing,
        freeze=freeze,
    )
    return Member(u, replace(d, pace=PACE))


def moves(*members: Member, now: datetime = NOW, **kw: object) -> list[Decision]:
    return move_together(PACE, members, now, **kw)  # type: ignore[arg-type]


def summary(decisions: list[Decision]) -> list[tuple[str, str, int]]:
    return [(str(d.action), str(d.state), d.to_percentage) for d in decisions]


# -- the config ------------------------------------------------------------------------------


def test_groups_are_lists_or_tables_with_a_class() -> None:
    groups = parse_groups(
        {
            "boot": {"sources": ["shim-signed", "grub2-signed"], "class": "slow"},
            "foo": ["libfoo", "foo-tools", "libfoo"],
        }
    )
    assert groups == (
        Group("boot", ("shim-signed", "grub2-signed"), "slow"),
        Group("foo", ("libfoo", "foo-tools")),
    )


@pytest.mark.parametrize(
    ("table", "entry", "reason"),
    [
        ({"boot": ["shim-signed"]}, "groups.boot", "at least two sources"),
        ({"boot": "shim-signed"}, "groups.boot", "expected a list of source package names"),
        ({"boot": ["shim-signed", "Grub!"]}, "groups.boot", "'Grub!' is not a Debian source"),
        ({"boot": {"sources": ["a1", "b1"], "speed": "x"}}, "groups.boot", "unknown key(s) speed"),
        ({"boot": {"sources": ["a1", "b1"], "class": 1}}, "groups.boot.class", "1 is not the name"),
        ({"Boot Set": ["a1", "b1"]}, "groups.Boot Set", "a group name is lower-case"),
    ],
)
def test_a_bad_group_names_its_entry(table: object, entry: str, reason: str) -> None:
    with pytest.raises(EntryError) as raised:
        parse_groups(table)
    assert raised.value.entry == entry
    assert reason in raised.value.reason


def test_a_source_in_two_groups_is_refused() -> None:
    with pytest.raises(EntryError, match=r"groups\.efi: shim-signed is already in group boot"):
        Groups(
            parse_groups({"boot": ["shim-signed", "grub2-signed"], "efi": ["fwupd", "shim-signed"]})
        )


def test_an_unknown_group_class_is_refused() -> None:
    groups = Groups(parse_groups({"boot": {"sources": ["a1", "b1"], "class": "glacial"}}))
    with pytest.raises(EntryError, match=r"groups\.boot\.class: unknown class 'glacial'"):
        groups.check(SpeedClasses(10, SIX_HOURS))


def test_a_groups_class_is_its_own_or_the_slowest_of_its_sources() -> None:
    classes = SpeedClasses(
        10,
        SIX_HOURS,
        parse_classes({"daily": {"step": 3, "interval": "1d"}}),
        parse_sources({"libfoo": "medium", "foo-tools": "daily"}),
    )
    groups = Groups(
        parse_groups(
            {
                "boot": ["shim-signed", "hello"],  # slow (1 per 6h) beats normal
                "foo": ["libfoo", "foo-tools"],  # daily (3 per day) beats medium (5 per 6h)
                "fast": {"sources": ["grub2", "bar"], "class": "normal"},
            }
        )
    )
    assert groups.pace_of("hello", classes) == Pace("slow", 1, SIX_HOURS, "boot")
    assert groups.pace_of("libfoo", classes) == Pace("daily", 3, timedelta(days=1), "foo")
    assert groups.pace_of("grub2", classes) == Pace("normal", 10, SIX_HOURS, "fast")
    assert groups.pace_of("zed", classes) == Pace("normal", 10, SIX_HOURS)  # in no group


# -- rule 2: the group moves together --------------------------------------------------------


def test_members_that_may_all_step_step_together() -> None:
    decisions = moves(member("shim-signed", 30), member("grub2-signed", 30))
    assert summary(decisions) == [("advance", "phasing", 40), ("advance", "phasing", 40)]
    assert all("moves with its group boot to 40%" in d.reason for d in decisions)


def test_the_groups_level_is_the_lowest_members_and_nobody_is_lowered() -> None:
    low, high = member("shim-signed", 20), member("grub2-signed", 50)
    decisions = moves(low, high)
    assert summary(decisions) == [("advance", "phasing", 30), ("wait", "phasing", 50)]
    assert "waits at 50% for its group boot to catch up (shim-signed at 20%" in decisions[1].reason
    assert decisions[1].next_step_at == NOW + minimum_wait(SIX_HOURS)


def test_members_between_the_lowest_and_the_next_level_rise_to_it() -> None:
    decisions = moves(member("shim-signed", 20), member("grub2-signed", 25))
    assert summary(decisions) == [("advance", "phasing", 30), ("advance", "phasing", 30)]
    # Not above what either reached or moved to.
    assert decisions[1].highest_percentage == 30


def test_a_member_within_its_interval_makes_the_others_wait() -> None:
    recent = member("grub2-signed", 30, since=NOW - timedelta(hours=2))
    decisions = moves(member("shim-signed", 30), recent)
    assert summary(decisions) == [("wait", "phasing", 30), ("wait", "phasing", 30)]
    assert decisions[0].reason.startswith("no regressions; waits for its group boot: grub2-signed")
    # It may step when the member it waits for may.
    assert decisions[0].next_step_at == recent.decision.next_step_at
    assert decisions[1] == recent.decision  # its own wait, unchanged


def test_a_member_the_error_tracker_could_not_judge_makes_the_others_wait() -> None:
    unknown = member("grub2-signed", 30, check=CrashCheck(failure="HTTP 500"))
    decisions = moves(member("shim-signed", 30), unknown)
    assert summary(decisions) == [("wait", "phasing", 30), ("unknown", "unknown", 30)]
    assert "grub2-signed could not be checked" in decisions[0].reason
    assert decisions[0].next_step_at is None


def test_a_member_held_for_a_person_makes_the_others_wait() -> None:
    held = member("grub2-signed", 30, check=CrashCheck(no_comparison="no previous version"))
    decisions = moves(member("shim-signed", 30), held)
    assert summary(decisions) == [("wait", "phasing", 30), ("hold", "held", 30)]
    assert "grub2-signed is held for a person" in decisions[0].reason


def test_a_member_this_run_could_not_read_makes_the_others_wait() -> None:
    [decision] = moves(
        member("shim-signed", 30), unavailable=[("grub2-signed", "cannot read from Launchpad")]
    )
    assert (decision.action, decision.to_percentage) == (Action.WAIT, 30)
    assert (
        "grub2-signed was not evaluated in this run (cannot read from Launchpad)" in decision.reason
    )


def test_a_member_above_the_next_level_does_not_hold_the_lowest_ones_catching_up() -> None:
    busy = member("grub2-signed", 60, since=NOW - timedelta(hours=1))
    decisions = moves(member("shim-signed", 20), busy)
    assert summary(decisions) == [("advance", "phasing", 30), ("wait", "phasing", 60)]


def test_the_group_completes_together() -> None:
    decisions = moves(member("shim-signed", 95), member("grub2-signed", 92))
    assert summary(decisions) == [("advance", "complete", 100), ("advance", "complete", 100)]
    assert all(d.next_step_at is None for d in decisions)


def test_a_freeze_window_holds_the_groups_completion() -> None:
    friday = datetime(2025, 3, 14, 6, 0, tzinfo=T0.tzinfo)
    weekend = FreezeCalendar.parse(["Fri 00:00-Mon 12:00"])
    members = [
        member(s, 95, since=friday - SIX_HOURS, freeze=weekend, now=friday)
        for s in ("shim-signed", "grub2-signed")
    ]
    decisions = moves(*members, now=friday)
    assert summary(decisions) == [("wait", "phasing", 95), ("wait", "phasing", 95)]
    assert all("completes after Mon 12:00 UTC" in d.reason for d in decisions)


# -- rule 1: a stopped member holds the others at their level -------------------------------


def test_a_stopped_member_holds_the_others_at_their_level_not_at_0() -> None:
    stopped = member("shim-signed", 40, check=CrashCheck((CRASH,)))
    decisions = moves(stopped, member("grub2-signed", 40))
    assert summary(decisions) == [("stop", "stopped", 0), ("group-hold", "phasing", 40)]
    held = decisions[1]
    assert held.reason.startswith("held: shim-signed stopped (group boot moves together")
    assert (held.next_step_at, held.since) == (None, T0)
    assert not held.changes_percentage


def test_a_member_within_its_interval_is_held_too() -> None:
    stopped = member("shim-signed", 0, check=CrashCheck((CRASH,)), highest=40)
    waiting = member("grub2-signed", 40, since=NOW - timedelta(hours=1))
    decisions = moves(stopped, waiting)
    assert summary(decisions)[1] == ("group-hold", "phasing", 40)


def test_a_halted_member_holds_the_others_and_says_by_whom() -> None:
    halt = Halt("jammy", "shim-signed", "1.0-1ubuntu0.1", "boot loop", "sru-steve", T0)
    decisions = moves(member("shim-signed", 40, halt=halt), member("grub2-signed", 40))
    assert summary(decisions) == [("halt", "halted", 0), ("group-hold", "phasing", 40)]
    assert decisions[1].reason.startswith("held: shim-signed halted by sru-steve")


def test_a_member_whose_stop_is_resolved_rejoins() -> None:
    stop = Standing(StopRecord(T0, 40, (replace(CRASH, last_reported=T0),)))
    overridden = Overrides.parse(f"shim-signed, 1.0-1ubuntu0.1, {CRASH.url}\n")
    resumed = member(
        "shim-signed",
        0,
        check=CrashCheck((CRASH,)),
        highest=40,
        standing=stop,
        overrides=overridden,
    )
    decisions = moves(resumed, member("grub2-signed", 40))
    # It resumes at its peak; the group waits for it in this run...
    assert summary(decisions) == [("resume", "phasing", 40), ("wait", "phasing", 40)]
    assert "shim-signed resumes to 40% in this run" in decisions[1].reason
    # ... and steps with it in the next.
    later = NOW + SIX_HOURS
    again = moves(
        member("shim-signed", 40, since=NOW, now=later),
        member("grub2-signed", 40, now=later),
        now=later,
    )
    assert summary(again) == [("advance", "phasing", 50), ("advance", "phasing", 50)]


def test_a_lone_member_phases_on_its_own() -> None:
    alone = member("shim-signed", 30)
    assert moves(alone) == [alone.decision]
