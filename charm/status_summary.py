"""The one-line gist in `juju status`, from the engine's report and the timer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from layout import RUN_SERVICE

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


def failure_note(last_run: LastRun) -> str:
    meaning = EXIT_MEANINGS.get(last_run.exit_status, "failed")
    return f"last run exited {last_run.exit_status} ({meaning}): see journalctl -u {RUN_SERVICE}"


def leader_message(
    report: ReportSummary | None,
    next_run: datetime | None,
    last_run: LastRun | None,
    now: datetime,
) -> str:
    parts = [report.describe() if report else "no report yet"]
    if report and report.dry_run:
        parts[0] = "dry run: " + parts[0]
    if next_run is not None:
        parts[0] += f"; next run {format_next_run(next_run, now)}"
    if last_run is not None and not last_run.succeeded:
        parts.append(failure_note(last_run))
    return "; ".join(parts)
