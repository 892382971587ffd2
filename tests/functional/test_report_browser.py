"""The report as a browser sees it: `phased-updater report` writes it from a database,
`serve` serves it on loopback, and headless Chromium loads it.

A page passes when Chromium renders it, its script runs to the end (it sets
`data-ready="1"` on <html>, seen in `--dump-dom`), and Chromium logs no console
message (a script error, a Content-Security-Policy violation or a failed load all
log one). Chromium is Debian's; the set-up installs it with scripts/ensure-debs when
it is missing, and the tests fail, never skip, when it cannot run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from phased_updater import cli
from phased_updater.commands.serve import create
from phased_updater.report.anchors import update_anchor
from phased_updater.report.server import ReportApp
from phased_updater.store import Store
from tests.functional import cdp
from tests.functional.report_server import running
from tests.unit import report_db, report_people

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = [*cdp.HEADLESS, "--enable-logging=stderr", "--v=0"]
LIBFOO = "u-noble__libfoo__1.2-1ubuntu0.2"


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        subprocess.run(
            [str(REPO / "scripts" / "ensure-debs"), "chromium"], check=False, timeout=900
        )
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing and scripts/ensure-debs could not install it")
    version = subprocess.run(
        [CHROMIUM, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    if version.returncode != 0:
        pytest.fail(f"chromium cannot run: {version.stderr.strip()}")
    return CHROMIUM


@dataclass(frozen=True)
class Loaded:
    dom: str
    console: list[str]  # Chromium's CONSOLE log lines: any is a failure

    @property
    def ready(self) -> bool:
        return re.search(r'<html[^>]* data-ready="1"', self.dom) is not None


def load(browser: str, url: str, profile: Path) -> Loaded:
    result = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "<html" in result.stdout, "chromium rendered nothing"
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return Loaded(result.stdout, console)


def assert_clean(page: Loaded) -> None:
    assert not page.console, "\n".join(page.console)
    assert page.ready, "the page's script did not run to its end"


def test_the_check_catches_a_script_error(chromium: str, tmp_path: Path) -> None:
    # The same check as below, on a page whose script fails: it must not pass.
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><body><script>undefinedFunction();"
        'document.documentElement.setAttribute("data-ready", "1");</script></body></html>'
    )
    page = load(chromium, broken.as_uri(), tmp_path / "profile")
    assert not page.ready
    assert any("undefinedFunction" in line for line in page.console)
    with pytest.raises(AssertionError):
        assert_clean(page)


# --- the `report` command writes what the browser loads -------------------------------


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("state") / "state.sqlite3"
    store = Store.open(path)
    try:
        report_db.realistic(store)
    finally:
        store.close()
    return path


@pytest.fixture(scope="module")
def report_dir(state: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("report")
    status = cli.main(
        ["report", "--state", str(state), "--report-dir", str(target), "--now", "2026-11-02T06:00Z"]
    )
    assert status == 0
    return target


def test_report_writes_html_and_json_without_leftovers(report_dir: Path) -> None:
    assert sorted(p.name for p in report_dir.iterdir()) == [
        "index.html",
        "phased-updates.html",
        "phased-updates.json",
    ]
    html = (report_dir / "index.html").read_text()
    assert '<meta name="generated" content="2026-11-02T06:00:00+00:00">' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; in foo_parse()" in html


def test_report_without_a_finished_run_says_so(tmp_path: Path) -> None:
    Store.open(tmp_path / "empty.sqlite3").close()
    arguments = ["report", "--state", str(tmp_path / "empty.sqlite3")]
    assert cli.main([*arguments, "--report-dir", str(tmp_path / "out")]) == 1
    assert not (tmp_path / "out").exists()
    assert cli.main(["report", "--state", str(tmp_path / "nope"), "--report-dir", "x"]) == 2
    # Without --report-dir it is report/ beside the database: still nothing to report.
    assert cli.main(["report", "--state", str(tmp_path / "empty.sqlite3")]) == 1
    assert not (tmp_path / "report").exists()


@pytest.fixture(scope="module")
def base_url(report_dir: Path) -> Iterator[str]:
    with running(create(report_dir, "127.0.0.1:0", asyncore_loop_timeout=0.05)) as port:
        yield f"http://127.0.0.1:{port}/"


def update_bodies(dom: str) -> dict[str, str]:
    """Each update's <tbody ...> start tag, by its id."""
    return {
        m.group(2): m.group(0)
        for m in re.finditer(r'<tbody class="update (\w+)"[^>]* id="([^"]+)"[^>]*>', dom)
    }


