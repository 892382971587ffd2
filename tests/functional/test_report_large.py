"""A large report in a browser: short rows, and each update's own page shown in place.

Past `view.INLINE_DETAILS_MAX` updates the page keeps each row short and links every
update to a page of its own under details/ (report/details.py). These tests publish
`report_db.realistic` with a limit of 1, so its ten updates are "many", serve it with
`phased-updater serve`'s application and drive Debian's Chromium over DevTools
(tests/functional/cdp.py): a page that logs any console message, exception or
Content-Security-Policy violation fails.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from phased_updater.commands.serve import create
from phased_updater.report import details
from phased_updater.report.publish import publish
from phased_updater.store import Store
from tests.functional import cdp
from tests.functional.report_server import running
from tests.functional.test_report_browser import (
    LIBFOO,
    LIBFOO_ROW,
    chromium,
    summary_says,
    visible_updates,
)
from tests.unit import report_db

__all__ = ["chromium"]  # the fixture, shared with the small report's tests

NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
# Resolves once the row has been shown whole, or says why it was not.
EXPANDED = """
new Promise(function (resolve) {
  var body = document.querySelector(%r);
  function done() {
    if (body.classList.contains("expanded")) { resolve("expanded"); return true; }
    var note = body.querySelector("td.pkg .error");
    if (note) { resolve(note.textContent); return true; }
    return false;
  }
  if (!done()) {
    new MutationObserver(done).observe(body, {attributes: true, childList: true, subtree: true});
  }
})
"""


@pytest.fixture(scope="module")
def large_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("large")
    store = Store.open(target / "state.sqlite3")
    try:
        _, last = report_db.realistic(store)
        publish(target / "report", store, last, now=NOW, inline_limit=1)
    finally:
        store.close()
    return target / "report"


@pytest.fixture(scope="module")
def large_url(large_report: Path) -> Iterator[str]:
    with running(create(large_report, "127.0.0.1:0", asyncore_loop_timeout=0.05)) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def page(chromium: str, tmp_path: Path) -> Iterator[cdp.Page]:
    with cdp.browser(chromium, tmp_path / "profile") as (opened, _connection):
        yield opened
    assert not opened.problems, "\n".join(opened.problems)


def update_pages(report: Path) -> list[Path]:
    (directory,) = (report / details.DIRECTORY).iterdir()
    return sorted(directory.iterdir())


def test_rows_are_short_and_every_update_has_its_page(large_report: Path) -> None:
    html = (large_report / "index.html").read_text()
    rows = re.findall(r"<tbody .*?</tbody>", html, re.S)
    assert len(rows) == 10
    assert all('class="update ' in row and " compact" in row for row in rows)
    # Nothing of the decision logs or timelines is in the page itself.
    assert '<ol class="decisions">' not in html
    assert '<svg class="timeline"' not in html
    pages = update_pages(large_report)
    assert [p.name for p in pages if p.suffix == ".css"] == ["report.css"]
    linked = re.findall(r'<a class="name more" href="(details/[^"]+)">', html)
    html_pages = [p for p in pages if p.suffix == ".html"]
    assert sorted(large_report / link for link in linked) == html_pages
    libfoo = next(p for p in pages if f'id="{LIBFOO}"' in p.read_text())
    text = libfoo.read_text()
    assert '<details class="log" open>' in text
    assert '<svg class="timeline"' in text
    assert f'href="../../index.html#{LIBFOO}"' in text
    # The hostile signature stays text on the update's page too.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; in foo_parse()" in text


def test_the_served_page_shows_an_update_in_place(page: cdp.Page, large_url: str) -> None:
    page.open(large_url + "/")
    assert page.evaluate("document.documentElement.dataset.ready") == "1"
    assert len(visible_updates(page)) == 10
    page.click(f"{LIBFOO_ROW} a.more")
    assert page.evaluate(EXPANDED % LIBFOO_ROW) == "expanded"
    assert page.evaluate("location.pathname") == "/"  # shown here, not navigated away
    inside = f"document.querySelector('{LIBFOO_ROW}')"
    assert page.evaluate(f"{inside}.querySelectorAll('svg.timeline').length") == 1
    assert page.evaluate(f"{inside}.querySelector('details.log').open") is True
    # Its copy button works like those of the page's own rows.
    cdp.grant_clipboard(page, large_url)
    page.click(f"{LIBFOO_ROW} button.copy")
    shown = page.evaluate(f"{inside}.querySelector('pre.lines').textContent")
    assert page.evaluate("navigator.clipboard.readText()", gesture=True) == shown
    # The filter still finds it, whole now, and hides the others.
    page.type_text("#f-name", "libfoo")
    summary_says(page, "1 of 10 updates")
    assert visible_updates(page) == [LIBFOO]


def test_short_rows_sort_and_filter_as_whole_ones_do(page: cdp.Page, large_url: str) -> None:
    page.open(large_url + "/?sort=percentage")
    levels = page.evaluate(
        "[].map.call(document.querySelectorAll('#phasing tbody.update'),"
        " function (b) { return parseInt(b.querySelector('.pct b').textContent, 10); })"
    )
    assert len(levels) > 1 and levels == sorted(levels, reverse=True)
    page.open(large_url + "/?state=stopped&q=lib")
    assert visible_updates(page) == [LIBFOO]
    page.open(large_url + "/?q=9.1.0016")  # a version finds its update too
    assert visible_updates(page) == ["u-noble__vim__2_3a9.1.0016_2bdfsg-1ubuntu7.3"]


def test_a_link_to_an_update_shows_it_with_its_log_open(page: cdp.Page, large_url: str) -> None:
    page.open(f"{large_url}/#{LIBFOO}")
    assert page.evaluate(EXPANDED % LIBFOO_ROW) == "expanded"
    assert page.evaluate(f"document.querySelector('{LIBFOO_ROW} details.log').open") is True


def test_a_page_older_than_its_update_pages_says_so(
    page: cdp.Page, large_report: Path, large_url: str, tmp_path: Path
) -> None:
    # The update pages of this publish are gone (two publishes later): the row says
    # what happened instead of failing silently. (Moved aside, not served by a second
    # server: waitress's servers in one process share their socket map.)
    aside = tmp_path / "aside"
    shutil.move(large_report / details.DIRECTORY, aside)
    try:
        page.open(large_url + "/")
        page.click(f"{LIBFOO_ROW} a.more")
        said = page.evaluate(EXPANDED % LIBFOO_ROW)
        # The browser logs the failed load on its own; read until it has.
        for _ in range(100):
            if page.problems:
                break
            page.evaluate("0")
    finally:
        shutil.move(aside, large_report / details.DIRECTORY)
    assert said.startswith("Could not show it here (HTTP 404)"), said
    assert page.problems and all("404" in problem for problem in page.problems), page.problems
    page.problems.clear()  # expected here, and the only ones


def test_from_disk_the_link_opens_the_update_page(
    page: cdp.Page, large_report: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(large_report, copy)
    page.open((copy / "index.html").as_uri())
    assert page.evaluate("document.documentElement.dataset.ready") == "1"
    page.events = [e for e in page.events if e["method"] != "Page.loadEventFired"]
    page.click(f"{LIBFOO_ROW} a.more")
    page.wait_for("Page.loadEventFired")
    assert page.evaluate("location.pathname").startswith(str(copy / details.DIRECTORY))
    # Styled by the stylesheet beside it (a style the page's CSP refused would log).
    assert page.evaluate("document.styleSheets.length") == 1
    assert page.evaluate("document.querySelector('details.log').open") is True
    back = page.evaluate("document.querySelector('p.back a').href")
    assert back == (copy / "index.html").as_uri() + f"#{LIBFOO}"


def test_serve_hands_out_update_pages_and_nothing_else_under_details(
    large_report: Path, large_url: str
) -> None:
    first, *_ = update_pages(large_report)
    relative = first.relative_to(large_report).as_posix()
    reply = requests.get(f"{large_url}/{relative}", timeout=30)
    assert reply.status_code == 200
    assert reply.headers["Cache-Control"] == "public, max-age=86400, immutable"
    assert reply.content == first.read_bytes()
    directory = first.parent.relative_to(large_report).as_posix()
    for path in (directory, directory + "/", "details", directory + "/missing.html"):
        assert requests.get(f"{large_url}/{path}", timeout=30).status_code == 404, path
