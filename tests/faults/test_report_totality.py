"""Report rendering is total: whatever history the database holds, the report is written.

Hypothesis generates histories no single engine run writes in that shape: runs whose
clocks go back, repeat a second or jump a century; decisions on one update in the
same second; percentages outside 0..100 (an older database); signatures and reasons
with lone surrogates, markup and line separators; problems with odd evidence; runs
that could not evaluate updates. For each, `publish` writes index.html and
phased-updates.json without an exception, both are UTF-8, the JSON parses, and every
update the run decided on is in both (nothing vanishes from the report).

The seed is fixed (`derandomize`) and the examples bounded, so `make test` stays
deterministic and this file costs well under 30 s.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phased_updater.mail.outbox import Delivery, Status
from phased_updater.model import (
    Acknowledgement,
    Action,
    BinaryPublication,
    Decision,
    NotEvaluated,
    Problem,
    ProblemKind,
    Series,
    State,
    Update,
)
from phased_updater.report.anchors import update_anchor
from phased_updater.report.publish import HTML_NAME, JSON_NAME, publish
from phased_updater.store import Store

TOTAL = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Text as it can reach the store: anything, lone surrogates included (JSON's "\ud83d").
HOSTILE = st.sampled_from(
    ["\ud83d crash", "<script>alert(1)</script>", "a\u2028b", "\x00", "{{ x }}", "é" * 300, ""]
)
texts = st.one_of(
    HOSTILE,
    st.text(st.characters(exclude_categories=()), max_size=60),
)

# A few seconds to reuse, so that runs and decisions collide on the same timestamp.
BASE = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
moments = st.one_of(
    st.sampled_from([BASE, BASE + timedelta(seconds=1), BASE - timedelta(days=3)]),
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.just(UTC),
    ),
)
percentages = st.one_of(st.integers(0, 100), st.integers(-5, 110))
evidence_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)

NOBLE = Series("noble", "24.04", "http://lp.test/ubuntu/noble")
JAMMY = Series("jammy", "22.04", "http://lp.test/ubuntu/jammy")
KEYS = [
    (NOBLE, "hello", "2.10-3ubuntu0.1"),
    (NOBLE, "hello", "2.10-3ubuntu0.2"),
    (JAMMY, "hello", "2.10-3ubuntu0.1"),
    (NOBLE, "libfoo", "1:1.2+dfsg-1ubuntu0.24.04.1~ppa1"),
]


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    acknowledged = draw(st.none() | st.builds(Acknowledgement, by=texts, at=moments, how=texts))
    return Problem(
        kind=draw(st.sampled_from(list(ProblemKind))),
        url=draw(
            st.one_of(
                st.just("https://errors.ubuntu.com/problem/5e1a0c3b"),
                st.just("https://[errors.ubuntu.com/problem/x"),
                texts,
            )
        ),
        signature=draw(st.none() | texts),
        evidence=draw(
            st.dictionaries(
                st.sampled_from(["difference", "previous_average", "previous_period_in_days"])
                | texts,
                evidence_values,
                max_size=3,
            )
        ),
        overridden=draw(st.booleans()),
        acknowledged=acknowledged,
        last_reported=draw(st.none() | moments),
    )


@dataclass(frozen=True)
class Entry:
    key: int
    at: datetime
    decision: Decision
    applied: bool
    error: str | None


@st.composite
def decisions(draw: st.DrawFn) -> Entry:
    return Entry(
        key=draw(st.integers(0, len(KEYS) - 1)),
        at=draw(moments),
        decision=Decision(
            action=draw(st.sampled_from(list(Action))),
            state=draw(st.sampled_from(list(State))),
            from_percentage=draw(percentages),
            to_percentage=draw(percentages),
            highest_percentage=draw(percentages),
            since=draw(moments),
            next_step_at=draw(st.none() | moments),
            reason=draw(texts),
            problems=tuple(draw(st.lists(problems(), max_size=3))),
            overrides_applied=tuple(draw(st.lists(texts, max_size=2))),
            by=draw(st.none() | texts),
        ),
        applied=draw(st.booleans()),
        error=draw(st.none() | texts),
    )


@dataclass(frozen=True)
class RunPlan:
    started: datetime
    finished: datetime
    dry_run: bool
    step: int
    interval: timedelta
    entries: list[Entry]
    not_evaluated: list[tuple[int, str]]
    failures: list[str]


runs = st.builds(
    RunPlan,
    started=moments,
    finished=moments,
    dry_run=st.booleans(),
    step=st.integers(1, 100),
    interval=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=60)),
    entries=st.lists(decisions(), max_size=6),
    not_evaluated=st.lists(st.tuples(st.integers(0, len(KEYS) - 1), texts), max_size=3),
    failures=st.lists(texts, max_size=2),
)

deliveries = st.lists(
    st.builds(
        Delivery,
        series=st.sampled_from(["noble", "jammy"]),
        source=st.just("hello"),
        version=st.just("2.10-3ubuntu0.1"),
        subject=texts,
        status=st.sampled_from(list(Status)),
        attempts=st.integers(0, 10**6),
        last_error=st.none() | texts,
        queued_at=moments,
        sent_at=st.none() | moments,
        notes=st.lists(texts, max_size=2).map(tuple),
    ),
    max_size=3,
)


def _update(key: int, published: datetime) -> Update:
    series, source, version = KEYS[key]
    return Update(
        series=series,
        source=source,
        version=version,
        previous_version=None if key == 3 else "2.10-3",
        date_published=published,
        self_link=f"http://lp.test/spph/{key}",
        signer_link=None,
        creator_link=None,
        binaries=(
            BinaryPublication(
                self_link=f"http://lp.test/bpph/{key}",
                name=source,
                arch_link="http://lp.test/ubuntu/noble/amd64",
                percentage=10,
                is_debug=False,
                date_created=published,
            ),
        ),
        highest_percentage=10,
    )


def _fill(store: Store, plans: list[RunPlan], published: datetime) -> list[int]:
    run_ids = []
    for plan in plans:
        run_id = store.start_run(plan.started, plan.dry_run, plan.step, plan.interval)
        for entry in plan.entries:
            store.record(
                run_id,
                entry.at,
                _update(entry.key, published),
                entry.decision,
                applied=entry.applied,
                error=entry.error,
            )
        summary: dict[str, Any] = {
            "not_evaluated": [
                NotEvaluated(*_key_names(key), error).to_json() for key, error in plan.not_evaluated
            ],
            "failures": plan.failures,
        }
        store.finish_run(run_id, plan.finished, 1 if plan.failures else 0, summary)
        run_ids.append(run_id)
    return run_ids


def _key_names(key: int) -> tuple[str, str, str]:
    series, source, version = KEYS[key]
    return series.name, source, version


@given(
    plans=st.lists(runs, min_size=1, max_size=4),
    published=moments,
    now=st.none() | moments,
    shown=deliveries,
    email_off=st.booleans(),
)
@TOTAL
def test_any_history_renders_a_report_with_every_update_of_the_run(
    plans: list[RunPlan],
    published: datetime,
    now: datetime | None,
    shown: list[Delivery],
    email_off: bool,
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        store = Store.open(directory / "state.sqlite")
        try:
            run_ids = _fill(store, plans, published)
            for run_id in (run_ids[-1], run_ids[0]):
                run = store.run(run_id)
                assert run is not None
                publish(directory, store, run, now=now, deliveries=shown, email_off=email_off)
                page = (directory / HTML_NAME).read_bytes().decode("utf-8")
                document = json.loads((directory / JSON_NAME).read_bytes().decode("utf-8"))
                plan = plans[run_ids.index(run_id)]
                decided = {_key_names(entry.key) for entry in plan.entries}
                listed = {
                    (entry["series"], entry["source"], entry["version"])
                    for section in ("packages", "not_evaluated")
                    for entry in document.get(section, [])
                }
                assert decided <= listed, "an update the run decided on is not in the JSON"
                for series, source, version in decided:
                    assert update_anchor(series, source, version) in page
        finally:
            store.close()
