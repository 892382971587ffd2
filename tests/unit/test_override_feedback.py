"""What a run says about its overrides: unmatched lines and hints, sources, how to override."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from phased_updater.mail.message import Stop, body
from phased_updater.model import Problem, ProblemKind
from phased_updater.override_feedback import (
    HowToOverride,
    OverridesReport,
    SourceStatus,
    describe,
)
from phased_updater.overrides import Origin, Overrides

NOW = datetime(2025, 3, 10, 12, tzinfo=UTC)
URL = "https://errors.ubuntu.com/problem/" + "ab12" * 10
CRASH = Problem(ProblemKind.NEW_CRASH, URL, "f()")
RATE = Problem(ProblemKind.INCREASED_RATE, "https://errors.ubuntu.com/?package=libfoo")
PHASING = [("libfoo", "1.2-1ubuntu0.2"), ("cryptkit", "3.0.13-0ubuntu3.2")]


def git_origin(days_ago: float) -> Origin:
    return Origin("git", "git://h/o.git", "Alice", NOW - timedelta(days=days_ago), "add", "c" * 40)


def build(
    text: str,
    *,
    origin: Origin | None = None,
    decided: set[tuple[str, str]] | None = None,
) -> OverridesReport:
    overrides = Overrides.parse(text, "o.txt", lambda _: origin)
    return OverridesReport.build(
        overrides, (), PHASING, decided or set(), NOW - timedelta(days=90), HowToOverride()
    )


def test_an_override_for_an_update_of_the_run_is_in_force() -> None:
    report = build(f"libfoo, 1.2-1ubuntu0.2, {URL}\n")
    assert [o.source for o in report.in_force] == ["libfoo"]
    assert report.unmatched == () and report.other == 0


def test_a_near_version_or_name_is_hinted() -> None:
    report = build(
        f"libfoo, 1.2-1ubuntu0.3, {URL}\n"
        "cryptkt, 3.0.13-0ubuntu3.2, increased-rate\n"
        "zzz-unrelated, 1.0, increased-rate\n"
    )
    assert [(u.override.line, u.hint) for u in report.unmatched] == [
        (1, "did you mean 1.2-1ubuntu0.2?"),
        (2, "did you mean cryptkit 3.0.13-0ubuntu3.2?"),
        (3, None),
    ]
    assert report.warnings()[0] == (
        f"overrides: o.txt line 1: libfoo, 1.2-1ubuntu0.3, {URL} matches no update being"
        " phased or stopped; did you mean 1.2-1ubuntu0.2?"
    )


def test_old_lines_and_lines_for_updates_that_are_done_are_counted_not_listed() -> None:
    old = build("gone, 1.0-1, increased-rate\n", origin=git_origin(days_ago=400))
    assert (old.unmatched, old.other) == ((), 1)
    done = build("gone, 1.0-1, increased-rate\n", decided={("gone", "1.0-1")})
    assert (done.unmatched, done.other) == ((), 1)
    recent = build("gone, 1.0-1, increased-rate\n", origin=git_origin(days_ago=2))
    assert [u.override.source for u in recent.unmatched] == ["gone"]


def test_a_failed_fetch_names_the_copy_used_and_its_age() -> None:
    source = SourceStatus(
        "git",
        "git://h/o.git",
        "main",
        "o.txt",
        commit="0123456789abcdef" * 2,
        fetched_at=NOW - timedelta(hours=3, minutes=10),
        fetch_failed="unable to connect",
    )
    assert source.failure(NOW) == (
        "overrides as of commit 0123456789ab, 3h10m old: fetch failed: unable to connect"
    )
    assert SourceStatus("file", "x").failure(NOW) is None


def test_the_report_survives_the_run_summary_and_tolerates_anything_else() -> None:
    text = f"libfoo, 1.2-1ubuntu0.2, {URL}\nlibfoo, 1.2-1ubuntu0.2, {URL}/\nbad line\n"
    overrides = Overrides.parse(text, "o.txt", lambda _: git_origin(1))
    source = SourceStatus("git", "git://h/o.git", "main", "o.txt", "c" * 40, NOW, count=2)
    how = HowToOverride("git://h/o.git", "main", "o.txt", None, None)
    report = OverridesReport.build(overrides, [source], PHASING, set(), NOW, how)

    assert OverridesReport.from_json(report.to_json()) == report
    assert OverridesReport.from_json(None) is None
    assert OverridesReport.from_json({"sources": [1], "in_force": "x"}) == OverridesReport()


def test_how_to_override_in_this_deployments_terms() -> None:
    repository = HowToOverride("https://git.example/o.git", "main", "o.txt", "juju {source}", None)
    assert repository.request("ubuntu-sru").startswith(
        "propose a change to o.txt on branch main of https://git.example/o.git"
    )
    assert repository.step("libfoo", "1.2-1", RATE) == "libfoo, 1.2-1, increased-rate"

    command = HowToOverride(
        command="juju run app/leader add-override source={source} version={version}"
        " problem={problem}"
    )
    assert command.request("ubuntu-sru") == (
        "ask the SRU team (ubuntu-sru) for an override. They would run:"
    )
    bucket = Problem(ProblemKind.NEW_CRASH, "https://errors.ubuntu.com/bucket/?id=a b&c")
    assert command.step("libfoo", "1.2-1", bucket) == (
        "juju run app/leader add-override source=libfoo version=1.2-1"
        " problem='https://errors.ubuntu.com/bucket/?id=a b&c'"
    )


def test_the_stop_mail_says_how_to_override_here() -> None:
    stop = Stop("noble", "libfoo", "1.2-1ubuntu0.2", "1.2-1", 30, (CRASH,))
    how = HowToOverride("https://git.example/o.git", "main", "phased-updates-overrides.txt")

    text = body(stop, None, how)

    words = " ".join(text.split())
    assert "propose a change to phased-updates-overrides.txt on branch main of" in words
    assert f"    libfoo, 1.2-1ubuntu0.2, {URL}\n" in text
    assert "would add these lines to the overrides file" not in text
    # Without a deployment's terms: the lines for the overrides file, as before.
    assert "They would add these lines to the overrides file:" in " ".join(body(stop).split())


def test_describe_says_who_when_and_why() -> None:
    assert describe(git_origin(1)) == f"added in commit {'c' * 12} by Alice on 2025-03-09: add"
    boundary = Origin("git", "w", "Bob", NOW, None, "d" * 40, boundary=True)
    assert describe(boundary) == f"added in or before commit {'d' * 12} by Bob on 2025-03-10"
    action = Origin("action", "f.json", "carol", None, "emergency")
    assert describe(action) == "added by carol with add-override: emergency"
    assert describe(Origin("file", "f.csv")) == "" and describe(None) == ""


def test_a_held_update_is_let_through_with_the_unchecked_word() -> None:
    how = HowToOverride(
        command="juju run a/leader add-override source={source} version={version} problem={problem}"
    )
    assert how.step("newsrc", "1.0-0ubuntu1", "unchecked") == (
        "juju run a/leader add-override source=newsrc version=1.0-0ubuntu1 problem=unchecked"
    )
    assert HowToOverride().step("newsrc", "1.0-0ubuntu1", "unchecked") == (
        "newsrc, 1.0-0ubuntu1, unchecked"
    )
