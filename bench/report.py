"""Benchmark: publishing the report of a run over 2,000 updates and a year of history.

The state database is filled by replaying a year of runs, every 6 hours, through the
real policy (tests/unit/report_db.Simulation), so its history is one the engine could
have written. Its shape, for a busy -updates pocket:

- the reported run decides on --updates updates (2,000). Three in four are phasing:
  at 10% a run an update completes in 10 runs (2.5 days), so each has 1 to 10
  decisions. One in four was stopped by a crash two runs in and has been kept
  stopped since, for up to 10 days: 3 to 42 decisions;
- --long-stopped of them (50) were stopped by a crash a year ago and nobody has
  overridden it: a "keep-stopped" decision every run, 1,460 each;
- --completed earlier updates (5,000, about 14 a day) phased to 100% during the year,
  about 10 decisions each, spread over it.

That is about 140,000 decisions, 90,000 of them in the histories of the run's
updates; the report reads them all (every update's history goes into the JSON and
the page), and the report's loader reads the rest too. Then `report.publish` is
timed --repeat times, each an hour after the one before (so it writes every update
page anew and prunes the oldest publish, as a later run's does), after two untimed
ones (the publishes a unit in service keeps); and so are its parts: loading from the
database, the JSON, the HTML view and the templates.

    .venv/bin/python bench/report.py [--updates 2000] [--completed 5000] [--long-stopped 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts bench/ on the path; the test data lives under the root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.results import machine, table, today, update_section  # noqa: E402
from phased_updater.model import CrashCheck  # noqa: E402
from phased_updater.report import details  # noqa: E402
from phased_updater.report import document as report_json  # noqa: E402
from phased_updater.report import page as report_html  # noqa: E402
from phased_updater.report import publish as report  # noqa: E402
from phased_updater.report import view as report_view  # noqa: E402
from phased_updater.report.input import ReportInput  # noqa: E402
from phased_updater.store import RunRecord, Store  # noqa: E402
from tests.unit.report_db import (  # noqa: E402
    FOCAL,
    JAMMY,
    NOBLE,
    NOW,
    ORACULAR,
    Plan,
    Simulation,
    crash,
    from_time,
)

MAX_SECONDS = 2.0  # issue 7's target for the whole publish
SERIES = (FOCAL, JAMMY, NOBLE, ORACULAR)
T = TypeVar("T")


def build_history(
    store: Store, updates: int, completed: int, long_stopped: int, days: int
) -> RunRecord:
    """Replay `days` of 6-hourly runs (see the module docstring); the last run."""
    sim = Simulation(store)
    count = days * 24 * 3600 // int(sim.interval.total_seconds())
    times = [NOW - sim.interval * (count - 1 - index) for index in range(count)]
    runs = [store.start_run(at, False, sim.step, sim.interval) for at in times]

    def play(plan: Plan, first: int) -> None:
        for position in range(first, count):
            if plan.complete:
                break
            sim.decide(plan, runs[position], times[position])

    def plan(name: str, index: int, first: int) -> Plan:
        return Plan(SERIES[index % 4], name, f"1.{index}-1ubuntu0.1", f"1.{index}-1", times[first])

    for index in range(completed):
        # Spread over the year, each done well before the last run.
        first = index * (count - 60) // completed
        play(plan(f"done{index}", index, first), first)
    for index in range(long_stopped):
        stuck = plan(f"stuck{index}", index, 0)
        stuck.check = from_time(times[2], CrashCheck((crash(f"stuck_{index}"),)))
        play(stuck, 0)
    for index in range(updates - long_stopped):
        current = plan(f"pkg{index}", index, 0)
        if index % 4 == 0:
            # Stopped two runs in, kept stopped since: 3 to 42 decisions.
            first = count - 3 - (index // 4) % 40
            current.check = from_time(times[first + 2], CrashCheck((crash(None),)))
        else:
            # Phasing: 10% a run completes an update in 10 runs, so 1 to 10 decisions.
            first = count - 1 - index % 10
        current.published = times[first]
        play(current, first)
    for run_id, at in zip(runs, times, strict=True):
        store.finish_run(run_id, at, 0, {})
    last = store.run(runs[-1])
    assert last is not None
    return last


def timed(repeat: int, work: Callable[[], T]) -> tuple[list[float], T]:
    seconds, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - started)
    assert result is not None
    return seconds, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--updates", type=int, default=2000, help="updates in the run (2000)")
    parser.add_argument("--completed", type=int, default=5000, help="completed earlier (5000)")
    parser.add_argument("--long-stopped", type=int, default=50, help="stopped a year ago (50)")
    parser.add_argument("--days", type=int, default=365, help="days of history (365)")
    parser.add_argument("--repeat", type=int, default=3, help="timings of each step (3)")
    parser.add_argument(
        "--no-results", action="store_true", help="print only; leave bench/RESULTS.md alone"
    )
    options = parser.parse_args()
    host = machine()  # before this benchmark adds its own load

    with tempfile.TemporaryDirectory(prefix="bench-report-") as workdir:
        store = Store.open(Path(workdir) / "state.sqlite3")
        # Building is not what is measured: no fsync per decision while filling.
        store.db.execute("PRAGMA synchronous=OFF")
        print("building the history ...", flush=True)
        started = time.perf_counter()
        run = build_history(
            store, options.updates, options.completed, options.long_stopped, options.days
        )
        built = time.perf_counter() - started
        store.db.execute("PRAGMA synchronous=FULL")
        # ...nor writing back what filling left unwritten: the update pages' flush
        # would otherwise wait for the whole database to reach the disk.
        os.sync()
        (decisions,) = store.db.execute("SELECT COUNT(*) FROM decisions").fetchone()
        in_run = len(store.decisions_for_run(run.id))
        print(f"{decisions} decisions in {built:.0f} s; timing ...", flush=True)

        report_dir = Path(workdir) / "report"
        # Each publish as a later run's would be: an hour later, so its pages differ
        # (relative times) and are all written anew, beside the previous publishes
        # that it then prunes. Publishing the same contents again writes nothing.
        publishes = iter(range(details.KEPT + options.repeat))
        finished = run.finished or run.started
        written: list[Path] = []

        def publish() -> list[Path]:
            later = finished + timedelta(hours=next(publishes))
            paths = report.publish(report_dir, store, run, now=later, email_off=True)
            written.append(paths[0])
            return paths

        # Timed from the report directory of a unit in service on: the publishes it
        # keeps are there, and each publish prunes one. (The first ones into an empty
        # directory find the filesystem cold: on this machine, creating their 2,000
        # files then took up to 0.7 s instead of 0.07 s.)
        timed(details.KEPT, publish)
        publish_times, paths = timed(options.repeat, publish)
        assert len(set(written)) == len(written), "a publish wrote no update pages"
        load_times, data = timed(options.repeat, lambda: ReportInput.load(store, run, None))
        json_times, _ = timed(
            options.repeat, lambda: report_json.render(report_json.build_from(data))
        )
        view_times, view = timed(
            options.repeat, lambda: report_view.build(data, deliveries=None, email_off=True)
        )
        # At 2,000 updates the page has short rows and each update a page of its own.
        names, pages = report.update_pages(view)
        html_times, _ = timed(
            options.repeat,
            lambda: report_html.render(
                view, details_links={a: f"details/x/{n}" for a, n in names.items()}
            ),
        )
        pages_times, _ = timed(options.repeat, lambda: report.update_pages(view))
        sizes = {path.name: path.stat().st_size / 2**20 for path in paths if path.is_file()}
        sizes[f"{len(pages)} update pages"] = sum(len(t.encode()) for t in pages.values()) / 2**20
        store.close()

    def cell(seconds: list[float]) -> str:
        return f"{statistics.median(seconds):.2f} s (best {min(seconds):.2f})"

    median = statistics.median(publish_times)
    verdict = "met" if median < MAX_SECONDS else "NOT met"
    text = "\n".join(
        [
            "## Report rendering (bench/report.py)",
            "",
            f"{today()}; {host}.",
            "",
            f"{decisions} decisions over {options.days} days of 6-hourly runs; the reported"
            f" run decides on {in_run} updates: {options.long_stopped} stopped a year ago and"
            " kept stopped every run since; of the others, one in four stopped by a crash"
            " for up to 10 days (3-42 decisions each), the rest phasing (1-10 decisions);"
            f" {options.completed} more updates completed during the year."
            f" Built in {built:.0f} s. Median of {options.repeat} timings.",
            "",
            table(
                ("step", "time"),
                [
                    ["`report.publish` (JSON + HTML, written)", cell(publish_times)],
                    ["load: the run's decisions and all history", cell(load_times)],
                    ["phased-updates.json: build + render", cell(json_times)],
                    ["index.html: view", cell(view_times)],
                    ["index.html: template", cell(html_times)],
                    ["update pages: template", cell(pages_times)],
                ],
            ),
            "Sizes: " + ", ".join(f"{name} {size:.1f} MiB" for name, size in sizes.items()) + ".",
            "",
            f"- publish < {MAX_SECONDS:.0f} s: {median:.2f} s, {verdict}",
        ]
    )
    print(text)
    if not options.no_results:
        update_section("report", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
