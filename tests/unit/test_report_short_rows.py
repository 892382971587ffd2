"""A large report's short rows: what stays in the row, and what goes to the update's page.

Rendered from `report_db.realistic` with a limit below its ten updates, so the page
takes its large form (view.INLINE_DETAILS_MAX); no file is written.
"""

from __future__ import annotations

import re

import pytest

from phased_updater.report import page as report_html
from phased_updater.report import view as report_view
from phased_updater.report.input import ReportInput
from phased_updater.report.publish import HTML_NAME, update_pages
from phased_updater.report.view import ReportView
from phased_updater.store import Store
from tests.unit import report_db, report_people
from tests.unit.report_db import CRASH_URL

LIBFOO = "u-noble__libfoo__1.2-1ubuntu0.2"


@pytest.fixture
def large(store: Store) -> ReportView:
    sim, last = report_db.realistic(store)
    report_people.add(sim, last.id)
    run = store.run(last.id)  # with the people report_people added to its summary
    assert run is not None
    return report_view.build(ReportInput.load(store, run), inline_limit=9)


def links(names: dict[str, str]) -> dict[str, str]:
    return {anchor: f"details/7-0123456789ab/{name}" for anchor, name in names.items()}


def rows(html: str) -> dict[str, str]:
    return {
        m.group(1): m.group(0)
        for m in re.finditer(r'<tbody class="update [^"]*" id="([^"]+)".*?</tbody>', html, re.S)
    }


def test_the_limit_decides_which_form_the_page_takes(store: Store) -> None:
    _, last = report_db.realistic(store)
    data = ReportInput.load(store, last)
    assert report_view.build(data, inline_limit=10).details_inline  # ten updates
    assert not report_view.build(data, inline_limit=9).details_inline
    assert report_view.build(data).details_inline  # the default: 300


def test_a_short_row_keeps_what_the_sru_team_acts_on(large: ReportView) -> None:
    names, _ = update_pages(large)
    html = report_html.render(large, details_links=links(names))
    shown = rows(html)
    assert len(shown) == 10
    libfoo = shown[LIBFOO]
    # The stop's evidence and the line that overrides it, once, with its copy button.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; in foo_parse()" in libfoo
    line = f"libfoo, 1.2-1ubuntu0.2, {CRASH_URL}"
    assert f'<pre class="lines">{line}</pre><button type="button" class="copy" hidden>' in libfoo
    # Its name links to its own page; the filter finds it by its binaries.
    assert f'<a class="name more" href="details/7-0123456789ab/{names[LIBFOO]}">libfoo</a>' in (
        libfoo
    )
    assert 'data-binaries="libfoo-dev libfoo1"' in libfoo
    # How to ask for an override is said once, above the stopped updates.
    assert html.count("To let one of these phase again, ask the SRU team (ubuntu-sru)") == 1
    # What the update's page has instead: the log, the timeline, people and links.
    for absent in ('<ol class="decisions">', '<svg class="timeline"', "~ulla", "Launchpad</a>"):
        assert absent not in html, absent


def test_a_badge_only_where_the_state_is_not_the_sections(large: ReportView) -> None:
    names, _ = update_pages(large)
    html = report_html.render(large, details_links=links(names))
    shown = rows(html)
    zed = next(row for anchor, row in shown.items() if "__zed__" in anchor)
    assert '<span class="badge halted">halted</span>' in zed  # among the stopped
    assert '<span class="badge stopped">' not in shown[LIBFOO]
    assert shown[LIBFOO].count('<span class="badge changed"') == 0
    curl = next(row for anchor, row in shown.items() if "__curl__" in anchor)
    assert '<span class="badge changed">new</span>' in curl


def test_each_update_page_is_its_whole_row_with_the_log_open(large: ReportView) -> None:
    names, pages = update_pages(large)
    assert sorted(pages) == sorted(names.values())
    text = pages[names[LIBFOO]]
    assert text.count('<tbody class="update stopped"') == 1
    assert f'id="{LIBFOO}"' in text
    assert '<details class="log" open>' in text
    assert '<svg class="timeline"' in text
    assert "~ulla" in text and "Launchpad</a>" in text
    assert f'href="../../{HTML_NAME}#{LIBFOO}"' in text
    assert '<link rel="stylesheet" href="report.css">' in text
    assert "style-src 'self'" in text and "script-src" not in text  # no script at all


def test_without_its_update_pages_a_large_page_is_whole(large: ReportView) -> None:
    # Rendered with no directory to link (a caller that writes no update pages), the
    # page falls back to whole rows rather than linking pages that do not exist.
    html = report_html.render(large)
    assert " compact" not in html
    assert html.count('<ol class="decisions">') == 10
