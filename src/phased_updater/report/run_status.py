"""What a run leaves for monitoring: `run-status.json` in the report directory.

`phased-updater run` writes it after every run: the run's times and exit status, the
last run that evaluated everything, how many runs in a row failed, its updates by
state and series, every stop and resume ever recorded (by cause), its Launchpad and
Error Tracker requests, and the mail outbox. It is small, so `serve` reads it on every
scrape (`metrics.py`) and health check, and the charm's show-last-run action reads it
too; those add what only the time of asking can tell (`freshness`): how old the report
is and whether it is stale.

Stale means older than twice the run period: the period `serve --run-every` was given
(the charm passes its timer's), else the interval the run recorded.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from phased_updater.atomic_write import write_atomically
from phased_updater.duration import format_timestamp, parse_timestamp
from phased_updater.mail.outbox import Delivery, Status
from phased_updater.model import Action, ProblemKind
from phased_updater.sources.request_counts import RequestCounts
from phased_updater.store import RunRecord, Store

SNAPSHOT_NAME = "run-status.json"
SCHEMA_VERSION = 1
NOT_EVALUATED = "not-evaluated"
HALT_CAUSE = "halt"
# How many earlier runs are looked at to count the failures in a row.
FAILURE_LOOKBACK = 1000


# -- the snapshot a run writes ----------------------------------------------------------


def _consecutive_failures(store: Store) -> int:
    """Runs, newest first, that ended with a non-zero status or never ended."""
    rows = store.query(
        "SELECT finished, exit_status FROM runs ORDER BY id DESC LIMIT ?", (FAILURE_LOOKBACK,)
    )
    count = 0
    for row in rows:
        if row["finished"] is not None and row["exit_status"] == 0:
            break
        count += 1
    return count


def _last_success(store: Store) -> str | None:
    rows = store.query(
        "SELECT finished FROM runs WHERE exit_status = 0 AND finished IS NOT NULL"
        " ORDER BY id DESC LIMIT 1"
    )
    return str(rows[0]["finished"]) if rows else None


def _stops_and_resumes(store: Store) -> tuple[dict[str, int], dict[str, int]]:
    """Every stop (by the kind of each problem not overridden, or `halt`) and resume
    (`override` when overrides made it, else `other`) in the history."""
    stops: Counter[str] = Counter({str(kind): 0 for kind in ProblemKind})
    stops[HALT_CAUSE] += 0
    resumes: Counter[str] = Counter({"override": 0, "other": 0})
    rows = store.query(
        "SELECT action, problems, overrides_applied FROM decisions WHERE action IN (?, ?, ?)",
        (str(Action.STOP), str(Action.HALT), str(Action.RESUME)),
    )
    for row in rows:
        if row["action"] == str(Action.HALT):
            stops[HALT_CAUSE] += 1
        elif row["action"] == str(Action.STOP):
            problems = json.loads(row["problems"])
            kinds = {p.get("kind") for p in problems if not p.get("overridden")}
            for kind in sorted(str(k) for k in kinds if k) or ["other"]:
                stops[kind] += 1
        else:
            resumes["override" if json.loads(row["overrides_applied"]) else "other"] += 1
    return dict(sorted(stops.items())), dict(sorted(resumes.items()))


def _updates(store: Store, run: RunRecord) -> list[dict[str, Any]]:
    """This run's updates by series and state; the ones it could not evaluate as
    `not-evaluated`."""
    counts: Counter[tuple[str, str]] = Counter(
        (record.series, str(record.state)) for record in store.decisions_for_run(run.id)
    )
    entries = run.summary.get("not_evaluated", [])
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("series"), str):
            counts[(entry["series"], NOT_EVALUATED)] += 1
    return [
        {"series": series, "state": state, "count": count}
        for (series, state), count in sorted(counts.items())
    ]


def _mail(deliveries: Sequence[Delivery]) -> dict[str, Any]:
    by_status = Counter(str(d.status) for d in deliveries)
    pending = [d.queued_at for d in deliveries if d.status is Status.PENDING]
    return {
        "queued": len(deliveries),
        **{str(status): by_status[str(status)] for status in Status},
        "oldest_pending": format_timestamp(min(pending)) if pending else None,
    }


def build_snapshot(
    store: Store, run: RunRecord, deliveries: Sequence[Delivery], counts: RequestCounts
) -> dict[str, Any]:
    """`run-status.json` for `run`, which has finished."""
    stops, resumes = _stops_and_resumes(store)
    return {
        "schema_version": SCHEMA_VERSION,
        "run": run.id,
        "started": format_timestamp(run.started),
        "finished": format_timestamp(run.finished) if run.finished else None,
        "exit_status": run.exit_status,
        "dry_run": run.dry_run,
        "interval_seconds": int(run.interval.total_seconds()),
        "last_success": _last_success(store),
        "consecutive_failures": _consecutive_failures(store),
        "updates": _updates(store, run),
        "stops": stops,
        "resumes": resumes,
        "requests": counts.to_json(),
        "mail": _mail(deliveries),
    }


def write_snapshot(report_dir: Path, snapshot: dict[str, Any]) -> Path:
    path = report_dir / SNAPSHOT_NAME
    write_atomically(path, json.dumps(snapshot, sort_keys=True) + "\n")
    return path


def parse_snapshot(text: str) -> dict[str, Any] | None:
    """None when `text` is not what `write_snapshot` writes."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION:
        return None
    return document


def read_snapshot(report_dir: Path) -> dict[str, Any] | None:
    """None when there is none yet, or it is not what `write_snapshot` writes."""
    try:
        text = (report_dir / SNAPSHOT_NAME).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return parse_snapshot(text)


# -- what the time of asking adds ---------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    """How old the last run's report is, against twice the run period."""

    age_seconds: float
    period_seconds: int

    @property
    def stale_after_seconds(self) -> int:
        return 2 * self.period_seconds

    @property
    def stale(self) -> bool:
        return self.age_seconds > self.stale_after_seconds


def timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def freshness(
    snapshot: dict[str, Any], now: datetime, run_every_seconds: int | None
) -> Freshness | None:
    """None when the snapshot says neither when the run ended nor what its period is."""
    ended = timestamp(snapshot.get("finished")) or timestamp(snapshot.get("started"))
    period = run_every_seconds or integer(snapshot.get("interval_seconds"))
    if ended is None or not period:
        return None
    return Freshness((now - ended).total_seconds(), period)
