"""The one-line gist in `juju status`, from the engine's report and the timer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from layout import RUN_SERVICE, RUN_TIMER

from phased_updater.report.run_status import freshness, parse_snapshot

# The engine's exit statuses, as `run` documents them.
EXIT_MEANINGS = {1: "some packages could not be evaluated", 2: "bad config"}


@dataclass(frozen=True)
class ReportSummary:
    updates: int
    stopped: int
    series: int
    dry_run: bool

    def describe(self) -> str:
        noun = "update" if self.updates == 1 else "updates"
        text = f"phasing {self.updates} {noun}"
        if self.stopped:
            text += f" ({self.stopped} stopped)"
        if self.updates:
            text += f" in {self.series} series"
        return text


def summarize_report(text: str) -> ReportSummary | None:
    """None when the report is not the engine's JSON (being written, or an old format)."""
    try:
        document: Any = json.loads(text)
        packages = document["packages"]
        # Complete updates are done; the gist counts the ones still in flight.
        active = [p for p in packages if p["state"] != "complete"]
        return ReportSummary(
            updates=len(active),
            stopped=sum(1 for p in active if p["state"] == "stopped"),
            series=len({p["series"] for p in active}),
            dry_run=bool(document.get("dry_run", False)),
        )
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class LastRun:
    """How the last `phased-updater run` ended, from systemd."""

    succeeded: bool
    exit_status: int


def format_next_run(when: datetime, now: datetime) -> str:
    when = when.astimezone(UTC)
    if when - now < timedelta(hours=24):
        return when.strftime("%H:%M UTC")
    return when.strftime("%Y-%m-%d %H:%M UTC")


def failure_note(last_run: LastRun, app: str) -> str:
    meaning = EXIT_MEANINGS.get(last_run.exit_status, "failed")
    return (
        f"last run exited {last_run.exit_status} ({meaning}): "
        f"see juju run {app}/leader show-last-run"
    )


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.0f}h" if seconds >= 3600 else f"{seconds / 60:.0f}m"


def staleness_note(run_status_text: str | None, now: datetime, period_seconds: int) -> str | None:
    """A note when the last run ended more than twice the timer's period ago."""
    snapshot = parse_snapshot(run_status_text) if run_status_text else None
    fresh = freshness(snapshot, now, period_seconds) if snapshot else None
    if fresh is None or not fresh.stale:
        return None
    return (
        f"no run has finished for {_hours(fresh.age_seconds)} (one is due every "
        f"{_hours(period_seconds)}): check systemctl status {RUN_SERVICE} {RUN_TIMER}"
    )


def leader_message(
    report: ReportSummary | None,
    next_run: datetime | None,
    last_run: LastRun | None,
    now: datetime,
    *,
    app: str = "phased-updater",
    stale: str | None = None,
) -> str:
    parts = [report.describe() if report else "no report yet"]
    if report and report.dry_run:
        parts[0] = "dry run: " + parts[0]
    if next_run is not None:
        parts[0] += f"; next run {format_next_run(next_run, now)}"
    if stale is not None:
        parts.append(stale)
    if last_run is not None and not last_run.succeeded:
        parts.append(failure_note(last_run, app))
    return "; ".join(parts)
