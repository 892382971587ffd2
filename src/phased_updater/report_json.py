"""`phased-updates.json`: the machine-readable report, built from the database.

The schema is documented for other tools in docs/report-schema.md. Fields are only
ever added, never renamed or removed: the charm and other tools read this file.

Everything here is built from one `ReportInput`, loaded with two queries (the run's
decisions and the whole history), so that the HTML report built beside it reads the
database no more than this does. (An update the run could not evaluate whose latest
decision is older than that history costs one more query, for its own history.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from phased_updater.duration import format_duration
from phased_updater.forecast import expected_completion, share_offered
from phased_updater.model import FULLY_PHASED, NotEvaluated
from phased_updater.store import DecisionRecord, RunRecord, Store, to_text

SCHEMA_VERSION = 3
# How far back the report lists the updates that finished phasing.
RECENTLY_COMPLETED = timedelta(days=7)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def redact(text: str) -> str:
    """Free text fit to publish: no email address, no user:password in a URL.

    Reasons, errors and halt notes are written by people and by SMTP servers; the
    report is public, so whatever looks like an address or a credential goes.
    """
    text = _URL_USERINFO.sub(r"\g<scheme>[hidden]@", text)
    return _EMAIL.sub("[address hidden]", text)


def _redact_optional(text: str | None) -> str | None:
    return redact(text) if text is not None else None


def same_decision(a: DecisionRecord, b: DecisionRecord) -> bool:
    """Whether two decisions on an update say the same (the store folds such runs)."""
    return (
        a.action == b.action
        and a.state == b.state
        and a.from_percentage == b.from_percentage
        and a.to_percentage == b.to_percentage
        and a.applied == b.applied
        and a.reason == b.reason
        and a.error == b.error
        and a.problems == b.problems
        and a.overrides_applied == b.overrides_applied
    )


def fold(history: list[DecisionRecord]) -> list[DecisionRecord]:
    """`Store.history` as `Store.all_history` gives it: identical decisions in a row as one."""
    folded: list[DecisionRecord] = []
    for record in history:
        if folded and same_decision(folded[-1], record):
            first = folded[-1]
            folded[-1] = replace(
                first, repeats=first.repeats + record.repeats, last_at=record.until
            )
        else:
            folded.append(record)
    return folded


@dataclass(frozen=True)
class Unevaluated:
    """An update the run could not evaluate, with its decisions from earlier runs."""

    what: NotEvaluated
    history: tuple[DecisionRecord, ...]  # folded, oldest first; empty if never decided on

    @property
    def last(self) -> DecisionRecord | None:
        """Its latest decision (standing for the run of identical ones it ends)."""
        return self.history[-1] if self.history else None


def _unevaluated(
    store: Store,
    run: RunRecord,
    window: dict[tuple[str, str, str], list[DecisionRecord]],
) -> list[Unevaluated]:
    """The run's summary lists them; their decisions come from the history.

    An update decided on in the report's window has its history there; one whose
    latest decision is older (its series unlisted for a week) is read on its own.
    """
    found = []
    entries = run.summary.get("not_evaluated", [])
    for what in map(NotEvaluated.from_json, entries if isinstance(entries, list) else []):
        if what is None:
            continue
        history = window.get(what.key)
        if history is None:
            history = fold(store.history(*what.key))
        if history and history[-1].state == "complete":
            continue  # nothing left to evaluate: it finished phasing in an earlier run
        found.append(Unevaluated(what, tuple(history)))
    return sorted(found, key=lambda u: u.what.key)


@dataclass(frozen=True)
class ReportInput:
    """Everything a report of one run is made of, read from the database once."""

    run: RunRecord
    records: list[DecisionRecord]  # the run's decisions, in the order they were made
    history: dict[tuple[str, str, str], list[DecisionRecord]]  # every update, oldest first
    now: datetime  # what "recent" and "in 3h" are relative to
    not_evaluated: tuple[Unevaluated, ...] = ()  # what the run could not read or decide

    @classmethod
    def load(cls, store: Store, run: RunRecord, now: datetime | None = None) -> ReportInput:
        now = now or run.finished or run.started
        # The run's own updates were decided at run.started; completed ones in the
        # recent window after now - RECENTLY_COMPLETED. Nothing older is shown.
        active_since = min(run.started, now) - RECENTLY_COMPLETED
        history = store.all_history(active_since)
        return cls(
            run=run,
            records=store.decisions_for_run(run.id),
            history=history,
            now=now,
            not_evaluated=tuple(_unevaluated(store, run, history)),
        )

    @property
    def failures(self) -> list[str]:
        """The run's own failures, as its summary recorded them, fit to publish."""
        failures = self.run.summary.get("failures", [])
        return (
            [redact(f) for f in failures if isinstance(f, str)]
            if isinstance(failures, list)
            else []
        )

    @property
    def run_failures(self) -> list[str]:
        """`failures` but the ones `not_evaluated` already gives, with their update.

        The cycle records a failed update as "<series> <source> <version>: <error>";
        a failure of a whole series, or of the run, stays.
        """
        listed = {redact(f"{' '.join(u.what.key)}: {u.what.error}") for u in self.not_evaluated}
        return [f for f in self.failures if f not in listed]

    @property
    def generated(self) -> datetime:
        return self.run.finished or self.run.started

    def recently_completed(self) -> list[DecisionRecord]:
        """Updates whose latest decision completed them within the last 7 days.

        A completed update has no Phased-Update-Percentage any more, so later runs no
        longer list it: it is found in the history, not among the run's decisions.
        """
        in_run = {record.key for record in self.records}
        since = self.now - RECENTLY_COMPLETED
        completed = [
            decisions[-1]
            for key, decisions in self.history.items()
            if key not in in_run
            and decisions[-1].state == "complete"
            and since <= decisions[-1].at <= self.now
        ]
        return sorted(completed, key=lambda record: record.at, reverse=True)


