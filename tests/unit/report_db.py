"""Report test data: a database filled by replaying runs through the real policy.

`Simulation` plays the engine's part without Launchpad: every run it builds each
update's `Update` from the level the previous runs left it at, asks the real
`policy.decide` with the crash checks, overrides and halts the plan gives for that
moment, records the decision with `Store.record` and applies it. The history is
therefore one the engine could really have written.

`realistic()` fills a store with several series and every state; `bulk()` makes the
large history the performance measurement uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from phased_updater.cycle import CycleResult, Outcome
from phased_updater.model import (
    BinaryPublication,
    CrashCheck,
    Halt,
    Problem,
    ProblemKind,
    Series,
    State,
    Update,
)
from phased_updater.overrides import Override, Overrides
from phased_updater.policy import decide
from phased_updater.report.document import build_from
from phased_updater.report.input import ReportInput
from phased_updater.store import RunRecord, Store

NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
PHASER = "http://lp.test/~phasing-bot"  # the simulated phaser's Launchpad account
STEP = 10
INTERVAL = timedelta(hours=6)

FOCAL = Series("focal", "20.04", "http://lp.test/ubuntu/focal")
JAMMY = Series("jammy", "22.04", "http://lp.test/ubuntu/jammy")
NOBLE = Series("noble", "24.04", "http://lp.test/ubuntu/noble")
ORACULAR = Series("oracular", "24.10", "http://lp.test/ubuntu/oracular")

HOSTILE_SIGNATURE = "<script>alert(1)</script> in foo_parse()"
CRASH_URL = "https://errors.ubuntu.com/problem/5e1a0c3b2f9d4e6a8b7c1d2e3f4a5b6c7d8e9f01"
GIZMO_CRASH_URL = "https://errors.ubuntu.com/problem/0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
RATE_URL = "https://errors.ubuntu.com/?release=Ubuntu%2024.04&package=cryptkit&period=week"

Checker = Callable[[datetime], CrashCheck]


def clean(_at: datetime) -> CrashCheck:
    return CrashCheck()


def from_time(start: datetime, check: CrashCheck) -> Checker:
    """No problem before `start`, then `check`."""
    return lambda at: check if at >= start else CrashCheck()


@dataclass
class Plan:
    """One update's life: when it is published and what the Error Tracker says when."""

    series: Series
    source: str
    version: str
    previous: str | None
    published: datetime
    check: Checker = clean
    overrides: tuple[tuple[datetime, str], ...] = ()  # (from when, thing)
    halt: Halt | None = None
    # Where it stands, as the simulated Launchpad holds it.
    percentage: int = 10
    since: datetime | None = None
    highest: int = 10
    complete: bool = False
    # The level before the phaser's last write, as Launchpad's records keep it.
    previous_percentage: int | None = None
    # Who signed and created the upload (Launchpad person links), and its debs.
    signer_link: str | None = None
    creator_link: str | None = None
    debs: tuple[str, ...] = ()  # binary names; none: one named after the source
    architectures: tuple[str, ...] = ("amd64",)

    def update(self) -> Update:
        since = self.since or self.published
        binaries = tuple(
            BinaryPublication(
                self_link=f"http://lp.test/+binarypub/{self.series.name}/{self.source}"
                + ("" if (name, arch) == (self.source, "amd64") else f"/{name}/{arch}"),
                name=name,
                arch_link=f"{self.series.self_link}/{arch}",
                percentage=self.percentage,
                is_debug=False,
                date_created=since,
                set_by=PHASER if self.previous_percentage is not None else None,
                previous_percentage=self.previous_percentage,
            )
            for name in self.debs or (self.source,)
            for arch in self.architectures
        )
        return Update(
            series=self.series,
            source=self.source,
            version=self.version,
            previous_version=self.previous,
            date_published=self.published,
            self_link=f"http://lp.test/+sourcepub/{self.series.name}/{self.source}",
            signer_link=self.signer_link,
            creator_link=self.creator_link,
            binaries=binaries,
            highest_percentage=self.highest,
        )


