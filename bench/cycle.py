"""Benchmark: one full dry-run cycle at the size of Ubuntu's -updates on a busy day.

Starts the Launchpad and Error Tracker doubles in this process with
`scenarios.sized(--sources)` (4 series, one of them in development, ~6 binaries per
source, 0-3 superseded earlier versions each), both adding --latency seconds to every
request, then runs the real `phased-updater run` console script from the venv as a
child process: anonymous (so a dry run), `--now` at the scenario's time, a fresh
state database and launchpadlib cache each time, the report written. It does so with
one Launchpad and one Error Tracker worker, then with the default bounds, and prints
for each the requests per phasing source, the wall time, the child's peak memory
(its maximum resident set size, from wait4) and the ratio of the two wall times.

The Error Tracker double reports no problem, so no update stops and the run looks up
no mail recipient: the numbers are the engine's alone.

    .venv/bin/python bench/cycle.py [--sources 400] [--latency 0.15] [--skip-sequential]

The table goes into bench/RESULTS.md (unless --no-results).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts bench/ on the path; the doubles live under the root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.results import machine, table, today, update_section  # noqa: E402
from phased_updater.config import Settings  # noqa: E402
from phased_updater.report.publish import JSON_NAME  # noqa: E402
from tests.doubles.errortracker import ErrorTrackerDouble  # noqa: E402
from tests.doubles.launchpad import LaunchpadDouble  # noqa: E402
from tests.doubles.scenarios import SIZED_NOW, sized  # noqa: E402

ENGINE = Path(sys.executable).parent / "phased-updater"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy")
# The targets of issue 7.
MAX_READS_PER_SOURCE = 2.5
MAX_PARALLEL_SECONDS = 60.0
MIN_SPEEDUP = 10.0
MAX_PEAK_MIB = 300.0
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Bounds:
    launchpad_workers: int
    errors_workers: int

    def __str__(self) -> str:
        return f"{self.launchpad_workers} LP / {self.errors_workers} ET"


@dataclass(frozen=True)
class Measurement:
    bounds: Bounds
    updates: int  # phasing updates the run decided on (from its JSON report)
    launchpad_reads: int
    launchpad_writes: int
    errortracker_requests: int
    wall_seconds: float
    engine_cpu_seconds: float  # the child's user + system time
    doubles_cpu_seconds: float  # this process's, which serves both doubles
    peak_rss_mib: float
    exit_status: int
    when: str = ""  # which later run, with the state the first one left; "" for the first

    @property
    def label(self) -> str:
        return f"{self.bounds}, {self.when}" if self.when else str(self.bounds)

    def per_update(self, count: int) -> float:
        return count / self.updates if self.updates else float("nan")


def run_cycle(
    launchpad: LaunchpadDouble,
    errors: ErrorTrackerDouble,
    bounds: Bounds,
    directory: Path,
    now: datetime = SIZED_NOW,
    when: str = "",
) -> Measurement:
    """One `phased-updater run` in a child process, with its state in `directory`."""
    config = directory / "phased-updater.toml"
    # The workers are TOML keys (and so settable from the charm's config).
    config.write_text(
        f"launchpad_workers = {bounds.launchpad_workers}\n"
        f"errors_workers = {bounds.errors_workers}\n",
        encoding="utf-8",
    )
    report_dir = directory / "report"
    command = [
        str(ENGINE),
        "run",
        "--config",
        str(config),
        "--launchpad",
        launchpad.service_root,
        "--errors-url",
        errors.base_url,
        "--state",
        str(directory / "state" / "state.sqlite3"),
        "--report-dir",
        str(report_dir),
        "--now",
        now.isoformat(),
    ]
    # The doubles are on loopback: a proxy from the environment must not be in the way.
    environment = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    launchpad.reset_requests()
    errors.reset_requests()
    with (directory / "engine.log").open("wb") as log:
        doubles_cpu = time.process_time()
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
        # wait4 gives this child's own rusage, not the maximum over every child so far.
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        doubles_cpu = time.process_time() - doubles_cpu
    child.returncode = os.waitstatus_to_exitcode(status)
    report = json.loads((report_dir / JSON_NAME).read_text(encoding="utf-8"))
    with launchpad.lock:
        writes = sum(1 for r in launchpad.requests if r.method == "POST")
        reads = len(launchpad.requests) - writes
    with errors.lock:
        errortracker = len(errors.requests)
    return Measurement(
        bounds=bounds,
        updates=len(report["packages"]),
        launchpad_reads=reads,
        launchpad_writes=writes,
        errortracker_requests=errortracker,
        wall_seconds=wall,
        engine_cpu_seconds=usage.ru_utime + usage.ru_stime,
        doubles_cpu_seconds=doubles_cpu,
        peak_rss_mib=usage.ru_maxrss / 1024,  # KiB on Linux
        exit_status=child.returncode,
        when=when,
    )


def rows(measurements: list[Measurement]) -> list[list[str]]:
    found = []
    for m in measurements:
        writes = f"{m.per_update(m.launchpad_writes):.2f}" if m.launchpad_writes else "none"
        found.append(
            [
                m.label,
                str(m.updates),
                f"{m.per_update(m.launchpad_reads):.2f} ({m.launchpad_reads})",
                writes,
                f"{m.per_update(m.errortracker_requests):.2f} ({m.errortracker_requests})",
                f"{m.wall_seconds:.1f} s",
                f"{m.engine_cpu_seconds:.1f} s",
                f"{m.doubles_cpu_seconds:.1f} s",
                f"{m.peak_rss_mib:.0f} MiB",
                str(m.exit_status),
            ]
        )
    return found


HEADER = (
    "workers",
    "updates",
    "LP reads/update (total)",
    "LP writes/update",
    "ET requests/update (total)",
    "wall time",
    "engine CPU",
    "doubles CPU",
    "peak RSS",
    "exit",
)


def floor_seconds(m: Measurement, latency: float) -> float:
    """The least wall time m's requests allow at its bounds: the busier bound's share.

    B workers of a kind overlap that kind's requests at best B at a time, so neither
    kind's requests can take less than count x latency / B, whatever else overlaps.
    """
    return latency * max(
        m.launchpad_reads / m.bounds.launchpad_workers,
        m.errortracker_requests / m.bounds.errors_workers,
    )


def verdicts(
    parallel: Measurement, sequential: Measurement | None, later: Measurement | None
) -> list[str]:
    """Each target of issue 7, met or not, with the number it was judged on."""

    def mark(met: bool) -> str:
        return "met" if met else "NOT met"

    reads = parallel.per_update(parallel.launchpad_reads)
    lines = [
        f"- LP reads per phasing source <= {MAX_READS_PER_SOURCE}: {reads:.2f} on a first run"
        + (f", {later.per_update(later.launchpad_reads):.2f} on the next" if later else "")
        + f", {mark(reads <= MAX_READS_PER_SOURCE)}",
        f"- default-bound cycle < {MAX_PARALLEL_SECONDS:.0f} s: {parallel.wall_seconds:.1f} s"
        + (f" ({later.wall_seconds:.1f} s on the next run)" if later else "")
        + f", {mark(parallel.wall_seconds < MAX_PARALLEL_SECONDS)}",
    ]
    if sequential is not None:
        ratio = sequential.wall_seconds / parallel.wall_seconds
        lines.append(
            f"- at least {MIN_SPEEDUP:.0f}x faster than 1 worker: {ratio:.1f}x,"
            f" {mark(ratio >= MIN_SPEEDUP)}"
        )
    measured = [m for m in (parallel, sequential, later) if m is not None]
    peak = max(m.peak_rss_mib for m in measured)
    lines.append(f"- peak memory < {MAX_PEAK_MIB:.0f} MB: {peak:.0f} MiB, {mark(peak < 300)}")
    return lines


def section(
    options: argparse.Namespace,
    measured: list[Measurement],
    sequential: Measurement | None,
    later: Measurement | None,
    host: str,
    hour_later: Measurement | None = None,
) -> str:
    """The results: the targets are judged on the first run at the default bounds."""
    parallel = measured[0 if sequential is None else 1]
    if sequential is None:
        ratios = "not measured (--skip-sequential)"
        ceilings = ""
    else:
        ratios = ", ".join(
            f"{sequential.wall_seconds / m.wall_seconds:.1f}x at {m.bounds}"
            for m in measured
            if m is not sequential
        )
        ceilings = (
            " The most these requests allow (the sequential time over the least time the"
            " busier bound's requests take, see floor_seconds): "
            + ", ".join(
                f"{sequential.wall_seconds / floor_seconds(m, options.latency):.1f}x at {m.bounds}"
                for m in measured
                if m is not sequential
            )
            + "."
        )
    return "\n".join(
        [
            "## Full dry-run cycle (bench/cycle.py)",
            "",
            f"{today()}; {host}.",
            f"Command: `{' '.join(['bench/cycle.py', *sys.argv[1:]])}`.",
            "",
            f"`scenarios.sized({options.sources})`: 3 supported series and a development one,"
            " ~6 binaries per source, 0-3 superseded earlier versions each; both doubles add"
            f" {options.latency * 1000:.0f} ms to every request; the Error Tracker reports no"
            " problem. The child is the venv's `phased-updater run`, anonymous (a dry run),"
            " with a fresh state database and launchpadlib cache (so the WADL is downloaded),"
            ' writing its report. Reads include the logins. The "next run" is the run'
            " one interval later with the state and cache the first one left: previous"
            " versions are recorded, every update is due and its binaries are read."
            ' "An hour later" runs an hour after that, inside every update\'s interval: it'
            " reuses the next run's reads and asks only the Error Tracker.",
            "",
            table(HEADER, rows([*measured, *[m for m in (later, hour_later) if m]])),
            f"Sequential / parallel wall time: {ratios}.{ceilings}",
            "",
            f"Targets, judged on the first run at the default bounds ({parallel.bounds}):",
            "",
            *verdicts(parallel, sequential, later),
        ]
    )


@dataclass
class FreshDatabase:
    """A fresh database's first run over an archive whose -updates is mostly done."""

    phasing: int
    completed: int
    runs: list[Measurement]
    problems: list[str]

    def section(self) -> str:
        first, following = self.runs
        listed = self.phasing + self.completed
        return "\n".join(
            [
                "",
                "",
                "### A fresh database: the one full listing",
                "",
                f"`scenarios.sized({self.phasing}, completed={self.completed})`: {listed}"
                f" sources in -updates, {self.completed} of them fully phased. A fresh"
                " database lists the whole of -updates once and reads every source in it:"
                " a fully phased one costs its binaries listing (it is then remembered as"
                " done, and never read again), a phasing one that and its history. The next"
                " run lists only what is new since, and reads only the updates in flight.",
                "",
                table(HEADER, rows(self.runs)),
                f"First run: {first.launchpad_reads / listed:.2f} Launchpad reads per source"
                f" in -updates, {first.wall_seconds:.1f} s; the next run:"
                f" {following.per_update(following.launchpad_reads):.2f} per phasing update,"
                f" {following.wall_seconds:.1f} s.",
            ]
        )


