"""The show-last-run action's results: systemd's verdict, the run's own record, its journal.

Pure functions of what the workload read: `LastRun` from systemd, the engine's
run-status.json and phased-updates.json (as text), and the journal's last lines.
"""

from __future__ import annotations

import json
from typing import Any

from status_summary import EXIT_MEANINGS, LastRun

from phased_updater.report.run_status import parse_snapshot

# Failures of the run listed in the results (the report has them all).
MAX_FAILURES = 10


def _requests(snapshot: dict[str, Any]) -> str:
    names = {"launchpad": "Launchpad", "errortracker": "Error Tracker"}
    parts = []
    for service, name in names.items():
        counts = snapshot.get("requests", {}).get(service, {})
        if isinstance(counts, dict):
            parts.append(
                f"{name} {counts.get('requests', 0)} requests ({counts.get('failures', 0)} failed)"
            )
    return ", ".join(parts)


def _summary(snapshot: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for entry in snapshot.get("updates", []):
        if isinstance(entry, dict) and isinstance(entry.get("count"), int):
            counts[str(entry.get("state"))] = (
                counts.get(str(entry.get("state")), 0) + entry["count"]
            )
    states = ", ".join(f"{count} {state}" for state, count in sorted(counts.items())) or "none"
    mail = snapshot.get("mail", {})
    return (
        f"updates: {states}; {_requests(snapshot)}; "
        f"mail: {mail.get('pending', 0)} pending, {mail.get('sent', 0)} sent, "
        f"{mail.get('failed', 0)} failed"
    )


def _failures(report_text: str | None) -> list[str]:
    try:
        failures = json.loads(report_text or "{}").get("failures", [])
    except (ValueError, AttributeError):
        return []
    return [str(item) for item in failures] if isinstance(failures, list) else []


def show_last_run(
    last: LastRun | None,
    run_status_text: str | None,
    report_text: str | None,
    journal: str,
) -> dict[str, str]:
    """The action's results (Juju wants lower-case, hyphenated keys and string values)."""
    results: dict[str, str] = {}
    if last is None:
        results["result"] = "no run since the machine booted"
    else:
        meaning = "ok" if last.exit_status == 0 else EXIT_MEANINGS.get(last.exit_status, "failed")
        results["result"] = "success" if last.succeeded else "failed"
        results["exit-status"] = f"{last.exit_status} ({meaning})"
    snapshot = parse_snapshot(run_status_text) if run_status_text else None
    if snapshot is None:
        results["summary"] = "no run has written run-status.json on this unit"
    else:
        results |= {
            "run": str(snapshot.get("run")),
            "started": str(snapshot.get("started")),
            "finished": str(snapshot.get("finished")),
            "last-success": str(snapshot.get("last_success") or "never"),
            "failed-in-a-row": str(snapshot.get("consecutive_failures")),
            "summary": _summary(snapshot),
        }
    failures = _failures(report_text)
    if failures:
        shown = failures[:MAX_FAILURES]
        more = len(failures) - len(shown)
        results["failures"] = "\n".join(shown + ([f"... and {more} more"] if more else []))
    results["journal"] = journal.strip() or "(empty)"
    return results


def list_halts_results(lines: list[str]) -> dict[str, str]:
    return {"count": str(len(lines)), "halts": "\n".join(lines)}
