"""Overrides from a git branch, with Debian's git: served by `git daemon` on loopback or
read through a file:// URL, committed by two authors, fetched by real cycles."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from phased_updater.cli import main
from tests.doubles.errortracker import ErrorTrackerDouble
from tests.doubles.launchpad import LaunchpadDouble
from tests.doubles.loopback import LoopbackServer, Request, Response
from tests.doubles.scenarios import (
    CRASHING_UPDATE,
    DEMO_NOW,
    OVERRIDDEN_UPDATE,
    REGRESSING_UPDATE,
    demo_errors,
)
from tests.functional.engine import Engine
from tests.functional.git_remote import (
    GitDaemon,
    OverridesRepository,
    SilentServer,
    needs_git,
    quiet_git_environment,
)

pytestmark = needs_git

ALICE, BOB = "Alice Archive", "Bob Reviewer"
GIZMO = (
    f"gizmo, {OVERRIDDEN_UPDATE.version}, https://errors.ubuntu.com/bucket/?id=gizmo_render_frame"
)
CRYPTKIT = f"cryptkit, {REGRESSING_UPDATE.version}, increased-rate"
LIBFOO_URL = "https://errors.ubuntu.com/problem/4f6c1a0d2e9b8c7a6f5e4d3c2b1a09f8e7d6c5b4"
HEADER = "# source, version, problem URL | increased-rate\n"


def at(day: int) -> datetime:
    return datetime(2025, 3, day, 9, 30, tzinfo=UTC)


@pytest.fixture
def engine(
    launchpad: LaunchpadDouble,
    errortracker: ErrorTrackerDouble,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Engine:
    # The engine's own git commands see no developer's configuration either.
    for name, value in quiet_git_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    demo_errors(errortracker)
    home = tmp_path / "engine"
    home.mkdir()
    return Engine(launchpad, errortracker, home, DEMO_NOW)


@pytest.fixture
def repo(tmp_path: Path) -> OverridesRepository:
    return OverridesRepository(tmp_path / "remote")


@pytest.fixture
def daemon(repo: OverridesRepository) -> Iterator[GitDaemon]:
    with GitDaemon(repo.root) as served:
        yield served


def states(engine: Engine) -> dict[str, str]:
    return {p["source"]: p["state"] for p in engine.report()["packages"]}


def overrides(engine: Engine) -> dict[str, Any]:
    found: dict[str, Any] = engine.report()["overrides"]
    return found


def origins(engine: Engine) -> dict[str, tuple[str, str | None, str | None]]:
    """Per source package in force: (kind, by, commit) of its override."""
    return {
        o["source"]: (o["origin"]["kind"], o["origin"]["by"], o["origin"]["commit"])
        for o in overrides(engine)["in_force"]
    }


def html(engine: Engine) -> str:
    return (engine.report_dir / "index.html").read_text(encoding="utf-8")


def test_the_branch_and_the_actions_apply_together_each_line_with_its_origin(
    engine: Engine, repo: OverridesRepository, daemon: GitDaemon
) -> None:
    first = repo.commit(HEADER + GIZMO + "\n", ALICE, at(1), "gizmo: the crash predates it")
    second = repo.commit(
        HEADER + GIZMO + "\n" + CRYPTKIT + "\n", BOB, at(5), "cryptkit: a library's rate"
    )
    actions = engine.home / "overrides.json"
    record = {
        "source": "libfoo",
        "version": CRASHING_UPDATE.version,
        "problem": LIBFOO_URL,
        "by": "carol",
        "reason": "crash in the test harness",
        "at": "2025-03-09T08:00:00Z",
    }
    actions.write_text(json.dumps({"overrides": [record]}))

    started = time.monotonic()
    assert (
        engine.run("--overrides-git", daemon.url("overrides.git"), "--overrides", str(actions)) == 0
    )
    elapsed = time.monotonic() - started

    assert {s: states(engine)[s] for s in ("gizmo", "cryptkit", "libfoo")} == {
        "gizmo": "phasing",
        "cryptkit": "phasing",
        "libfoo": "phasing",
    }
    git, local = overrides(engine)["sources"]
    assert (git["kind"], git["commit"], git["branch"], git["fetch_failed"]) == (
        "git",
        second,
        "main",
        None,
    )
    assert (local["kind"], local["count"]) == ("actions", 1)
    assert origins(engine) == {
        "gizmo": ("git", ALICE, first),
        "cryptkit": ("git", BOB, second),
        "libfoo": ("action", "carol", None),
    }
    page = html(engine)
    # The overridden problem links to its override's row, which names its origin.
    assert '<a class="tag over" href="#override-1"' in page
    assert f"added in commit {first[:12]} by {ALICE} on 2025-03-01" in page
    assert "added by carol with add-override on 2025-03-09: crash in the test harness" in page
    assert elapsed < 60


def test_a_line_added_in_a_later_commit_takes_effect_in_the_next_run(
    engine: Engine, repo: OverridesRepository
) -> None:
    repo.commit(HEADER + GIZMO + "\n", ALICE, at(1), "gizmo")
    assert engine.run("--overrides-git", repo.file_url) == 0
    assert states(engine)["cryptkit"] == "stopped"

    added = repo.commit(HEADER + GIZMO + "\n" + CRYPTKIT + "\n", BOB, at(10), "cryptkit")
    engine.later(6)
    assert engine.run("--overrides-git", repo.file_url) == 0

    assert engine.package("cryptkit")["action"] == "resume"
    assert overrides(engine)["sources"][0]["commit"] == added
    assert origins(engine)["cryptkit"] == ("git", BOB, added)


def test_a_failed_fetch_uses_the_last_good_copy_says_so_and_exits_1(
    engine: Engine,
    repo: OverridesRepository,
    daemon: GitDaemon,
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = repo.commit(HEADER + GIZMO + "\n", ALICE, at(1), "gizmo")
    url = daemon.url("overrides.git")
    assert engine.run("--overrides-git", url) == 0
    daemon.stop()
    engine.later(3)

    with caplog.at_level(logging.ERROR):
        assert engine.run("--overrides-git", url) == 1

    failure = f"overrides as of commit {good[:12]}, 3h old: fetch failed: "
    assert any(f.startswith(failure) for f in engine.report()["failures"])
    assert failure in html(engine)
    assert "cannot fetch" in caplog.text
    source = overrides(engine)["sources"][0]
    assert source["commit"] == good and source["fetch_failed"]
    # Still applied: gizmo's crash stays overridden, and it keeps phasing.
    gizmo = engine.package("gizmo")
    assert gizmo["state"] == "phasing"
    assert [p["overridden"] for p in gizmo["problems"]] == [True]


def test_with_no_good_copy_a_failed_fetch_runs_no_cycle(
    engine: Engine, repo: OverridesRepository, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = GitDaemon(repo.root).start()
    url = daemon.url("overrides.git")
    daemon.stop()  # nothing listens there now

    with caplog.at_level(logging.ERROR):
        assert engine.run("--overrides-git", url) == 1

    assert "no earlier copy exists" in caplog.text
    assert engine.posts() == []
    assert not (engine.home / "state.sqlite3").exists()


def test_a_force_pushed_branch_is_followed_and_the_report_says_the_history_changed(
    engine: Engine, repo: OverridesRepository, daemon: GitDaemon
) -> None:
    repo.commit(HEADER + GIZMO + "\n", ALICE, at(1), "gizmo")
    dropped = repo.commit(HEADER + GIZMO + "\n" + CRYPTKIT + "\n", BOB, at(5), "cryptkit")
    url = daemon.url("overrides.git")
    assert engine.run("--overrides-git", url) == 0
    assert states(engine)["gizmo"] == "phasing"

    repo.rewrite(keep=1)
    rewritten = repo.commit(HEADER + CRYPTKIT + "\n", BOB, at(6), "cryptkit only")
    engine.later(6)
    assert engine.run("--overrides-git", url) == 0

    source = overrides(engine)["sources"][0]
    assert source["commit"] == rewritten
    assert dropped[:12] in source["history_changed"]
    assert "force-pushed or rewritten" in source["history_changed"]
    assert "force-pushed or rewritten" in html(engine)
    assert states(engine)["gizmo"] == "stopped"  # its line is gone
    assert states(engine)["cryptkit"] == "phasing"


SLOPPY = (
    HEADER
    + GIZMO
    + "\n"
    + "gizmo, only-two\n"
    + f"libfoo, 1.2-1ubuntu0.3, {LIBFOO_URL}\n"
    + GIZMO
    + "\n"
    + f"cryptkt, {REGRESSING_UPDATE.version}, increased-rate\n"
    + f"libfoo, {CRASHING_UPDATE.version}, http://example.com/foo\n"
)


def test_malformed_duplicate_and_unmatched_lines_are_shown_logged_and_checked(
    engine: Engine,
    repo: OverridesRepository,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo.commit(SLOPPY, ALICE, at(2), "a sloppy afternoon")
    with caplog.at_level(logging.WARNING):
        assert engine.run("--overrides-git", repo.file_url) == 0

    found = overrides(engine)
    [fields, url] = found["malformed"]
    assert fields["line"] == 3 and fields["reason"].startswith("expected 3 comma-separated")
    assert url["line"] == 7 and url["reason"].startswith("'http://example.com/foo' is neither")
    assert [(d["override"]["line"], d["first"]["line"]) for d in found["duplicates"]] == [(5, 2)]
    assert [(u["override"]["line"], u["hint"]) for u in found["unmatched"]] == [
        (4, f"did you mean {CRASHING_UPDATE.version}?"),
        (6, f"did you mean cryptkit {REGRESSING_UPDATE.version}?"),
    ]
    page = html(engine)
    for text in (
        "malformed",
        "repeats ",
        f"did you mean {CRASHING_UPDATE.version}?",
        f"did you mean cryptkit {REGRESSING_UPDATE.version}?",
    ):
        assert text in page
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for line in (3, 4, 5, 6, 7):
        assert any(f"line {line}" in w for w in warnings), line

    capsys.readouterr()
    check = ["overrides", "check", "--overrides-git", repo.file_url]
    state = ["--state", str(engine.home / "state.sqlite3"), "--now", engine.now.isoformat()]
    assert main([*check, *state]) == 2
    out, err = capsys.readouterr()
    assert f"{repo.file_url} line 2: {GIZMO} (added in commit" in out
    assert f"did you mean {CRASHING_UPDATE.version}?" in err
    assert "line 5" in err and "repeats" in err
    assert "3 override(s), 2 malformed line(s), 1 duplicate(s), 2 matching no update" in out


def test_a_fetch_that_hangs_is_given_up_at_the_deadline(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    silent = SilentServer()
    try:
        started = time.monotonic()
        with caplog.at_level(logging.ERROR):
            status = engine.run(
                "--overrides-git",
                f"git://127.0.0.1:{silent.port}/overrides.git",
                "--overrides-git-timeout",
                "1",
            )
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert status == 1
    assert "no answer within 1s" in caplog.text
    assert elapsed < 15


def test_the_fetch_goes_through_the_environments_proxy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[str] = []

    def proxy(request: Request) -> Response:
        seen.append(f"{request.method} {request.header('Host')}{request.path}")
        return Response(502, b"no upstream here", "text/plain")

    for name, value in quiet_git_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    with LoopbackServer(proxy) as server:
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{server.port}")
        monkeypatch.setenv("no_proxy", "")
        argv = ["overrides", "check", "--overrides-git", "http://overrides.invalid/o.git"]
        assert main([*argv, "--state", str(tmp_path / "none.sqlite3")]) == 1
    assert seen and seen[0].startswith("GET overrides.invalid/o.git/info/refs")
    assert "no earlier copy exists" in capsys.readouterr().err


def test_credentials_in_the_url_are_never_shown(
    engine: Engine, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    silent = SilentServer()
    url = f"http://sru-bot:s3cret-token@127.0.0.1:{silent.port}/o.git"
    silent.close()  # refused at once
    with caplog.at_level(logging.DEBUG):
        assert engine.run("--overrides-git", url) == 1
        assert main(["overrides", "check", "--overrides-git", url]) == 1
    captured = capsys.readouterr()
    shown = caplog.text + captured.out + captured.err
    assert "[hidden]@127.0.0.1" in shown
    assert "s3cret-token" not in shown
    assert engine.run("--overrides-git", "lp:~ubuntu-sru/+git/phased-update-overrides") == 2
    assert "expected a git URL" in capsys.readouterr().err


def test_a_run_at_a_known_commit_runs_two_git_commands_and_a_lost_file_keeps_the_copy(
    engine: Engine, repo: OverridesRepository, caplog: pytest.LogCaptureFixture
) -> None:
    good = repo.commit(HEADER + GIZMO + "\n", ALICE, at(1), "gizmo")
    with caplog.at_level(logging.INFO, logger="phased_updater.sources.git_overrides"):
        assert engine.run("--overrides-git", repo.file_url) == 0
        engine.later(1)
        assert engine.run("--overrides-git", repo.file_url) == 0
    counts = [r.getMessage() for r in caplog.records if "git commands" in r.getMessage()]
    # init, fetch, rev-parse, cat-file, blame; then fetch and rev-parse alone.
    assert [line.split("(")[1].split(",")[0] for line in counts] == [
        "5 git commands",
        "2 git commands",
    ]

    removed = repo.remove(BOB, at(8), "oops: the file is gone")
    engine.later(6)
    assert engine.run("--overrides-git", repo.file_url) == 1
    source = overrides(engine)["sources"][0]
    assert source["commit"] == good  # the last good copy, still applied
    assert source["fetch_failed"] == (
        f"no file phased-updates-overrides.txt on branch main at {removed[:12]}"
    )
    assert engine.package("gizmo")["state"] == "phasing"


def test_a_line_older_than_the_history_fetched_reads_in_or_before(
    engine: Engine, repo: OverridesRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    from phased_updater.sources import git_overrides

    monkeypatch.setattr(git_overrides, "HISTORY_DEPTH", 2)
    repo.commit(HEADER + GIZMO + "\n", ALICE, at(1), "gizmo")
    repo.commit(HEADER + GIZMO + "\n" + CRYPTKIT + "\n", BOB, at(2), "cryptkit")
    oldest_fetched = repo.commit(HEADER + GIZMO + "\n" + CRYPTKIT + "\n# x\n", BOB, at(3), "x")
    newest = repo.commit(HEADER + GIZMO + "\n" + CRYPTKIT + "\n# x\n# y\n", BOB, at(4), "y")

    assert engine.run("--overrides-git", repo.file_url) == 0

    gizmo = next(o for o in overrides(engine)["in_force"] if o["source"] == "gizmo")
    assert (gizmo["origin"]["commit"], gizmo["origin"]["boundary"]) == (oldest_fetched, True)
    assert "added in or before commit" in html(engine)
    assert overrides(engine)["sources"][0]["commit"] == newest
