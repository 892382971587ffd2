"""The report's view model, built from a database holding every state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from phased_updater.forecast import share_offered
from phased_updater.report import view as report_view
from phased_updater.report.anchors import update_anchor
from phased_updater.report.input import ReportInput
from phased_updater.report.view import ReportView, UpdateView
from phased_updater.store import RunRecord, Store
from phased_updater.text import redact
from tests.unit import report_db
from tests.unit.report_db import NOW, DeliveryRow


@pytest.fixture
def view(store: Store, last_run: RunRecord) -> ReportView:
    return report_view.build(ReportInput.load(store, last_run))


def find(view: ReportView, source: str) -> UpdateView:
    matches = [u for s in view.sections for u in s.updates if u.source == source]
    assert len(matches) == 1, source
    return matches[0]


def section_sources(view: ReportView, name: str) -> list[str]:
    section = next(s for s in view.sections if s.id == name)
    return [u.source for u in section.updates]


def test_sections_put_stopped_first_and_completed_last_collapsed(view: ReportView) -> None:
    assert [s.id for s in view.sections] == ["stopped", "unknown", "phasing", "complete"]
    # Halted updates go with the stopped ones; within a section, by series then name.
    assert section_sources(view, "stopped") == ["zed", "cryptkit", "libfoo"]
    assert section_sources(view, "unknown") == ["nettool"]
    assert section_sources(view, "phasing") == ["gizmo", "hello", "vim", "curl"]
    # Newest completion first; oldpkg completed 12 days ago and is not listed.
    assert section_sources(view, "complete") == ["tzdata", "bash"]
    assert [s.collapsed for s in view.sections] == [False, False, False, True]


def test_header_counts_every_state_and_the_run_settings(view: ReportView) -> None:
    assert view.counts == {
        "stopped": 2,
        "halted": 1,
        "held": 0,
        "unknown": 1,
        "not-evaluated": 0,
        "phasing": 4,
        "complete": 2,
    }
    assert (view.step, view.interval, view.dry_run) == (10, "6h", False)
    assert view.generated.at == NOW
    assert not view.rerendered
    assert view.series == ("focal", "jammy", "noble", "oracular")


def test_a_stopped_update_shows_its_crash_and_where_it_had_got_to(view: ReportView) -> None:
    libfoo = find(view, "libfoo")
    assert (libfoo.state, libfoo.percentage, libfoo.highest_percentage) == ("stopped", 0, 40)
    [problem] = libfoo.problems
    assert problem.is_new_crash
    assert problem.signature == report_db.HOSTILE_SIGNATURE
    assert problem.url == report_db.CRASH_URL
    assert not problem.overridden
    # Machines that drew up to 40 were offered it before the stop: they still have it.
    assert libfoo.share_offered == pytest.approx(share_offered(40))
    assert libfoo.next_step_at is None
    assert libfoo.expected_completion is None
    assert libfoo.since.at == NOW - timedelta(days=1)
    assert libfoo.since.relative == "1d ago"


def test_an_increased_rate_carries_its_difference_and_baseline(view: ReportView) -> None:
    [problem] = find(view, "cryptkit").problems
    assert problem.kind == "increased-rate"
    assert (problem.difference, problem.previous_average, problem.previous_period_in_days) == (
        12.5,
        3.25,
        14.0,
    )


def test_an_overridden_problem_stays_visible_marked_overridden(view: ReportView) -> None:
    gizmo = find(view, "gizmo")
    assert gizmo.state == "phasing"
    [problem] = gizmo.problems
    assert problem.overridden
    assert problem.signature == "gizmo_render_frame"
    assert gizmo.overrides_applied == (report_db.GIZMO_CRASH_URL,)
    actions = [entry.action for entry in reversed(gizmo.log)]
    # It stopped on the crash, stayed stopped, resumed once the override came.
    assert actions.index("stop") < actions.index("keep-stopped") < actions.index("resume")
    assert [m.kind for m in gizmo.timeline.markers] == ["stop", "resume"]


def test_unknown_and_halted_updates_say_why(view: ReportView) -> None:
    assert find(view, "nettool").reason == (
        "Error Tracker failed: package-rate-of-crashes: HTTP 503"
    )
    zed = find(view, "zed")
    assert zed.state == "halted"
    assert zed.reason == "halted by Jane Reviewer: waiting for the fix of LP: #2081234"


def test_a_phasing_update_has_its_next_step_and_forecast(view: ReportView) -> None:
    hello = find(view, "hello")
    assert (hello.percentage, hello.action) == (40, "advance")
    assert hello.since.at == NOW
    assert hello.next_step_at is not None
    assert hello.next_step_at.at == NOW + timedelta(hours=5, minutes=24)
    assert hello.next_step_at.relative == "in 5h24m"
    # 40 -> 100 is six steps of 6h from when it reached 40%.
    assert hello.expected_completion is not None
    assert hello.expected_completion.at == NOW + timedelta(hours=36)
    assert hello.share_offered == pytest.approx(41 / 101)


def test_identical_decisions_in_a_row_are_one_log_line(view: ReportView) -> None:
    libfoo = find(view, "libfoo")
    newest = libfoo.log[0]
    assert newest.action == "keep-stopped"
    # Stopped a day ago: the stop, then four identical "still stopped" runs.
    assert newest.count == 4
    assert newest.last_at is not None and newest.last_at.at == NOW
    assert newest.at.at == NOW - timedelta(hours=18)
    assert libfoo.log[1].action == "stop"
    assert sum(entry.count for entry in libfoo.log) == libfoo.decisions == 9


def test_links_are_quoted(view: ReportView) -> None:
    vim = find(view, "vim")
    assert vim.launchpad_url == (
        "https://launchpad.net/ubuntu/+source/vim/2:9.1.0016+dfsg-1ubuntu7.3"
    )
    assert report_view.launchpad_url("a b", "1.0/../x") == (
        "https://launchpad.net/ubuntu/+source/a%20b/1.0%2F..%2Fx"
    )
    assert report_view.errors_url("libstdc++6") == (
        "https://errors.ubuntu.com/?package=libstdc%2B%2B6&period=month"
    )
    assert report_view.errors_url("x&period=year") == (
        "https://errors.ubuntu.com/?package=x%26period%3Dyear&period=month"
    )


def test_only_http_links_are_kept() -> None:
    assert report_view.web_link("https://errors.ubuntu.com/problem/1") is not None
    assert report_view.web_link("javascript:alert(1)") is None
    assert report_view.web_link("data:text/html,<script>") is None
    assert report_view.web_link("https://x/ onmouseover=alert(1)") is None


def test_anchors_are_unique_and_plain() -> None:
    first = update_anchor("noble", "vim", "2:9.1+dfsg-1")
    assert first == "u-noble__vim__2_3a9.1_2bdfsg-1"
    assert first != update_anchor("noble", "vim", "2.9.1+dfsg-1")
    assert update_anchor("a", "b_c", "1") != update_anchor("a_b", "c", "1")


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "now"),
        (timedelta(seconds=20), "now"),
        (timedelta(hours=5, minutes=24), "in 5h24m"),
        (-timedelta(days=2, hours=4, minutes=30), "2d4h ago"),
        (timedelta(days=1, seconds=10), "in 1d"),
    ],
)
def test_relative_times(delta: timedelta, text: str) -> None:
    assert report_view.relative(NOW + delta, NOW) == text


def test_redact_removes_addresses_and_url_credentials() -> None:
    text = "SMTP 550 <jane.doe+sru@example.co.uk> refused; see https://bot:s3cret@relay.test/x"
    assert redact(text) == (
        "SMTP 550 <[address hidden]> refused; see https://[hidden]@relay.test/x"
    )
    assert redact("halted by Jane Reviewer") == "halted by Jane Reviewer"


def test_mail_panel_lists_pending_and_failed_without_addresses(
    store: Store, last_run: RunRecord
) -> None:
    deliveries = [
        DeliveryRow("noble", "libfoo", "1.2-1ubuntu0.2", "pending", 0, None, NOW),
        DeliveryRow(
            "noble",
            "cryptkit",
            "3.0.13-0ubuntu3.2",
            "failed",
            3,
            "451 <sru@example.com>: later",
            NOW - timedelta(hours=2),
        ),
        DeliveryRow("jammy", "gone", "1.0-1", "failed", 1, None, NOW),
        DeliveryRow("jammy", "gizmo", "1.0-2ubuntu0.1", "sent", 1, None, NOW),
        DeliveryRow("focal", "zed", "4.2-1ubuntu0.20.04.1", "skipped", 0, "robot", NOW),
    ]
    view = report_view.build(ReportInput.load(store, last_run), deliveries=deliveries)
    assert view.mail is not None
    assert [d.source for d in view.mail.pending] == ["libfoo"]
    assert [d.source for d in view.mail.failed] == ["cryptkit", "gone"]
    assert view.mail.failed[0].last_error == "451 <[address hidden]>: later"
    assert view.mail.failed[0].anchor == find(view, "cryptkit").anchor
    assert view.mail.failed[1].anchor is None  # not in this report: no dead link
    assert (view.mail.sent, view.mail.skipped, view.mail.email_off) == (1, 1, False)


def test_mail_panel_appears_when_email_is_off_even_with_no_outbox(
    store: Store, last_run: RunRecord
) -> None:
    data = ReportInput.load(store, last_run)
    assert report_view.build(data).mail is None
    panel = report_view.build(data, email_off=True).mail
    assert panel is not None and panel.email_off and not panel.pending


def test_a_dry_run_shows_what_it_would_set(store: Store) -> None:
    sim, _ = report_db.realistic(store)
    dry = sim.run(NOW + timedelta(hours=6), dry_run=True)
    view = report_view.build(ReportInput.load(store, dry))
    assert view.dry_run
    hello = find(view, "hello")
    assert (hello.from_percentage, hello.percentage, hello.would_change) == (40, 50, True)
    assert hello.log[0].not_written
    assert not hello.applied  # a dry run writes nothing


def test_rerendering_later_measures_from_the_given_time(store: Store, last_run: RunRecord) -> None:
    later = NOW + timedelta(days=5)
    view = report_view.build(ReportInput.load(store, last_run, later))
    assert view.rerendered
    assert view.generated.relative == "5d ago"
    # tzdata completed at NOW, 5 days before: still recent. bash (8 days) is not.
    assert section_sources(view, "complete") == ["tzdata"]


def test_the_report_is_built_from_three_queries(store: Store, last_run: RunRecord) -> None:
    # The run's decisions; every update's history, folded by SQLite, with the whole
    # rows of the folds; the outbox, once. The uploads come with the run's summary.
    # Never one query per update.
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    data = ReportInput.load(store, last_run)
    report_view.build(data)
    store.db.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(selects) == 3, selects


def test_moments_are_utc() -> None:
    moment = report_view.moment(datetime(2026, 1, 2, 3, 4, tzinfo=UTC), NOW)
    assert moment.text == "2026-01-02 03:04 UTC"
    assert moment.iso == "2026-01-02T03:04:00+00:00"
