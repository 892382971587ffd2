"""`phased-updates.json`: the machine-readable report, built from a `ReportInput`.

The schema is documented for other tools in docs/report-schema.md. Fields are only
ever added, never renamed or removed: the charm and other tools read this file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from phased_updater.duration import format_duration, format_timestamp
from phased_updater.mail.outbox import Delivery, Status
from phased_updater.report.input import (
    Binary,
    Person,
    ReportInput,
    Upload,
    forecast_completion,
    offered_share,
    pace_of,
    percentage_after,
)
from phased_updater.report.reason_code import ReasonCode, reason_code
from phased_updater.store import DecisionRecord, RunRecord
from phased_updater.text import encodable, redact

SCHEMA_VERSION = 7
# The people an upload's mail is for, in the order the outbox notes them.
ROLES = ("signer", "creator")


def _redact_optional(text: str | None) -> str | None:
    return redact(text) if text is not None else None


def _redact_all(value: Any) -> Any:
    """Every string in a JSON value redacted (who added an override may be an address)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_all(item) for item in value]
    if isinstance(value, dict):
        return {key: _redact_all(item) for key, item in value.items()}
    return value


def _history_entry(record: DecisionRecord) -> dict[str, Any]:
    return {
        "at": format_timestamp(record.at),
        "run": record.run_id,
        "action": record.action,
        "from": record.from_percentage,
        "to": record.to_percentage,
        "percentage": percentage_after(record, dry_run=False),
        "applied": record.applied,
        "state": record.state,
        "reason": redact(record.reason),
        "reason_code": str(reason_code(record)),
        "error": _redact_optional(record.error),
        "next_step_at": format_timestamp(record.next_step_at) if record.next_step_at else None,
        "overrides_applied": [redact(o) for o in record.overrides_applied],
        "problems": [p.to_json() for p in record.problems],
        # The same decision made `repeats` runs in a row, the last one at `until`.
        "repeats": record.repeats,
        "until": format_timestamp(record.until),
    }


def _standing(record: DecisionRecord) -> dict[str, Any]:
    """The stop in force after the decision, and what people acknowledged."""
    standing = record.standing.to_json()
    for item in standing["acknowledged"]:
        item["by"] = redact(item["by"])
        item["how"] = redact(item["how"])
    return standing


def _person(person: Person | None) -> dict[str, str] | None:
    return {"name": person.name, "link": person.link} if person else None


def _binary(binary: Binary) -> dict[str, Any]:
    return {
        "name": binary.name,
        "architecture": binary.architecture,
        "percentage": binary.percentage,
    }


def _not_reached_role(note: str) -> str | None:
    """ "signer ~katie: a robot account" names the signer; "signer: none ..." too."""
    role = note.split(" ", 1)[0].removesuffix(":")
    return role if role in ROLES else None


def delivery_entry(delivery: Delivery, upload: Upload | None) -> dict[str, Any]:
    """One message about an update: who it reached and who it could not, never an address.

    `mailed` is who the relay took it for: the signer and the creator but those the
    outbox notes as not reached (a message not sent reached nobody).
    """
    left_out = {_not_reached_role(note) for note in delivery.notes}
    mailed = []
    if delivery.status is Status.SENT:
        for role in ROLES:
            person = getattr(upload, role) if upload else None
            if role not in left_out:
                mailed.append({"role": role, "name": person.name if person else None})
    return {
        "subject": redact(delivery.subject),
        "status": str(delivery.status),
        "queued_at": format_timestamp(delivery.queued_at),
        "sent_at": format_timestamp(delivery.sent_at) if delivery.sent_at else None,
        "attempts": delivery.attempts,
        "error": _redact_optional(delivery.last_error),
        "mailed": mailed,
        "not_reached": [redact(note) for note in delivery.notes],
    }


