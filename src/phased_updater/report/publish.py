"""Publishing the report of a run into the report directory.

Each file is replaced atomically, and index.html goes last: a reader sees either the
old report or the new one, and whoever watches index.html (the server's health check,
a person reloading) sees it change only once everything it refers to is in place.
The page is also written as phased-updates.html, the name Ubuntu's own report has and
every existing link, document and scraper uses: the same bytes, so either name works
from a server and from disk alike.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from phased_updater.atomic_write import write_atomically
from phased_updater.report import document, page, view
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
) -> list[Path]:
    """Write every report file for `run`; return their paths, index.html last.

    `now` (default: when the run finished) is what relative times and "completed in
    the last 7 days" are measured from. `deliveries` and `email_off` fill the mail
    panel; without either, the page has none.
    """
    data = ReportInput.load(store, run, now)
    json_path = report_dir / JSON_NAME
    write_atomically(json_path, document.render(document.build_from(data)))
    shown = view.build(data, deliveries=deliveries, email_off=email_off)
    html = page.render(shown)
    page_path = report_dir / PAGE_NAME
    write_atomically(page_path, html)
    html_path = report_dir / HTML_NAME
    write_atomically(html_path, html)
    return [json_path, page_path, html_path]