def test_the_served_report_renders_without_console_errors(
    chromium: str, base_url: str, tmp_path: Path
) -> None:
    page = load(chromium, base_url, tmp_path / "profile")
    assert_clean(page)
    bodies = update_bodies(page.dom)
    assert len(bodies) == 10
    assert not any(" hidden" in tag for tag in bodies.values())
    # The controls are shown once the script runs; the hostile signature stays text.
    assert '<form class="controls" id="controls">' in page.dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt; in foo_parse()" in page.dom
    assert page.dom.count("<script") == 1


def test_filtering_from_the_address(chromium: str, base_url: str, tmp_path: Path) -> None:
    page = load(chromium, base_url + "?state=stopped&q=lib", tmp_path / "profile")
    assert_clean(page)
    shown = [i for i, tag in update_bodies(page.dom).items() if " hidden" not in tag]
    assert shown == [LIBFOO]
    assert '<output id="f-summary" aria-live="polite">1 of 10 updates</output>' in page.dom


def test_a_link_to_an_update_opens_its_decision_log(
    chromium: str, base_url: str, tmp_path: Path
) -> None:
    page = load(chromium, f"{base_url}#{LIBFOO}", tmp_path / "profile")
    assert_clean(page)
    body = page.dom[page.dom.index(f'id="{LIBFOO}"') :]
    body = body[: body.index("</tbody>")]
    assert '<details class="log" open="">' in body
    assert page.dom.count('<details class="log" open="">') == 1


def test_the_page_works_from_a_file_too(chromium: str, report_dir: Path, tmp_path: Path) -> None:
    # An isolated copy, opened with no server: nothing is fetched from anywhere.
    copy = tmp_path / "copy"
    shutil.copytree(report_dir, copy)
    assert_clean(load(chromium, (copy / "index.html").as_uri(), tmp_path / "profile"))


# --- a run that could not evaluate everything ------------------------------------------


@pytest.fixture(scope="module")
def incomplete_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`realistic`, then a run an hour later that could not read hello from Launchpad."""
    state = tmp_path_factory.mktemp("incomplete") / "state.sqlite3"
    store = Store.open(state)
    try:
        sim, last = report_db.realistic(store)
        at = last.started + timedelta(hours=1)
        run_id = store.start_run(at, False, sim.step, sim.interval)
        hello = next(p for p in sim.plans if p.source == "hello")
        for plan in sim.plans:
            if plan is not hello and not plan.complete and plan.published <= at:
                sim.decide(plan, run_id, at)
        error = "cannot read from Launchpad: HTTP Error 500"
        missed = {"series": "noble", "source": "hello", "version": hello.version, "error": error}
        summary = {"failures": [f"noble hello {hello.version}: {error}"], "not_evaluated": [missed]}
        store.finish_run(run_id, at, 1, summary)
    finally:
        store.close()
    target = tmp_path_factory.mktemp("incomplete-report")
    arguments = ["report", "--state", str(state), "--report-dir", str(target)]
    assert cli.main([*arguments, "--now", at.isoformat()]) == 0
    return target


def test_an_incomplete_run_shows_what_it_missed_without_console_errors(
    chromium: str, incomplete_report: Path, tmp_path: Path
) -> None:
    page = load(chromium, (incomplete_report / "index.html").as_uri(), tmp_path / "profile")
    assert_clean(page)
    bodies = update_bodies(page.dom)
    assert len(bodies) == 10  # hello is still there, under "Not evaluated in this run"
    section = page.dom[page.dom.index('id="not-evaluated"') : page.dom.index('id="phasing"')]
    assert 'id="u-noble__hello__2.10-3ubuntu0.1"' in section
    assert 'class="incomplete" id="incomplete"' in page.dom


# --- the rows' new parts, driven over the DevTools protocol ---------------------------

GENERATED = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # --now of the report below
INTERVAL = report_db.INTERVAL
ARTIFACTS = REPO / "test-artifacts"  # kept after the run (ignored by git)
LIBFOO_ROW = f'[id="{LIBFOO}"]'


def clock_at(moment: datetime) -> str:
    """A script that makes the page's clock read `moment`, whatever the machine's says."""
    millis = int(moment.timestamp() * 1000)
    return (
        "(function () { var Real = Date;"
        f" class Fixed extends Real {{ constructor(...a) {{ if (a.length) {{ super(...a); }}"
        f" else {{ super({millis}); }} }} static now() {{ return {millis}; }} }}"
        " window.Date = Fixed; }());"
    )


@pytest.fixture(scope="module")
def rows_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`realistic`, with who made each upload, its binaries and the mail about it."""
    path = tmp_path_factory.mktemp("rows") / "state.sqlite3"
    store = Store.open(path)
    try:
        sim, last = report_db.realistic(store)
        report_people.add(sim, last.id)
    finally:
        store.close()
    return path


