"""Benchmark: full cycles at the size of Ubuntu's -updates on a busy day.

Starts the Launchpad and Error Tracker doubles in this process with
`scenarios.sized(--sources)` (4 series, one of them in development, ~6 binaries per
source, 0-3 superseded earlier versions each), both adding --latency seconds to every
request, then runs the real `phased-updater run` console script from the venv as a
child process: anonymous (so a dry run), `--now` at the scenario's time, a fresh
state database and launchpadlib cache each time, the report written. It does so with
one Launchpad and one Error Tracker worker, then with the default bounds, and prints
for each the requests per phasing source, the wall time, the child's peak memory
(its maximum resident set size, from wait4) and the ratio of the two wall times.

Then a writing run: the same archive in a double of its own, a fresh database, with
credentials (an archive admin's token), so every update steps; it reports the
Launchpad requests per binary publication changed (its changeOverride POSTs over the
deb records it created) besides its reads and wall time.

The Error Tracker double reports no problem, so no update stops and the run looks up
no mail recipient: the numbers are the engine's alone.

    .venv/bin/python bench/cycle.py [--sources 400] [--latency 0.15] [--skip-sequential]
        [--skip-fresh-database] [--skip-writing]

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
from tests.doubles.launchpad import (  # noqa: E402
    PHASER_ACCOUNT,
    LaunchpadDouble,
    write_credentials_file,
)
from tests.doubles.scenarios import SIZED_NOW, sized  # noqa: E402

ENGINE = Path(sys.executable).parent / "phased-updater"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy")
# The targets of issue 7 (the wall time, the speed-up) and of issue 18 (the rest).
MAX_REQUESTS_PER_SOURCE = 1.5  # a first dry run, logins included
MAX_LATER_READS_PER_SOURCE = 0.3  # a run one interval later, previous versions known
MAX_WRITES_PER_CHANGE = 1.1  # a writing run: per binary publication changed, plus reads
MAX_OVER_ERRORS_FLOOR = 1.2  # wall time over the Error Tracker's requests x latency / bound
MAX_PARALLEL_SECONDS = 60.0
MIN_SPEEDUP = 10.0
MAX_PEAK_MIB = 200.0
CONSUMER, TOKEN, SECRET = "phased-updater", "bench-token", "bench-secret"
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
    changed: int = 0  # deb records the run's writes created (a writing run only)

    @property
    def label(self) -> str:
        return f"{self.bounds}, {self.when}" if self.when else str(self.bounds)

    def per_update(self, count: int) -> float:
        return count / self.updates if self.updates else float("nan")


def phaser_debs(launchpad: LaunchpadDouble) -> int:
    """The deb records the phaser's changeOverrides created: one per binary publication
    changed (a ddeb is rewritten with its deb, within the same POST)."""
    return sum(
        1
        for b in launchpad.archive.binaries.values()
        if b.creator == PHASER_ACCOUNT and not b.is_debug
    )


def run_cycle(
    launchpad: LaunchpadDouble,
    errors: ErrorTrackerDouble,
    bounds: Bounds,
    directory: Path,
    now: datetime = SIZED_NOW,
    when: str = "",
    credentials: Path | None = None,
) -> Measurement:
    """One `phased-updater run` in a child process, with its state in `directory`;
    anonymous (a dry run) unless given `credentials`."""
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
        *(["--credentials", str(credentials)] if credentials else []),
    ]
    # The doubles are on loopback: a proxy from the environment must not be in the way.
    environment = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    launchpad.reset_requests()
    errors.reset_requests()
    with launchpad.lock:
        phaser_debs_before = phaser_debs(launchpad)
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
        # A write is its POST, and any read of the entry posted to (a re-read).
        posted = {r.path for r in launchpad.requests if r.method == "POST"}
        writes = sum(1 for r in launchpad.requests if r.method == "POST" or r.path in posted)
        reads = len(launchpad.requests) - writes
        changed = phaser_debs(launchpad) - phaser_debs_before
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
        changed=changed,
    )


def rows(measurements: list[Measurement]) -> list[list[str]]:
    found = []
    for m in measurements:
        writes = (
            f"{m.launchpad_writes / m.changed:.2f} ({m.launchpad_writes} for {m.changed})"
            if m.changed
            else (str(m.launchpad_writes) if m.launchpad_writes else "none")
        )
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
    "LP writes/binary changed (total)",
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


def errors_floor(m: Measurement, latency: float) -> float:
    """The least wall time the Error Tracker's requests allow: count x latency / bound."""
    return m.errortracker_requests * latency / m.bounds.errors_workers


