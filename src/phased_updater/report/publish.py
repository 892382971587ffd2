"""Publishing the report of a run into the report directory.

Each file is replaced atomically, and index.html goes last: a reader sees either the
old report or the new one, and whoever watches index.html (the server's health check,
a person reloading) sees it change only once everything it refers to is in place.
A large report's update pages (report/details.py) go first of all, and the
directories of older publishes are removed last. The page is also written as
phased-updates.html, the name Ubuntu's own report has and every existing link,
document and scraper uses: the same bytes, so either name works from a server and
from disk alike.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from phased_updater.atomic_write import write_atomically
from phased_updater.report import details, document, page, view
from phased_updater.report.input import ReportInput
from phased_updater.report.view import DeliveryView
from phased_updater.store import RunRecord, Store

log = logging.getLogger(__name__)

JSON_NAME = "phased-updates.json"
HTML_NAME = "index.html"
PAGE_NAME = "phased-updates.html"  # the same page, under the name Ubuntu's report has


def publish(
    report_dir: Path,
    store: Store,
    run: RunRecord,
    *,
    now: datetime | None = None,
    deliveries: Sequence[DeliveryView] | None = None,
    email_off: bool = False,
    inline_limit: int = view.INLINE_DETAILS_MAX,
) -> list[Path]:
    """Write every report file for `run`; return their paths, index.html last (a large
    report's update pages as their directory, first).

    `now` (default: when the run finished) is what relative times and "completed in
    the last 7 days" are measured from. `deliveries` and `email_off` fill the mail
    panel; without either, the page has none. With more than `inline_limit` updates,
    the page's rows are short and each update has a page of its own (report/details.py).
    """
    data = ReportInput.load(store, run, now)
    shown = view.build(data, deliveries=deliveries, email_off=email_off, inline_limit=inline_limit)
    json_path = report_dir / JSON_NAME
    json_text: list[str] = []

    def render_json() -> None:
        json_text.append(document.render(document.build_from(data)))

    kept = None
    if shown.details_inline:
        render_json()
        html = page.render(shown)
    else:
        names, pages = update_pages(shown)
        stylesheet = page.stylesheet()
        kept = details.directory_name(shown.run, pages, stylesheet)
        # The JSON is rendered while the update pages are flushed to disk; it is
        # written once they are there, so that a failed flush replaces nothing.
        details.write(report_dir, kept, pages, stylesheet, meanwhile=render_json)
        links = {anchor: f"{details.DIRECTORY}/{kept}/{name}" for anchor, name in names.items()}
        html = page.render(shown, details_links=links)
    write_atomically(json_path, json_text[0])
    page_path = report_dir / PAGE_NAME
    write_atomically(page_path, html)
    html_path = report_dir / HTML_NAME
    write_atomically(html_path, html)
    details.prune(report_dir, kept)
    pages_dir = [] if kept is None else [report_dir / details.DIRECTORY / kept]
    return [*pages_dir, json_path, page_path, html_path]


def update_pages(shown: view.ReportView) -> tuple[dict[str, str], dict[str, str]]:
    """A large report's update pages: their file names by anchor, their text by name."""
    names = details.page_names([u.anchor for u in shown.updates])
    # Each page is written two levels down: details/<name>/<n>.html.
    pages = {
        names[u.anchor]: page.render_details(
            shown, u, back=f"../../{HTML_NAME}#{u.anchor}", stylesheet=details.STYLESHEET
        )
        for u in shown.updates
    }
    return names, pages