@dataclass
class Simulation:
    store: Store
    step: int = STEP
    interval: timedelta = INTERVAL
    plans: list[Plan] = field(default_factory=list)
    # Each run's outcomes, kept in its summary as the cycle keeps them (`uploads`).
    outcomes: dict[int, list[Outcome]] = field(default_factory=dict)

    def add(self, plan: Plan) -> Plan:
        self.plans.append(plan)
        return plan

    def decide(self, plan: Plan, run_id: int, at: datetime, *, dry_run: bool = False) -> None:
        """One run's decision on one update: recorded, and applied unless a dry run."""
        update = plan.update()
        overrides = Overrides(
            Override(plan.source, plan.version, thing)
            for start, thing in plan.overrides
            if start <= at
        )
        halt = plan.halt if plan.halt is not None and plan.halt.at <= at else None
        decision = decide(
            update,
            plan.check(at),
            overrides,
            halt,
            at,
            self.step,
            self.interval,
            standing=self.store.standings([update.key]).get(update.key),
            phaser=PHASER,
        )
        self.store.record(run_id, at, update, decision, applied=not dry_run)
        self.outcomes.setdefault(run_id, []).append(Outcome(update, decision, not dry_run))
        if not dry_run:
            if decision.to_percentage != plan.percentage:
                plan.previous_percentage = plan.percentage
                plan.percentage = decision.to_percentage
                plan.since = at
            plan.highest = decision.highest_percentage
            plan.complete = decision.state is State.COMPLETE

    def run(self, at: datetime, *, dry_run: bool = False) -> RunRecord:
        """One run over every update published and not yet complete."""
        run_id = self.store.start_run(at, dry_run, self.step, self.interval)
        for plan in self.plans:
            if not plan.complete and plan.published <= at:
                self.decide(plan, run_id, at, dry_run=dry_run)
        self.store.finish_run(run_id, at, 0, self.summary(run_id))
        record = self.store.run(run_id)
        assert record is not None
        return record

    def summary(self, run_id: int) -> dict[str, object]:
        """What the cycle keeps of a run that the report reads: its uploads."""
        return {"uploads": CycleResult(run_id, self.outcomes.get(run_id, [])).uploads()}

    def run_every(self, start: datetime, end: datetime) -> RunRecord:
        """Runs every interval from `start` to `end` inclusive; the last one's record."""
        at = start
        record = self.run(at)
        while at + self.interval <= end:
            at += self.interval
            record = self.run(at)
        return record


def crash(signature: str | None, url: str = CRASH_URL) -> Problem:
    return Problem(kind=ProblemKind.NEW_CRASH, url=url, signature=signature)


def rate(difference: float, average: float | None, period: int | None = 14) -> Problem:
    return Problem(
        kind=ProblemKind.INCREASED_RATE,
        url=RATE_URL,
        evidence={
            "difference": difference,
            "previous_average": average,
            "previous_period_in_days": period,
        },
    )


