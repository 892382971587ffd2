"""phased-updates.json against docs/report-schema.json, and the example in
docs/report-schema.md, which is generated here from a fixed scenario.

`make schema-example` (PHASED_UPDATER_REWRITE_DOCS=1) rewrites the example after a
change to the report; without it, a stale example fails the test.
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema

from phased_updater.mail import outbox
from phased_updater.mail.message import Recipient
from phased_updater.model import CrashCheck, Halt
from phased_updater.report import document as report_json
from phased_updater.report.reason_code import ReasonCode
from phased_updater.store import RunRecord, Store
from tests import report_schema
from tests.unit import report_db
from tests.unit.report_db import NOBLE, NOW, Plan, Simulation, from_time, rate

DOC = Path(__file__).resolve().parents[2] / "docs" / "report-schema.md"
BEGIN, END = "<!-- example:begin -->", "<!-- example:end -->"
REWRITE = "PHASED_UPDATER_REWRITE_DOCS"


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = report_schema.schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_the_schema_knows_this_version_and_every_reason_code() -> None:
    schema = report_schema.schema()
    assert schema["properties"]["schema_version"]["minimum"] == report_json.SCHEMA_VERSION
    assert schema["$defs"]["reason_code"]["enum"] == [str(code) for code in ReasonCode]
    text = DOC.read_text(encoding="utf-8")
    assert f"| `schema_version` | int | {report_json.SCHEMA_VERSION} (" in text
    for code in ReasonCode:
        assert f"| `{code}` |" in text, f"reason code {code} is not documented"


def test_a_report_of_every_state_matches_the_schema(store: Store, last_run: RunRecord) -> None:
    document = json.loads(report_json.render(report_db.document(store, last_run)))
    report_schema.check(document)
    # Strict: a field the schema does not describe is refused.
    document["packages"][0]["surprise"] = 1
    assert report_schema.problems(document) == [
        "packages/0: Additional properties are not allowed ('surprise' was unexpected)"
    ]


def test_a_report_with_nothing_in_it_matches_the_schema(store: Store) -> None:
    run_id = store.start_run(NOW, True, 10, timedelta(hours=6))
    store.finish_run(run_id, NOW, 0, {})
    run = store.run(run_id)
    assert run is not None
    report_schema.check(json.loads(report_json.render(report_db.document(store, run))))


# -- the example ----------------------------------------------------------------------

SPONSOR = "https://api.launchpad.net/devel/~sru-sponsor"
UPLOADER = "https://api.launchpad.net/devel/~uploader"


def example_scenario(store: Store) -> RunRecord:
    """A day and a half of runs over three updates: one phasing, one stopped by a higher
    crash rate and mailed about, one halted; and an update the last run could not read."""
    sim = Simulation(store)
    hours = timedelta(hours=1)
    hello = sim.add(
        Plan(
            NOBLE,
            "hello",
            "2.10-3ubuntu0.1",
            "2.10-3",
            NOW - 18 * hours,
            creator_link=UPLOADER,  # a Debian sync: nobody signed it in Ubuntu
            architectures=("amd64", "arm64"),
        )
    )
    sim.add(
        Plan(
            NOBLE,
            "cryptkit",
            "3.0.13-0ubuntu3.2",
            "3.0.13-0ubuntu3.1",
            NOW - 30 * hours,
            check=from_time(NOW - 12 * hours, CrashCheck((rate(12.5, 3.25, 14),))),
            signer_link=SPONSOR,
            creator_link=UPLOADER,
            debs=("libcryptkit3", "cryptkit-tools"),
        )
    )
    sim.add(
        Plan(
            NOBLE,
            "zed",
            "4.2-1ubuntu0.24.04.1",
            "4.2-1",
            NOW - 30 * hours,
            signer_link=UPLOADER,
            creator_link=UPLOADER,
            halt=Halt(
                "noble",
                "zed",
                "4.2-1ubuntu0.24.04.1",
                "waiting for LP: #2081234",
                "~jane",
                NOW - 7 * hours,
            ),
        )
    )
    sim.run_every(NOW - 30 * hours, NOW - 6 * hours)
    # The last run could not read hello, which it had decided on before.
    hello.complete = True  # so the simulation leaves it out
    run = sim.run(NOW)
    stopped_at = NOW - 12 * hours
    with store.transaction() as db:
        outbox.queue(
            db,
            key="noble cryptkit 3.0.13-0ubuntu3.2 increased-rate",
            run_id=run.id - 2,
            series="noble",
            source="cryptkit",
            version="3.0.13-0ubuntu3.2",
            signer_link=SPONSOR,
            creator_link=UPLOADER,
            subject="[phased-updater] cryptkit 3.0.13-0ubuntu3.2 stopped in noble",
            body="...",
            queued_at=stopped_at,
        )
    (message,) = outbox.pending(store)
    outbox.set_recipients(
        store,
        message.id,
        (Recipient("SRU Sponsor", "sponsor@example.com"),),
        ("creator ~uploader: the address is hidden",),
    )
    outbox.mark_sent(store, message.id, stopped_at + timedelta(minutes=1))
    store.note_run(
        run.id,
        "not_evaluated",
        [
            {
                "series": "noble",
                "source": "hello",
                "version": "2.10-3ubuntu0.1",
                "error": "cannot read from Launchpad: HTTP 503",
            }
        ],
    )
    found = store.run(run.id)
    assert found is not None
    return found


def abridged(document: dict[str, Any]) -> dict[str, Any]:
    """Each history cut to its last entry, so that the example stays short."""

    def cut(package: dict[str, Any]) -> dict[str, Any]:
        return {**package, "history": package["history"][-1:]}

    return {
        **document,
        "packages": [cut(p) for p in document["packages"]],
        "recently_completed": [cut(p) for p in document["recently_completed"]],
        "not_evaluated": [
            {**n, "last_known": cut(n["last_known"]) if n["last_known"] else None}
            for n in document["not_evaluated"]
        ],
    }


WIDTH = 92  # what fits in the document's code block


def pretty(value: Any, indent: str = "") -> str:
    """JSON with every value that fits on one line written on one line."""
    flat = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if len(indent) + len(flat) <= WIDTH or not isinstance(value, dict | list) or not value:
        return flat
    inner = indent + "  "
    if isinstance(value, list):
        items = [inner + pretty(item, inner) for item in value]
        return "[\n" + ",\n".join(items) + f"\n{indent}]"
    fields = [f"{inner}{json.dumps(key)}: {pretty(item, inner)}" for key, item in value.items()]
    return "{\n" + ",\n".join(fields) + f"\n{indent}}}"


def example_text(store: Store) -> str:
    document = json.loads(report_json.render(report_db.document(store, example_scenario(store))))
    report_schema.check(document, "the example")
    return pretty(abridged(document))


def test_the_documented_example_is_generated_from_the_scenario(store: Store) -> None:
    expected = f"{BEGIN}\n```json\n{example_text(store)}\n```\n{END}"
    text = DOC.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    assert pattern.search(text), f"docs/report-schema.md has no {BEGIN} ... {END}"
    if os.environ.get(REWRITE):
        DOC.write_text(pattern.sub(lambda _: expected, text), encoding="utf-8")
        return
    current = pattern.search(text)
    assert current is not None
    assert current.group(0) == expected, (
        "the example in docs/report-schema.md is stale: run `make schema-example`"
    )
