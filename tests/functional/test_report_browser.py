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
from datetime import timedelta
from pathlib import Path

import pytest

from phased_updater import cli
from phased_updater.commands.serve import create
from phased_updater.store import Store
from tests.functional.report_server import running
from tests.unit import report_db

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]
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
    assert sorted(p.name for p in report_dir.iterdir()) == ["index.html", "phased-updates.json"]
    html = (report_dir / "index.html").read_text()
    assert '<meta name="generated" content="2026-11-02T06:00:00+00:00">' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; in foo_parse()" in html


def test_report_without_a_finished_run_says_so(tmp_path: Path) -> None:
    Store.open(tmp_path / "empty.sqlite3").close()
    arguments = ["report", "--state", str(tmp_path / "empty.sqlite3")]
    assert cli.main([*arguments, "--report-dir", str(tmp_path / "out")]) == 1
    assert not (tmp_path / "out").exists()
    assert cli.main(["report", "--state", str(tmp_path / "nope"), "--report-dir", "x"]) == 2
    assert cli.main(["report", "--state", str(tmp_path / "empty.sqlite3")]) == 2


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