def realistic(store: Store, now: datetime = NOW) -> tuple[Simulation, RunRecord]:
    """Two weeks of runs over four series, ending at `now` with every state present.

    At `now`: hello, vim and curl phasing (curl just published, vim with an epoch
    and a `+` in its version); gizmo phasing again after its crash was overridden;
    libfoo stopped by a crash whose signature is markup; cryptkit stopped by an
    increased rate; nettool unknown; zed halted; tzdata completed by this run; bash
    completed 3 days ago; oldpkg completed 12 days ago (too old to be listed).
    """
    sim = Simulation(store)
    days = timedelta(days=1)
    hours = timedelta(hours=1)
    sim.add(Plan(NOBLE, "hello", "2.10-3ubuntu0.1", "2.10-3", now - 18 * hours))
    sim.add(
        Plan(
            NOBLE,
            "vim",
            "2:9.1.0016+dfsg-1ubuntu7.3",
            "2:9.1.0016+dfsg-1ubuntu7.2",
            now - 30 * hours,
        )
    )
    sim.add(Plan(ORACULAR, "curl", "8.9.1-2ubuntu2.1", "8.9.1-2ubuntu2", now))
    sim.add(
        Plan(
            JAMMY,
            "gizmo",
            "1.0-2ubuntu0.1",
            "1.0-2",
            now - 3 * days,
            check=from_time(
                now - 60 * hours,
                CrashCheck((crash("gizmo_render_frame", GIZMO_CRASH_URL),)),
            ),
            overrides=((now - 36 * hours, GIZMO_CRASH_URL),),
        )
    )
    sim.add(
        Plan(
            NOBLE,
            "libfoo",
            "1.2-1ubuntu0.2",
            "1.2-1",
            now - 2 * days,
            check=from_time(now - 1 * days, CrashCheck((crash(HOSTILE_SIGNATURE),))),
        )
    )
    sim.add(
        Plan(
            NOBLE,
            "cryptkit",
            "3.0.13-0ubuntu3.2",
            "3.0.13-0ubuntu3.1",
            now - 40 * hours,
            check=from_time(now - 12 * hours, CrashCheck((rate(12.5, 3.25, 14),))),
        )
    )
    sim.add(
        Plan(
            JAMMY,
            "nettool",
            "0.9-1ubuntu0.3",
            "0.9-1ubuntu0.2",
            now - 1 * days,
            check=from_time(
                now - 6 * hours, CrashCheck(failure="package-rate-of-crashes: HTTP 503")
            ),
        )
    )
    sim.add(
        Plan(
            FOCAL,
            "zed",
            "4.2-1ubuntu0.20.04.1",
            "4.2-1",
            now - 3 * days,
            halt=Halt(
                "focal",
                "zed",
                "4.2-1ubuntu0.20.04.1",
                "waiting for the fix of LP: #2081234",
                "Jane Reviewer",
                now - 1 * days,
            ),
        )
    )
    sim.add(Plan(NOBLE, "tzdata", "2025a-0ubuntu0.24.04", "2024b-0ubuntu0.24.04", now - 54 * hours))
    sim.add(Plan(JAMMY, "bash", "5.1-6ubuntu1.2", "5.1-6ubuntu1.1", now - 5 * days - 9 * hours))
    sim.add(Plan(FOCAL, "oldpkg", "1.0-1ubuntu0.1", "1.0-1", now - 14 * days))
    last = sim.run_every(now - 14 * days, now)
    return sim, last


def bulk(store: Store, current: int, past: int, days: int, now: datetime = NOW) -> RunRecord:
    """`current` updates in the last run, over a history of `days` days of runs.

    `past` earlier updates phased to completion across those days. Every seventh update
    is stopped by a crash two runs in; a current one stays stopped for up to 40 runs, so
    the history also holds stretches of identical "still stopped" decisions. Each update is
    simulated over its own runs only, so building is linear in the decisions written.
    """
    sim = Simulation(store)
    count = days * 4
    times = [now - sim.interval * (count - 1 - index) for index in range(count)]
    runs = [store.start_run(at, False, sim.step, sim.interval) for at in times]
    every_series = (FOCAL, JAMMY, NOBLE, ORACULAR)
    with_crash = CrashCheck((crash("crash_in_bulk"),))
    for index in range(past + current):
        stops = index % 7 == 0
        # A current update that is not stopped is still phasing: at most 9 runs in.
        length = 12 if index < past else 1 + index % (40 if stops else 9)
        first = index * (count - 60) // max(past, 1) if index < past else count - length
        plan = Plan(
            every_series[index % 4],
            f"pkg{index}",
            f"1.{index}-1ubuntu0.1",
            f"1.{index}-1",
            times[first],
        )
        if stops:
            plan.check = from_time(times[min(first + 2, count - 1)], with_crash)
        for position in range(first, first + length):
            if plan.complete:
                break
            sim.decide(plan, runs[position], times[position])
    for run_id, at in zip(runs, times, strict=True):
        store.finish_run(run_id, at, 0, {})
    record = store.run(runs[-1])
    assert record is not None
    return record


def document(store: Store, run: RunRecord, now: datetime | None = None) -> dict[str, Any]:
    """The JSON report of `run`, as `publish` would write it."""
    return build_from(ReportInput.load(store, run, now))


@dataclass(frozen=True)
class DeliveryRow:
    """A plain `report.view.DeliveryView`, where no outbox row is at hand."""

    series: str
    source: str
    version: str
    status: str
    attempts: int
    last_error: str | None
    queued_at: datetime