def fresh_database(
    options: argparse.Namespace, bounds: Bounds, *, errors_latency: float
) -> FreshDatabase:
    print(f"building sized({options.sources}, completed={options.completed}) ...", flush=True)
    launchpad = LaunchpadDouble(
        sized(options.sources, completed=options.completed), clock=SIZED_NOW
    )
    errors = ErrorTrackerDouble()
    launchpad.latency, errors.latency = options.latency, errors_latency
    with launchpad, errors, tempfile.TemporaryDirectory(prefix="bench-fresh-") as workdir:
        directory = Path(workdir)
        print(f"running a fresh database's first cycle with {bounds} ...", flush=True)
        first = run_cycle(launchpad, errors, bounds, directory, when="fresh database")
        print("running the next cycle ...", flush=True)
        later = SIZED_NOW + Settings().interval
        following = run_cycle(launchpad, errors, bounds, directory, later, "its next run")
        problems = launchpad.internal_errors + errors.internal_errors
    return FreshDatabase(options.sources, options.completed, [first, following], problems)


def parse_bounds(text: str) -> Bounds:
    launchpad, _, errors = text.partition("/")
    try:
        return Bounds(int(launchpad), int(errors))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LP/ET, e.g. 8/8") from None


def main() -> int:
    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sources", type=int, default=400, help="phasing sources (400)")
    parser.add_argument(
        "--latency", type=float, default=0.15, help="seconds added per request (0.15)"
    )
    parser.add_argument(
        "--skip-sequential", action="store_true", help="only the run at the default bounds"
    )
    parser.add_argument(
        "--launchpad-workers", type=int, default=defaults.launchpad_workers, metavar="N"
    )
    parser.add_argument("--errors-workers", type=int, default=defaults.errors_workers, metavar="N")
    parser.add_argument(
        "--extra-bounds",
        action="append",
        default=[],
        type=parse_bounds,
        metavar="LP/ET",
        help="also run at these bounds, e.g. 8/8 (repeatable)",
    )
    parser.add_argument(
        "--completed",
        type=int,
        default=1600,
        help="fully phased sources in -updates for the fresh-database run (1600)",
    )
    parser.add_argument(
        "--no-results", action="store_true", help="print only; leave bench/RESULTS.md alone"
    )
    options = parser.parse_args()
    if not ENGINE.exists():
        parser.error(f"{ENGINE} not found: run this with the venv's python (make bench)")

    host = machine()  # before this benchmark adds its own load
    print(f"building sized({options.sources}) ...", flush=True)
    launchpad = LaunchpadDouble(sized(options.sources), clock=SIZED_NOW)
    errors = ErrorTrackerDouble()
    launchpad.latency = errors.latency = options.latency
    parallel_bounds = Bounds(options.launchpad_workers, options.errors_workers)
    plan = [parallel_bounds] if options.skip_sequential else [Bounds(1, 1), parallel_bounds]
    plan += options.extra_bounds
    measured: list[Measurement] = []
    later: Measurement | None = None
    hour_later: Measurement | None = None
    with launchpad, errors, tempfile.TemporaryDirectory(prefix="bench-cycle-") as workdir:
        for bounds in plan:
            print(f"running a cycle with {bounds} ...", flush=True)
            directory = Path(tempfile.mkdtemp(prefix="cycle-", dir=workdir))
            measured.append(run_cycle(launchpad, errors, bounds, directory))
            if bounds == parallel_bounds and later is None:
                # The steady state: later runs with the state and cache this one left.
                next_run = SIZED_NOW + defaults.interval
                print(f"running the next cycle with {bounds} ...", flush=True)
                later = run_cycle(launchpad, errors, bounds, directory, next_run, "next run")
                print(f"running a cycle an hour after that with {bounds} ...", flush=True)
                hour_later = run_cycle(
                    launchpad, errors, bounds, directory, next_run + HOUR, "an hour later"
                )
        problems = launchpad.internal_errors + errors.internal_errors
    fresh = fresh_database(options, parallel_bounds, errors_latency=options.latency)
    problems += fresh.problems
    if problems:
        print("the doubles failed:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    sequential = None if options.skip_sequential else measured[0]
    text = section(options, measured, sequential, later, host, hour_later) + fresh.section()
    print(text)
    if not options.no_results:
        update_section("cycle", text)
    everything = [*measured, *[m for m in (later, hour_later) if m], *fresh.runs]
    return 0 if all(m.exit_status == 0 for m in everything) else 1


if __name__ == "__main__":
    sys.exit(main())