def package_entry(
    record: DecisionRecord,
    history: list[DecisionRecord],
    dry_run: bool,
    *,
    run: RunRecord | None = None,
    upload: Upload | None = None,
    deliveries: Sequence[Delivery] = (),
) -> dict[str, Any]:
    percentage = percentage_after(record, dry_run)
    pace = pace_of(record, history)
    completion = forecast_completion(record, percentage, run, pace) if run is not None else None
    return {
        "series": record.series,
        "source": record.source,
        "version": record.version,
        "previous_version": record.previous_version,
        "percentage": percentage,
        "state": record.state,
        "action": record.action,
        "reason": redact(record.reason),
        "reason_code": str(reason_code(record)),
        # The last of the identical decisions `record` may stand for (see `fold`).
        "decided_at": format_timestamp(record.until),
        "date_published": format_timestamp(record.date_published),
        "since": format_timestamp(record.since),
        "next_step_at": format_timestamp(record.next_step_at) if record.next_step_at else None,
        "highest_percentage": record.highest_percentage,
        "applied": record.applied,
        "error": _redact_optional(record.error),
        "overrides_applied": [redact(o) for o in record.overrides_applied],
        "share_offered": round(offered_share(record, percentage), 4),
        "expected_completion": format_timestamp(completion) if completion else None,
        "problems": [p.to_json() for p in record.problems],
        "by": _redact_optional(record.by),
        # Its speed class and phasing group, and that class's step and interval.
        "class": pace.speed_class if pace else None,
        "class_step": pace.step if pace else None,
        "class_interval": format_duration(pace.interval) if pace else None,
        "group": pace.group if pace else None,
        "signer": _person(upload.signer) if upload else None,
        "creator": _person(upload.creator) if upload else None,
        # What apt phases: each deb on each architecture, at its level after the run.
        "binaries": [_binary(b) for b in upload.binaries] if upload else None,
        "deliveries": [delivery_entry(d, upload) for d in deliveries],
        "standing": _standing(record),
        "history": [_history_entry(h) for h in history],
    }


def build_from(report: ReportInput) -> dict[str, Any]:
    run = report.run

    def entry(record: DecisionRecord, dry_run: bool) -> dict[str, Any]:
        return package_entry(
            record,
            report.history.get(record.key, []),
            dry_run,
            run=run,
            upload=report.uploads.get(record.key),
            deliveries=report.deliveries.get(record.key, ()),
        )

    packages = [entry(record, run.dry_run) for record in report.records]
    completed = [entry(record, False) for record in report.recently_completed()]
    not_evaluated: list[dict[str, Any]] = [
        {
            **u.what.to_json(),
            "error": redact(u.what.error),
            "reason_code": str(ReasonCode.NOT_EVALUATED),
            # The update as its latest decision left it: it keeps that percentage.
            "last_known": (
                package_entry(
                    u.last,
                    list(u.history),
                    False,
                    run=run,
                    deliveries=report.deliveries.get(u.what.key, ()),
                )
                if u.last is not None
                else None
            ),
        }
        for u in report.not_evaluated
    ]
    counts: dict[str, int] = {"phasing": 0, "stopped": 0, "halted": 0, "held": 0, "unknown": 0}
    # An update the run could not evaluate counts under its last state as well.
    last_known = [n["last_known"] for n in not_evaluated if n["last_known"] is not None]
    for package in (*packages, *last_known):
        if package["state"] != "complete":
            counts[package["state"]] = counts.get(package["state"], 0) + 1
    counts["complete"] = sum(1 for p in packages if p["state"] == "complete") + len(completed)
    counts["not_evaluated"] = len(not_evaluated)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated": format_timestamp(report.generated),
        "rendered": format_timestamp(report.now),
        "run": run.id,
        "started": format_timestamp(run.started),
        "finished": format_timestamp(run.finished) if run.finished else None,
        "dry_run": run.dry_run,
        "step": run.step,
        "interval": format_duration(run.interval),
        "interval_seconds": int(run.interval.total_seconds()),
        "freeze_windows": list(run.freeze_windows),
        "exit_status": run.exit_status,
        "counts": counts,
        "packages": packages,
        "recently_completed": completed,
        "not_evaluated": not_evaluated,
        "failures": report.failures,
        "overrides": _redact_all(report.overrides.to_json()) if report.overrides else None,
    }


def render(report: dict[str, Any]) -> str:
    # Compact: with `indent`, json falls back from its C encoder to pure Python, which
    # is five times slower on a report of thousands of updates (and the file larger).
    # `encodable`: the last defence, should text from outside have kept a lone surrogate.
    return encodable(json.dumps(report, separators=(",", ":"), ensure_ascii=False)) + "\n"
