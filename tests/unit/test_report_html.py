"""index.html rendered from a database holding every state: content and escaping."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from phased_updater.model import Action, CrashCheck, Decision, Halt, State
from phased_updater.report import page as report_html
from phased_updater.report import view as report_view
from phased_updater.report.input import ReportInput
from phased_updater.store import RunRecord, Store
from tests.unit import report_db
from tests.unit.report_db import NOW, DeliveryRow, Plan, Simulation, crash


class Page(HTMLParser):
    """The parts of a page the tests look at: elements, their attributes, scripts, text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self._inside: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._inside = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._inside:
            self._inside = None

    def handle_data(self, data: str) -> None:
        if self._inside == "script":
            self.scripts.append(data)
        elif self._inside == "style":
            self.styles.append(data)
        else:
            self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if name == tag]

    def by_id(self, element_id: str) -> dict[str, str | None]:
        [attrs] = [attrs for _, attrs in self.elements if attrs.get("id") == element_id]
        return attrs

    @property
    def plain(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture
def html(store: Store, last_run: RunRecord) -> str:
    deliveries = [
        DeliveryRow("noble", "libfoo", "1.2-1ubuntu0.2", "pending", 0, None, NOW),
        DeliveryRow(
            "noble", "cryptkit", "3.0.13-0ubuntu3.2", "failed", 2, "550 <a@b.example>", NOW
        ),
    ]
    view = report_view.build(ReportInput.load(store, last_run), deliveries=deliveries)
    return report_html.render(view)


def test_a_crash_signature_with_markup_is_text_not_markup(html: str) -> None:
    page = Page(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; in foo_parse()" in html
    assert "<script>alert(1)" not in html
    assert report_db.HOSTILE_SIGNATURE in page.plain  # shown to people as written
    assert len(page.all("script")) == 1  # ours, and nothing else


def test_only_our_own_script_and_style_may_run(html: str) -> None:
    page = Page(html)
    [policy] = [a["content"] for a in page.all("meta") if a.get("http-equiv")]
    assert policy is not None
    [script] = page.scripts
    [style] = page.styles

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    assert f"script-src 'sha256-{digest(script)}'" in policy
    assert f"style-src 'sha256-{digest(style)}'" in policy
    assert "default-src 'none'" in policy
    # No inline style attribute (the policy would block it) and no inline handler.
    for _, attrs in page.elements:
        assert "style" not in attrs
        assert not any(name.startswith("on") for name in attrs)


def test_nothing_is_loaded_from_another_site(html: str) -> None:
    page = Page(html)
    for _, attrs in page.elements:
        for name in ("src", "srcset", "data", "poster"):
            assert name not in attrs
    assert [a["href"] for a in page.all("link")] == ["data:,"]
    assert "@import" not in html and "url(" not in html


def test_sections_come_in_order_with_completed_collapsed(html: str) -> None:
    order = [
        m.group(1) for m in re.finditer(r'<(?:section|details) class="section" id="(\w+)"', html)
    ]
    assert order == ["stopped", "unknown", "phasing", "complete"]
    assert html.index('id="mail"') < html.index('id="complete"')
    assert '<details class="section" id="complete">' in html  # closed by default


def test_header_has_time_settings_and_counts(html: str) -> None:
    plain = Page(html).plain
    assert "Generated 2026-11-02 06:00 UTC by run 57" in plain
    assert "step 10% every 6h" in plain
    for text in ("2 stopped", "1 halted", "1 unknown", "4 phasing", "2 completed in 7 days"):
        assert text in plain
    assert "Dry run" not in plain


def test_each_update_row_has_its_links_bar_timeline_and_log(html: str) -> None:
    page = Page(html)
    bodies = [a for a in page.all("tbody") if "update" in (a.get("class") or "")]
    assert len(bodies) == 10
    hrefs = {a.get("href") for a in page.all("a")}
    assert "https://launchpad.net/ubuntu/+source/libfoo/1.2-1ubuntu0.2" in hrefs
    assert "https://errors.ubuntu.com/?package=libfoo&period=month" in hrefs
    assert report_db.CRASH_URL in hrefs
    for body in bodies:
        assert f"#{body['id']}" in hrefs  # a link to its own detail anchor
    assert len(page.all("svg")) == 2 * 10  # a bar and a timeline each
    stops = [a for a in page.all("circle") if a.get("class") == "mark stop"]
    assert len(stops) == 3  # libfoo, cryptkit, and gizmo before its override
    assert len([a for a in page.all("details") if a.get("class") == "log"]) == 10


def test_problems_show_their_evidence(html: str) -> None:
    plain = Page(html).plain
    assert "+12.5 crashes today above the baseline of 3.2 a day over the previous 14 days" in plain
    assert "gizmo_render_frame crash report overridden" in plain
    assert "Error Tracker failed: package-rate-of-crashes: HTTP 503" in plain
    assert "halted by Jane Reviewer: waiting for the fix of LP: #2081234" in plain
    assert "100% in 1d12h if nothing stops it" in plain  # hello's forecast
    assert "0% (was 40%)" in plain  # libfoo, stopped
    assert "offered to 41% of machines" in plain


def test_mail_panel_shows_queue_and_never_an_address(html: str) -> None:
    plain = Page(html).plain
    assert "failed cryptkit 3.0.13-0ubuntu3.2 noble" in plain
    assert "pending libfoo 1.2-1ubuntu0.2 noble" in plain
    assert "550 <[address hidden]>" in plain
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", plain)


def hostile_run(store: Store) -> RunRecord:
    """Names, versions, reasons and URLs that try to become markup or leak addresses."""
    sim = Simulation(store)
    evil = Plan(
        report_db.NOBLE,
        'x"><img src=x onerror=alert(1)>',
        "1.0-1<b>",
        "0.9&amp;",
        NOW - timedelta(hours=12),
        check=lambda _at: CrashCheck(
            (replace(crash("</code></li><script>alert(2)</script>"), url="javascript:alert(3)"),)
        ),
    )
    halted = Plan(
        report_db.JAMMY,
        "halted",
        "1.0-1ubuntu1",
        "1.0-1",
        NOW - timedelta(hours=12),
        halt=Halt(
            "jammy",
            "halted",
            "1.0-1ubuntu1",
            "<i>bad</i> see https://user:pw@host.test/",
            "Zoë <mallory@example.com>",
            NOW - timedelta(hours=6),
        ),
    )
    sim.add(evil)
    sim.add(halted)
    sim.run(NOW - timedelta(hours=6))
    return sim.run(NOW)


def test_every_outside_string_is_escaped_and_addresses_are_hidden(store: Store) -> None:
    run = hostile_run(store)
    html = report_html.render(report_view.build(ReportInput.load(store, run)))
    page = Page(html)
    assert len(page.all("script")) == 1
    assert page.all("img") == [] and page.all("i") == []
    assert "1.0-1<b>" not in html
    assert "x&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "1.0-1&lt;b&gt;" in html
    assert "javascript:" not in " ".join(str(a.get("href")) for a in page.all("a"))
    assert "mallory@example.com" not in html and "user:pw" not in html
    assert "halted by Zoë <[address hidden]>: <i>bad</i> see https://[hidden]@host.test/" in (
        page.plain
    )


def test_a_dry_run_says_so(store: Store) -> None:
    sim, _ = report_db.realistic(store)
    dry = sim.run(NOW + timedelta(hours=6), dry_run=True)
    plain = Page(report_html.render(report_view.build(ReportInput.load(store, dry)))).plain
    assert "Dry run: nothing was written to Launchpad" in plain
    assert "dry run: would go 40% → 50%" in plain
    assert "not written (dry run)" in plain


def test_an_empty_run_renders(store: Store) -> None:
    run_id = store.start_run(NOW, False, 10, timedelta(hours=6))
    store.finish_run(run_id, NOW, 0, {})
    run = store.run(run_id)
    assert run is not None
    plain = Page(report_html.render(report_view.build(ReportInput.load(store, run)))).plain
    assert "Stopped 0 None." in plain
    assert "0 phasing" in plain


def test_a_failed_write_is_shown(store: Store) -> None:
    update = Plan(report_db.NOBLE, "hello", "2.0-1ubuntu1", "2.0-1", NOW - timedelta(hours=7))
    decision = Decision(
        action=Action.ADVANCE,
        state=State.PHASING,
        from_percentage=10,
        to_percentage=20,
        highest_percentage=20,
        since=NOW,
        next_step_at=NOW + timedelta(hours=5),
        reason="no regressions; at 10% for 7h",
    )
    run_id = store.start_run(NOW, False, 10, timedelta(hours=6))
    store.record(run_id, NOW, update.update(), decision, applied=False, error="write failed: 503")
    store.finish_run(run_id, NOW, 1, {})
    run = store.run(run_id)
    assert run is not None
    plain = Page(report_html.render(report_view.build(ReportInput.load(store, run)))).plain
    assert "write failed: 503" in plain
    assert "the run could not evaluate everything (exit 1)" in plain
    assert "not written (dry run)" not in plain


def test_the_script_and_stylesheet_cannot_close_their_element_early() -> None:
    css, script = report_html._assets()
    assert "</script" not in script.lower() and "</style" not in css.lower()