def percentage_after(record: DecisionRecord, dry_run: bool) -> int:
    """The level an update is at after the decision (what it would be, on a dry run)."""
    if record.state == "complete":
        return FULLY_PHASED
    if record.applied or dry_run or record.to_percentage == record.from_percentage:
        return record.to_percentage
    return record.from_percentage


def forecast_completion(
    record: DecisionRecord, percentage: int, step: int, interval: timedelta
) -> datetime | None:
    """When a phasing update reaches 100% if nothing stops it; None when not phasing."""
    if record.state != "phasing" or percentage >= FULLY_PHASED:
        return None
    return expected_completion(percentage, step, interval, record.since)


def offered_share(record: DecisionRecord, percentage: int) -> float:
    """The share of machines offered the update so far.

    A machine's draw is fixed for an update, so every machine offered it at the highest
    level reached has been offered it, even after a stop brought it back to 0.
    """
    if record.state == "complete":
        return 1.0
    return share_offered(max(percentage, record.highest_percentage))


def _history_entry(record: DecisionRecord) -> dict[str, Any]:
    return {
        "at": to_text(record.at),
        "run": record.run_id,
        "action": record.action,
        "from": record.from_percentage,
        "to": record.to_percentage,
        "percentage": percentage_after(record, dry_run=False),
        "applied": record.applied,
        "state": record.state,
        "reason": redact(record.reason),
        "error": _redact_optional(record.error),
        "next_step_at": to_text(record.next_step_at) if record.next_step_at else None,
        "overrides_applied": [redact(o) for o in record.overrides_applied],
        "problems": [p.to_json() for p in record.problems],
        # The same decision made `repeats` runs in a row, the last one at `until`.
        "repeats": record.repeats,
        "until": to_text(record.until),
    }


def package_entry(
    record: DecisionRecord,
    history: list[DecisionRecord],
    dry_run: bool,
    *,
    step: int | None = None,
    interval: timedelta | None = None,
) -> dict[str, Any]:
    percentage = percentage_after(record, dry_run)
    completion = (
        forecast_completion(record, percentage, step, interval)
        if step is not None and interval is not None
        else None
    )
    return {
        "series": record.series,
        "source": record.source,
        "version": record.version,
        "previous_version": record.previous_version,
        "percentage": percentage,
        "state": record.state,
        "action": record.action,
        "reason": redact(record.reason),
        # The last of the identical decisions `record` may stand for (see `fold`).
        "decided_at": to_text(record.until),
        "date_published": to_text(record.date_published),
        "since": to_text(record.since),
        "next_step_at": to_text(record.next_step_at) if record.next_step_at else None,
        "highest_percentage": record.highest_percentage,
        "applied": record.applied,
        "error": _redact_optional(record.error),
        "overrides_applied": [redact(o) for o in record.overrides_applied],
        "share_offered": round(offered_share(record, percentage), 4),
        "expected_completion": to_text(completion) if completion else None,
        "problems": [p.to_json() for p in record.problems],
        "history": [_history_entry(h) for h in history],
    }


def build_from(report: ReportInput) -> dict[str, Any]:
    run = report.run

    def entry(record: DecisionRecord, dry_run: bool) -> dict[str, Any]:
        return package_entry(
            record,
            report.history.get(record.key, []),
            dry_run,
            step=run.step,
            interval=run.interval,
        )

    packages = [entry(record, run.dry_run) for record in report.records]
    completed = [entry(record, False) for record in report.recently_completed()]
    not_evaluated = [
        {
            **u.what.to_json(),
            "error": redact(u.what.error),
            # The update as its latest decision left it: it keeps that percentage.
            "last_known": (
                package_entry(u.last, list(u.history), False, step=run.step, interval=run.interval)
                if u.last is not None
                else None
            ),
        }
        for u in report.not_evaluated
    ]
    counts: dict[str, int] = {"phasing": 0, "stopped": 0, "halted": 0, "unknown": 0}
    for package in packages:
        if package["state"] != "complete":
            counts[package["state"]] = counts.get(package["state"], 0) + 1
    counts["complete"] = sum(1 for p in packages if p["state"] == "complete") + len(completed)
    counts["not_evaluated"] = len(not_evaluated)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated": to_text(report.generated),
        "rendered": to_text(report.now),
        "run": run.id,
        "started": to_text(run.started),
        "finished": to_text(run.finished) if run.finished else None,
        "dry_run": run.dry_run,
        "step": run.step,
        "interval": format_duration(run.interval),
        "interval_seconds": int(run.interval.total_seconds()),
        "exit_status": run.exit_status,
        "counts": counts,
        "packages": packages,
        "recently_completed": completed,
        "not_evaluated": not_evaluated,
        "failures": report.failures,
    }


def build(store: Store, run: RunRecord, now: datetime | None = None) -> dict[str, Any]:
    """The report of one run: the updates that run decided on, with their history."""
    return build_from(ReportInput.load(store, run, now))


def render(report: dict[str, Any]) -> str:
    # Compact: with `indent`, json falls back from its C encoder to pure Python, which
    # is five times slower on a report of thousands of updates (and the file larger).
    return json.dumps(report, separators=(",", ":"), ensure_ascii=False) + "\n"
