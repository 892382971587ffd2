"""`phased-updates.json`: the machine-readable report, built from the database.

Schema (documented for other tools in docs/report-schema.md):
`{"generated", "dry_run", "step", "interval", "packages": [{"series", "source",
"version", "previous_version", "percentage", "state", "action", "reason", "since",
"next_step_at", "problems": [{"kind", "url", "overridden", "signature", "evidence"}],
"history": [...]}]}`.
"""

from __future__ import annotations

import json
from typing import Any

from phased_updater.duration import format_duration
from phased_updater.model import FULLY_PHASED
from phased_updater.store import DecisionRecord, RunRecord, Store, to_text


def percentage_after(record: DecisionRecord, dry_run: bool) -> int:
    """The level an update is at after the decision (what it would be, on a dry run)."""
    if record.state == "complete":
        return FULLY_PHASED
    if record.applied or dry_run or record.to_percentage == record.from_percentage:
        return record.to_percentage
    return record.from_percentage


def _history_entry(record: DecisionRecord, dry_run: bool) -> dict[str, Any]:
    return {
        "at": to_text(record.at),
        "run": record.run_id,
        "action": record.action,
        "from": record.from_percentage,
        "to": record.to_percentage,
        "applied": record.applied,
        "state": record.state,
        "reason": record.reason,
        "error": record.error,
        "overrides_applied": list(record.overrides_applied),
        "problems": [p.to_json() for p in record.problems],
    }


def package_entry(
    record: DecisionRecord, history: list[DecisionRecord], dry_run: bool
) -> dict[str, Any]:
    return {
        "series": record.series,
        "source": record.source,
        "version": record.version,
        "previous_version": record.previous_version,
        "percentage": percentage_after(record, dry_run),
        "state": record.state,
        "action": record.action,
        "reason": record.reason,
        "date_published": to_text(record.date_published),
        "since": to_text(record.since),
        "next_step_at": to_text(record.next_step_at) if record.next_step_at else None,
        "highest_percentage": record.highest_percentage,
        "error": record.error,
        "problems": [p.to_json() for p in record.problems],
        "history": [_history_entry(h, dry_run) for h in history],
    }


def build(store: Store, run: RunRecord) -> dict[str, Any]:
    """The report of one run: the updates that run decided on, with their history."""
    history = store.all_history()
    packages = [
        package_entry(record, history.get(record.key, []), run.dry_run)
        for record in store.decisions_for_run(run.id)
    ]
    return {
        "generated": to_text(run.finished or run.started),
        "run": run.id,
        "dry_run": run.dry_run,
        "step": run.step,
        "interval": format_duration(run.interval),
        "exit_status": run.exit_status,
        "packages": packages,
    }


def render(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