@pytest.fixture(scope="module")
def rows_report(rows_state: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("rows-report")
    arguments = ["report", "--state", str(rows_state), "--report-dir", str(target)]
    assert cli.main([*arguments, "--now", GENERATED.isoformat()]) == 0
    return target


@pytest.fixture(scope="module")
def rows_url(rows_report: Path) -> Iterator[str]:
    with running(create(rows_report, "127.0.0.1:0", asyncore_loop_timeout=0.05)) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def page(chromium: str, tmp_path: Path) -> Iterator[cdp.Page]:
    with cdp.browser(chromium, tmp_path / "profile") as (opened, _connection):
        opened.before_every_script(clock_at(GENERATED + timedelta(hours=1)))
        yield opened
    assert not opened.problems, "\n".join(opened.problems)


def summary_says(page: cdp.Page, text: str) -> None:
    """Wait (on the page's own changes, not a clock) until the filter's summary is `text`."""
    page.evaluate(
        "new Promise(function (done) { var out = document.getElementById('f-summary');"
        f" function check() {{ if (out.textContent === {text!r}) {{ done(true); }} }}"
        " new MutationObserver(check).observe(out,"
        " {childList: true, characterData: true, subtree: true}); check(); })"
    )


def visible_updates(page: cdp.Page) -> list[str]:
    return list(
        page.evaluate(
            "[].slice.call(document.querySelectorAll('tbody.update'))"
            ".filter(function (b) { return !b.hidden; }).map(function (b) { return b.id; })"
        )
    )


def test_the_page_has_both_names_and_serve_answers_both(rows_report: Path, rows_url: str) -> None:
    names = sorted(p.name for p in rows_report.iterdir())
    assert names == ["index.html", "phased-updates.html", "phased-updates.json"]
    page_bytes = (rows_report / "phased-updates.html").read_bytes()
    assert page_bytes == (rows_report / "index.html").read_bytes()
    for path in ("/", "/index.html", "/phased-updates.html"):
        reply = requests.get(rows_url + path, timeout=30)
        assert (reply.status_code, reply.content) == (200, page_bytes), path


def test_serve_answers_phased_updates_html_from_an_older_directory(
    rows_report: Path, tmp_path: Path
) -> None:
    # A directory written before the page had both names has index.html only. The
    # application is called as waitress calls it (a second server in this process
    # would share the first one's socket map).
    older = tmp_path / "older"
    older.mkdir()
    shutil.copy(rows_report / "index.html", older / "index.html")
    statuses: list[str] = []
    body = ReportApp(older)(
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/phased-updates.html"},
        lambda status, _headers: statuses.append(status),
    )
    assert statuses == ["200 OK"]
    assert b"".join(body) == (older / "index.html").read_bytes()


def test_the_copy_button_copies_the_override_line(page: cdp.Page, rows_url: str) -> None:
    cdp.grant_clipboard(page, rows_url)
    page.open(rows_url + "/phased-updates.html")
    shown = page.evaluate(f"document.querySelector('{LIBFOO_ROW} pre.lines').textContent")
    assert shown == f"libfoo, 1.2-1ubuntu0.2, {report_db.CRASH_URL}"
    page.click(f"{LIBFOO_ROW} button.copy")
    assert page.evaluate("navigator.clipboard.readText()", gesture=True) == shown
    assert page.evaluate(f"document.querySelector('{LIBFOO_ROW} button.copy').textContent") == (
        "Copied"
    )


def test_the_staleness_banner_appears_past_two_intervals(
    chromium: str, rows_report: Path, tmp_path: Path
) -> None:
    url = (rows_report / "index.html").as_uri()
    banners = {}
    for name, late in (("fresh", timedelta(hours=1)), ("stale", 2 * INTERVAL + timedelta(hours=1))):
        with cdp.browser(chromium, tmp_path / name) as (page, _connection):
            page.before_every_script(clock_at(GENERATED + late))
            page.open(url)
            banners[name] = page.evaluate(
                "(function () { var b = document.getElementById('stale');"
                " return b.hidden ? null : b.textContent; }())"
            )
            assert not page.problems, "\n".join(page.problems)
    assert banners["fresh"] is None
    # 13 h old at a 6 h interval: 7 h older than it should be.
    assert banners["stale"] is not None
    assert banners["stale"].startswith(
        "This report is 7 h older than it should be: the timer may have stopped."
    )


def test_changed_since_the_last_run_lists_exactly_the_state_changes(
    page: cdp.Page, rows_url: str, rows_state: Path
) -> None:
    # What changed, from the database: a state unlike the update's in the run before.
    store = Store.open(rows_state)
    try:
        last = store.latest_run()
        assert last is not None
        now = {r.key: r.state for r in store.decisions_for_run(last.id)}
        before = {r.key: r.state for r in store.decisions_for_run(last.id - 1)}
    finally:
        store.close()
    expected = {update_anchor(*key) for key, state in now.items() if before.get(key) != state}
    assert len(expected) == 2  # tzdata completed, curl first decided on

    page.open(rows_url + "/")
    assert page.evaluate("document.getElementById('changed-chip').textContent") == (
        "2 changed since the last run"
    )
    page.click("#f-changed")
    assert set(visible_updates(page)) == expected
    # The filter is in the address, so the view can be shared.
    page.open(rows_url + "/?changed=1")
    assert set(visible_updates(page)) == expected


def test_a_binary_name_search_finds_its_source(page: cdp.Page, rows_url: str) -> None:
    page.open(rows_url + "/")
    rows = page.evaluate("document.querySelectorAll('tbody.update').length")
    # Typed a key at a time: the filter follows the first key at once and the rest,
    # typed faster than a pass, once typing pauses.
    page.type_text("#f-name", "libfoo-dev")
    summary_says(page, f"1 of {rows} updates")
    assert visible_updates(page) == [LIBFOO]
    # Filtering hides rows in place: none was moved or re-created.
    assert page.evaluate("document.querySelectorAll('tbody.update').length") == rows
    page.open(rows_url + "/?q=9.1.0016")  # a version finds its update too
    assert visible_updates(page) == ["u-noble__vim__2_3a9.1.0016_2bdfsg-1ubuntu7.3"]


def test_sorts_say_their_direction(page: cdp.Page, rows_url: str) -> None:
    page.open(rows_url + "/?sort=percentage")
    labels = page.evaluate(
        "[].map.call(document.getElementById('f-sort').options,"
        " function (o) { return o.textContent; })"
    )
    assert labels == [
        "series, then name (A to Z)",
        "name (A to Z)",
        "percentage (highest first)",
        "time at its level (longest first)",
    ]
    levels = page.evaluate(
        "[].map.call(document.querySelectorAll('#phasing tbody.update'),"
        " function (b) { return parseInt(b.querySelector('.pct b').textContent, 10); })"
    )
    assert len(levels) > 1 and levels == sorted(levels, reverse=True)


@pytest.mark.parametrize(("width", "height", "mobile"), [(1400, 900, False), (390, 844, True)])
def test_screenshots_are_kept(
    page: cdp.Page, rows_url: str, width: int, height: int, mobile: bool
) -> None:
    page.viewport(width, height, mobile=mobile)
    page.open(rows_url + "/")
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / f"report-{width}.png"
    page.screenshot(target)
    assert target.read_bytes().startswith(b"\x89PNG")
    # Nothing is wider than the screen: the phone layout stacks the rows.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
