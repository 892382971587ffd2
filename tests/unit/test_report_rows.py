"""What each row of the report tells the people who act on it: who made the upload,
what it is made of, who was mailed, how to override or resume it, and what changed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from phased_updater.mail.outbox import Delivery, Status
from phased_updater.override_feedback import HowToOverride
from phased_updater.report import page as report_html
from phased_updater.report import timeline
from phased_updater.report import view as report_view
from phased_updater.report.input import Person, ReportInput
from phased_updater.report.view import ReportView, UpdateView
from phased_updater.store import Store
from tests.unit import report_db, report_people
from tests.unit.report_db import NOW


@pytest.fixture
def data(store: Store) -> ReportInput:
    sim, last = report_db.realistic(store)
    report_people.add(sim, last.id)
    run = store.run(last.id)
    assert run is not None
    return ReportInput.load(store, run)


@pytest.fixture
def view(data: ReportInput) -> ReportView:
    return report_view.build(data)


def find(view: ReportView, source: str) -> UpdateView:
    [match] = [u for s in view.sections for u in s.updates if u.source == source]
    return match


def test_a_sponsored_upload_names_its_uploader_and_sponsor(view: ReportView) -> None:
    libfoo, zed = find(view, "libfoo"), find(view, "zed")
    assert libfoo.creator == Person("~ulla", "http://lp.test/~ulla")
    assert libfoo.signer == Person("~sam", "http://lp.test/~sam")
    assert libfoo.sponsored
    assert zed.creator == zed.signer and not zed.sponsored
    assert find(view, "hello").creator is None  # the run did not decide it: nothing made up
    html = report_html.render(view)
    assert (
        'by <a href="http://lp.test/~ulla" rel="noreferrer">~ulla</a>, sponsored by'
        ' <a href="http://lp.test/~sam" rel="noreferrer">~sam</a>'
    ) in html
    assert 'by <a href="http://lp.test/~zoe" rel="noreferrer">~zoe</a></span>' in html


def test_a_row_lists_its_binaries_and_is_found_by_them(view: ReportView) -> None:
    libfoo = find(view, "libfoo")
    # The run keeps its debs: apt phases no debug symbols.
    assert libfoo.binaries == ("libfoo-dev (amd64)", "libfoo1 (amd64, arm64)")
    # The filter matches the source, the version and these (report.js).
    assert 'data-binaries="libfoo-dev libfoo1"' in (report_html.render(view))


def test_a_row_says_who_was_mailed_and_who_was_not(view: ReportView) -> None:
    libfoo, cryptkit = find(view, "libfoo"), find(view, "cryptkit")
    assert [m.text for m in libfoo.mail] == [
        "mailed Ulla Uploader and 1 address of the Cc list at 2026-11-02 06:00 UTC",
        f"not reached: {report_people.SAM_NOT_REACHED}",
    ]
    assert [m.warn for m in libfoo.mail] == [False, True]
    assert [m.text for m in cryptkit.mail] == ["not mailed: nobody to send it to: no address found"]
    html = report_html.render(view)
    assert report_people.ULLA_ADDRESS not in html
    assert report_people.CC_ADDRESS not in html


def test_a_stop_gives_its_override_lines_and_a_halt_its_resume_command(view: ReportView) -> None:
    libfoo, cryptkit, zed = find(view, "libfoo"), find(view, "cryptkit"), find(view, "zed")
    assert libfoo.override_lines == (f"libfoo, 1.2-1ubuntu0.2, {report_db.CRASH_URL}",)
    assert cryptkit.override_lines == ("cryptkit, 3.0.13-0ubuntu3.2, increased-rate",)
    assert cryptkit.override_request is not None and cryptkit.override_request.endswith(":")
    assert zed.override_lines == () and libfoo.resume_command is None
    assert zed.resume_command == (
        "phased-updater resume --series focal --source zed --version 4.2-1ubuntu0.20.04.1"
        ' --by YOUR-LAUNCHPAD-ID --reason "WHY IT MAY PHASE AGAIN"'
    )
    html = report_html.render(view)
    # The copy button copies the block beside it (report.js): the lines, once.
    line = f"libfoo, 1.2-1ubuntu0.2, {report_db.CRASH_URL}"
    assert f'<pre class="lines">{line}</pre><button type="button" class="copy" hidden>' in html
    assert html.count(line) == 1
    assert "To resume it (halted by Jane Reviewer), run:" in html


def test_the_resume_command_is_the_charms_where_overrides_go_through_juju() -> None:
    how = HowToOverride(
        command="juju run phaser/leader add-override source={source} version={version}"
        " problem={problem}"
    )
    assert report_view.resume_command(how, "noble", "hello", "1:2.0~rc1") == (
        "juju run phaser/leader resume series=noble source=hello version='1:2.0~rc1'"
        ' by=YOUR-LAUNCHPAD-ID reason="WHY IT MAY PHASE AGAIN"'
    )


def test_changed_since_the_last_run_is_exactly_the_state_changes(view: ReportView) -> None:
    # tzdata completed in this run and curl was first decided on in it; every other
    # update kept its state (hello stepped up, but it was phasing before too).
    changed = {u.source: u.previous_state for s in view.sections for u in s.updates if u.changed}
    assert changed == {"tzdata": "phasing", "curl": None}
    assert view.changed == 2
    html = report_html.render(view)
    assert html.count('<span class="badge changed"') == 2
    assert "<b>2</b> changed since the last run" in html


def test_stops_older_than_two_weeks_fold_into_their_own_section(
    store: Store, data: ReportInput
) -> None:
    later = report_view.build(
        ReportInput.load(store, data.run, data.run.started + timedelta(days=14))
    )
    ids = [s.id for s in later.sections]
    assert ids.index("stopped") + 1 == ids.index("stopped-long")
    folded = next(s for s in later.sections if s.id == "stopped-long")
    # libfoo and cryptkit stopped within the last two days of `realistic`; zed was halted
    # a day before its end: all three are now more than 14 days stopped.
    assert sorted(u.source for u in folded.updates) == ["cryptkit", "libfoo", "zed"]
    assert folded.collapsed
    assert later.counts["stopped"] == 2 and later.counts["halted"] == 1  # still counted
    assert 'details class="section" id="stopped-long"' in report_html.render(later)


def test_days_since_release_and_the_level_it_was_at(view: ReportView) -> None:
    libfoo = find(view, "libfoo")
    assert libfoo.days_since_release == 2
    assert libfoo.percentage == 0 and libfoo.highest_percentage == 40
    assert '<b>0%</b> <span class="was">(was 40%)</span>' in report_html.render(view)


@pytest.mark.parametrize(
    ("recorded", "shown"),
    [
        (
            "stopped on 1 problem not overridden (increased-rate)",
            "stopped on a higher crash rate than the previous version's, not overridden",
        ),
        (
            "stopped on 2 problems not overridden (increased-rate, new-crash)",
            "stopped on a higher crash rate than the previous version's and a new crash"
            " (2 problems, none overridden)",
        ),
        ("no regressions; at 30% for 6h", "no regressions; at 30% for 6h"),
    ],
)
def test_reasons_read_as_sentences(recorded: str, shown: str) -> None:
    assert report_view.plain_reason(recorded) == shown


def test_the_reasons_on_the_page_carry_no_programmer_text(view: ReportView) -> None:
    assert "problem(s)" not in report_html.render(view)
    assert "not overridden (" not in report_html.render(view)


def test_the_history_axis_shows_the_year_past_six_months() -> None:
    short = timeline.build([], NOW - timedelta(days=30), NOW)
    long = timeline.build([], NOW - timedelta(days=200), NOW)
    assert short.axis_format == "%b %d"
    assert long.axis_format == "%b %d %Y"


def test_a_message_sent_with_no_name_on_record_went_to_the_cc_list() -> None:
    sent = Delivery("noble", "zed", "1.0", "zed stopped", Status.SENT, 1, None, NOW, NOW, notes=())
    [note] = report_view.mail_notes([sent], NOW)
    assert note.text == "mailed the Cc list at 2026-11-02 06:00 UTC"
