"""The overrides panel of the report, and the links from overridden problems to it."""

from __future__ import annotations

from datetime import timedelta

from phased_updater.override_feedback import HowToOverride, OverridesReport, SourceStatus
from phased_updater.overrides import Origin, Overrides
from phased_updater.report import document
from phased_updater.report import page as report_html
from phased_updater.report import view as report_view
from phased_updater.report.input import ReportInput
from phased_updater.store import RunRecord, Store
from tests.unit import report_db
from tests.unit.report_db import GIZMO_CRASH_URL, NOW
from tests.unit.test_report_html import Page

REPOSITORY = "https://sru-bot:t0ken@git.example/phased-update-overrides"
COMMAND = "juju run app/leader add-override source={source} version={version} problem={problem}"


def with_overrides(store: Store, run: RunRecord, how: HowToOverride) -> RunRecord:
    text = (
        f"gizmo, 1.0-2ubuntu0.1, {GIZMO_CRASH_URL}\n"
        "gizmo, <em>v9</em>, javascript:alert(1)\n"
        "libfoo, 1.2-1ubuntu0.3, increased-rate\n"
    )
    origin = Origin(
        "git",
        "https://[hidden]@git.example/phased-update-overrides",
        "Eve <eve@example.com>",
        NOW - timedelta(days=1),
        "<i>gizmo</i>: old crash",
        "f" * 40,
    )
    overrides = Overrides.parse(text, origin.where, lambda _: origin)
    source = SourceStatus(
        "git",
        origin.where,
        "main",
        "phased-updates-overrides.txt",
        "a" * 40,
        NOW - timedelta(hours=3),
        fetch_failed="unable to access 'https://[hidden]@git.example/': timeout",
        count=2,
    )
    updates = [(r.source, r.version) for r in store.decisions_for_run(run.id)]
    report = OverridesReport.build(
        overrides, [source], updates, set(), NOW - timedelta(days=90), how
    )
    store.note_run(run.id, "overrides", report.to_json())
    found = store.run(run.id)
    assert found is not None
    return found


def test_the_panel_lists_sources_lines_and_overrides_and_problems_link_to_them(
    store: Store,
) -> None:
    _, run = report_db.realistic(store)
    shown = REPOSITORY.replace("sru-bot:t0ken", "[hidden]")
    how = HowToOverride(shown, "main", "phased-updates-overrides.txt", COMMAND)
    run = with_overrides(store, run, how)
    data = ReportInput.load(store, run)
    html = report_html.render(report_view.build(data))
    page = Page(html)

    row = page.by_id("override-1")
    assert row is not None
    links = [a for a in page.all("a") if a.get("href") == "#override-1"]
    assert links and links[0].get("class") == "tag over"
    assert str(links[0].get("title")).startswith(f"added in commit {'f' * 12} by Eve")
    plain = page.plain
    assert "overrides as of commit aaaaaaaaaaaa, 3h old: fetch failed: unable to access" in plain
    assert "malformed" in plain and "did you mean 1.2-1ubuntu0.2?" in plain
    assert "propose a change to phased-updates-overrides.txt on branch main of" in plain
    assert "In an emergency the SRU team can also run juju run app/leader add-override" in plain
    # Outside text is text: markup escaped, no javascript: link, no address or token.
    assert "<em>v9</em>" not in html and "<i>gizmo</i>" not in html
    assert "javascript:" not in " ".join(str(a.get("href")) for a in page.all("a"))
    assert "eve@example.com" not in html and "t0ken" not in html


def test_the_json_carries_the_same_redacted(store: Store) -> None:
    _, run = report_db.realistic(store)
    run = with_overrides(store, run, HowToOverride(command=COMMAND))
    built = document.build_from(ReportInput.load(store, run))
    rendered = document.render(built)

    overrides = built["overrides"]
    assert [o["source"] for o in overrides["in_force"]] == ["gizmo"]
    assert overrides["in_force"][0]["origin"]["by"] == "Eve <[address hidden]>"
    assert [e["line"] for e in overrides["malformed"]] == [2]
    assert [u["hint"] for u in overrides["unmatched"]] == ["did you mean 1.2-1ubuntu0.2?"]
    assert "eve@example.com" not in rendered


def test_a_run_recorded_before_overrides_were_kept_has_no_panel(
    store: Store, last_run: RunRecord
) -> None:
    data = ReportInput.load(store, last_run)
    assert data.overrides is None
    assert 'id="overrides"' not in report_html.render(report_view.build(data))
    assert document.build_from(data)["overrides"] is None


def test_the_steps_for_current_stops_use_the_deployments_command(store: Store) -> None:
    _, run = report_db.realistic(store)
    run = with_overrides(store, run, HowToOverride(command=COMMAND))
    panel = report_view.build(ReportInput.load(store, run)).overrides
    assert panel is not None
    assert panel.request == "ask the SRU team (ubuntu-sru) for an override. They would run:"
    assert panel.steps
    assert all(step.startswith("juju run app/leader add-override source=") for step in panel.steps)
    assert panel.emergency is None