def verdicts(
    parallel: Measurement,
    sequential: Measurement | None,
    later: Measurement | None,
    latency: float,
) -> list[str]:
    """Each target of issues 7 and 18, met or not, with the number it was judged on."""

    def mark(met: bool) -> str:
        return "met" if met else "NOT met"

    requests = parallel.per_update(parallel.launchpad_reads + parallel.launchpad_writes)
    floor = errors_floor(parallel, latency)
    over = parallel.wall_seconds / floor if floor else float("nan")
    lines = [
        f"- LP requests per phasing source on a first dry run <= {MAX_REQUESTS_PER_SOURCE}:"
        f" {requests:.2f}, {mark(requests <= MAX_REQUESTS_PER_SOURCE)}",
        f"- wall time within {MAX_OVER_ERRORS_FLOOR}x of the Error Tracker's floor"
        f" ({parallel.errortracker_requests} x {latency * 1000:.0f} ms /"
        f" {parallel.bounds.errors_workers} = {floor:.1f} s): {parallel.wall_seconds:.1f} s,"
        f" {over:.2f}x, {mark(over <= MAX_OVER_ERRORS_FLOOR)}",
    ]
    if later is not None:
        reads = later.per_update(later.launchpad_reads)
        lines.append(
            f"- LP reads per phasing source one interval later <= {MAX_LATER_READS_PER_SOURCE}:"
            f" {reads:.2f}, {mark(reads <= MAX_LATER_READS_PER_SOURCE)}"
        )
    lines.append(
        f"- default-bound cycle < {MAX_PARALLEL_SECONDS:.0f} s: {parallel.wall_seconds:.1f} s"
        + (f" ({later.wall_seconds:.1f} s on the next run)" if later else "")
        + f", {mark(parallel.wall_seconds < MAX_PARALLEL_SECONDS)}"
    )
    if sequential is not None:
        ratio = sequential.wall_seconds / parallel.wall_seconds
        lines.append(
            f"- at least {MIN_SPEEDUP:.0f}x faster than 1 worker: {ratio:.1f}x,"
            f" {mark(ratio >= MIN_SPEEDUP)}"
        )
    measured = [m for m in (parallel, sequential, later) if m is not None]
    peak = max(m.peak_rss_mib for m in measured)
    lines.append(
        f"- peak memory < {MAX_PEAK_MIB:.0f} MB: {peak:.0f} MiB, {mark(peak < MAX_PEAK_MIB)}"
    )
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
            *verdicts(parallel, sequential, later, options.latency),
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


@dataclass
class WritingRun:
    """A run in which every update steps: credentials, not a dry run."""

    sources: int
    dry: Measurement  # the same archive's first dry run, for its reads
    run: Measurement
    problems: list[str]
    latency: float

    @property
    def launchpad_floor(self) -> float:
        requests = self.run.launchpad_reads + self.run.launchpad_writes
        return requests * self.latency / self.run.bounds.launchpad_workers

    def section(self) -> str:
        run, dry = self.run, self.dry
        per_change = run.launchpad_writes / run.changed if run.changed else float("nan")
        met = "met" if per_change <= MAX_WRITES_PER_CHANGE else "NOT met"
        return "\n".join(
            [
                "",
                "",
                "### A writing run: every update steps",
                "",
                f"`scenarios.sized({self.sources})` again, in a double of its own, and a fresh"
                " database; the child runs with an archive admin's credentials, so it is"
                " not a dry run, and since the Error Tracker reports no problem every update"
                " steps. A binary publication changed is a deb record the run's"
                " changeOverrides created (each ddeb is rewritten with its deb, in the same"
                " request); writes are the POSTs and any read of an entry posted to.",
                "",
                table(HEADER, rows([run])),
                f"Writes: {run.launchpad_writes} requests for {run.changed} binary publications"
                f" changed, {per_change:.2f} per change (target <= {MAX_WRITES_PER_CHANGE},"
                f" plus the reads), {met}. Reads: {run.launchpad_reads}, against"
                f" {dry.launchpad_reads} on the dry run of the same archive"
                f" ({run.per_update(run.launchpad_reads):.2f} per phasing source; the"
                " credentials' account lookup is the difference). Wall time"
                f" {run.wall_seconds:.1f} s against {dry.wall_seconds:.1f} s for the dry run;"
                " the least its Launchpad requests allow at its bound (every request,"
                f" reads and writes, x latency / {run.bounds.launchpad_workers}) is"
                f" {self.launchpad_floor:.1f} s, {run.wall_seconds / self.launchpad_floor:.2f}x.",
            ]
        )


def writing_run(options: argparse.Namespace, bounds: Bounds, dry: Measurement) -> WritingRun:
    print(f"building sized({options.sources}) for the writing run ...", flush=True)
    launchpad = LaunchpadDouble(sized(options.sources), clock=SIZED_NOW)
    errors = ErrorTrackerDouble()
    launchpad.latency = errors.latency = options.latency
    launchpad.add_token(CONSUMER, TOKEN, SECRET, admin=True)
    with launchpad, errors, tempfile.TemporaryDirectory(prefix="bench-writing-") as workdir:
        directory = Path(workdir)
        credentials = directory / "secrets" / "credentials"
        write_credentials_file(credentials, CONSUMER, TOKEN, SECRET)
        print(f"running a writing cycle with {bounds} ...", flush=True)
        run = run_cycle(
            launchpad, errors, bounds, directory, when="writing", credentials=credentials
        )
        problems = launchpad.internal_errors + errors.internal_errors
    return WritingRun(options.sources, dry, run, problems, options.latency)


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
    parser.add_argument("--skip-fresh-database", action="store_true", help="no fresh-database run")
    parser.add_argument("--skip-writing", action="store_true", help="no writing run")
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
    fresh = (
        None
        if options.skip_fresh_database
        else fresh_database(options, parallel_bounds, errors_latency=options.latency)
    )
    dry = measured[0 if options.skip_sequential else 1]
    writing = None if options.skip_writing else writing_run(options, parallel_bounds, dry)
    problems += [*(fresh.problems if fresh else []), *(writing.problems if writing else [])]
    if problems:
        print("the doubles failed:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    sequential = None if options.skip_sequential else measured[0]
    text = section(options, measured, sequential, later, host, hour_later)
    text += writing.section() if writing else ""
    text += fresh.section() if fresh else ""
    print(text)
    if not options.no_results:
        update_section("cycle", text)
    everything = [
        *measured,
        *[m for m in (later, hour_later) if m],
        *(fresh.runs if fresh else []),
        *([writing.run] if writing else []),
    ]
    return 0 if all(m.exit_status == 0 for m in everything) else 1


if __name__ == "__main__":
    sys.exit(main())
