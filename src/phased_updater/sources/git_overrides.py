"""Overrides kept in a git branch, as the SRU team keeps them: fetched with git each run.

Each run fetches the branch with the system's `git` into a bare repository of its own
(under the state directory): shallow (`HISTORY_DEPTH` commits), no tags, within one
deadline for every git command of the fetch, with the environment's proxy settings
(git reads `http_proxy`, `https_proxy` and `no_proxy` itself). The URL reaches git
through its environment (`GIT_CONFIG_*`), never the command line, so credentials in
it are not shown to other users by `ps`; every message git prints is redacted.

At a commit not seen before, the file is read (`git cat-file`) and every line's origin
computed once (`git blame --porcelain`: the commit that introduced it, its author,
date and subject) and kept in `snapshots/<commit>.json`. A later run at the same
commit runs two git commands (fetch, rev-parse). The commit last read successfully is
the last good copy: when a fetch fails, it is used instead (`GitCopy.fetch_failed`
says why), and with no good copy at all `NoCopy` is raised, so that a run never goes
on with no overrides because a fetch failed. A branch force-pushed or rewritten is
followed; `GitCopy.history_changed` says so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from phased_updater.atomic_write import write_atomically
from phased_updater.duration import format_timestamp, parse_timestamp
from phased_updater.errors import error_text
from phased_updater.override_feedback import SourceStatus
from phased_updater.overrides import Origin, Overrides
from phased_updater.text import one_line, redact

log = logging.getLogger(__name__)

# Commits of history fetched: enough for the origin of every line added in the last
# 200 commits; an older line is shown as introduced "at or before" the oldest one.
HISTORY_DEPTH = 200
# Where the fetched branch is kept in the local repository.
TIP = "refs/phased-updater/tip"
# Git's own messages are flattened to one line of at most this many characters.
MAX_MESSAGE = 300
_BLAME_HEADER = re.compile(r"([0-9a-f]{40}|[0-9a-f]{64}) [0-9]+ ([0-9]+)(?: [0-9]+)?")


class GitFailure(Exception):
    """A git command failed or ran out of time; the message is fit to show."""


class NoCopy(Exception):
    """The fetch failed and no earlier copy exists: the run must not go on without it."""


@dataclass(frozen=True)
class GitSource:
    url: str
    branch: str
    path: str

    @property
    def shown_url(self) -> str:
        return redact(self.url)

    @property
    def key(self) -> str:
        """The local directory's name: one per repository, branch and file."""
        text = "\0".join((self.url, self.branch, self.path))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class GitCopy:
    """The overrides file at one commit, with the origin of each of its lines."""

    source: GitSource
    commit: str
    text: str
    origins: dict[int, Origin]  # by line number
    fetched_at: datetime  # when this commit was fetched
    fetch_failed: str | None = None  # this run's fetch failed: this is the last good copy
    history_changed: str | None = None

    def overrides(self) -> Overrides:
        return Overrides.parse(self.text, self.source.shown_url, self.origins.get)

    def status(self, count: int) -> SourceStatus:
        """`count`: how many overrides were read from it."""
        return SourceStatus(
            kind="git",
            where=self.source.shown_url,
            branch=self.source.branch,
            path=self.source.path,
            commit=self.commit,
            fetched_at=self.fetched_at,
            fetch_failed=self.fetch_failed,
            history_changed=self.history_changed,
            count=count,
        )


def _message(stderr: bytes) -> str:
    """Git's message from its first `fatal:` or `error:` line on (else its last line),
    redacted, on one line."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    first = next(
        (i for i, line in enumerate(lines) if line.startswith(("fatal:", "error:"))),
        max(len(lines) - 1, 0),
    )
    text = " ".join(lines[first:]).removeprefix("fatal: ").removeprefix("error: ")
    return redact(one_line(text or "no message", MAX_MESSAGE))


class _Git:
    """git commands on one local repository, all within one deadline."""

    def __init__(self, repository: Path, url: str, deadline: float, timeout: float) -> None:
        self.repository = repository
        self.deadline = deadline
        self.timeout = timeout
        self.commands = 0
        executable = shutil.which("git")
        if executable is None:
            raise GitFailure("git is not installed (install Debian's git package)")
        self.executable = executable
        self.env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",  # never wait for a password
            "LC_ALL": "C",
            # The URL as the remote's config, so it is never on a command line.
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "remote.origin.url",
            "GIT_CONFIG_VALUE_0": url,
        }
        self.env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")

    def run(self, *args: str, check: bool = True) -> tuple[int, str]:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise GitFailure(f"no answer within {self.timeout:g}s")
        self.commands += 1
        argv = [self.executable, f"--git-dir={self.repository}", *args]
        # Its own session, so that a deadline kills git's helpers (remote-https, ssh) too.
        process = subprocess.Popen(  # noqa: S603 - fixed argv, never a shell
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=remaining)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise GitFailure(f"no answer within {self.timeout:g}s") from None
        if check and process.returncode != 0:
            raise GitFailure(_message(stderr))
        return process.returncode, stdout.decode("utf-8", "replace")

    def ensure_repository(self) -> None:
        if (self.repository / "HEAD").is_file():
            return
        shutil.rmtree(self.repository, ignore_errors=True)  # a half-made one
        self.repository.parent.mkdir(parents=True, exist_ok=True)
        self.run("init", "--bare", "--quiet", str(self.repository))

    def shallow_commits(self) -> set[str]:
        """The commits where the fetched history ends (their parents were not fetched)."""
        try:
            return set((self.repository / "shallow").read_text().split())
        except FileNotFoundError:
            return set()


def _parse_blame(output: str) -> tuple[dict[str, dict[str, Any]], dict[int, str]]:
    """`git blame --porcelain`: each commit's author, time and subject; each line's commit."""
    commits: dict[str, dict[str, Any]] = {}
    lines: dict[int, str] = {}
    current, final = "", 0
    for line in output.splitlines():
        if line.startswith("\t"):
            lines[final] = current
            continue
        header = _BLAME_HEADER.fullmatch(line)
        if header:
            current, final = header.group(1), int(header.group(2))
            commits.setdefault(current, {})
            continue
        name, _, value = line.partition(" ")
        if name in ("author", "author-time", "summary"):
            commits[current][name] = value
    return commits, lines


@dataclass(frozen=True)
class _Snapshot:
    text: str
    origins: dict[int, Origin]


def _snapshot_path(home: Path, commit: str) -> Path:
    return home / "snapshots" / f"{commit}.json"


def _load_snapshot(home: Path, commit: str, where: str) -> _Snapshot | None:
    try:
        data = json.loads(_snapshot_path(home, commit).read_text(encoding="utf-8"))
        text = data["text"]
        commits, lines, shallow = data["commits"], data["lines"], set(data["shallow"])
        origins = {}
        for number, sha in lines.items():
            meta = commits[sha]
            origins[int(number)] = Origin(
                "git",
                where,
                by=meta.get("author"),
                at=datetime.fromtimestamp(int(meta["author-time"]), UTC)
                if "author-time" in meta
                else None,
                reason=meta.get("summary"),
                commit=sha,
                boundary=sha in shallow,
            )
        return _Snapshot(str(text), origins)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing or damaged: computed again


def _make_snapshot(home: Path, git: _Git, source: GitSource, commit: str) -> _Snapshot:
    """The file at `commit` and the origin of each line, computed once per commit."""
    snapshot = _load_snapshot(home, commit, source.shown_url)
    if snapshot is not None:
        return snapshot
    status, text = git.run("cat-file", "blob", f"{commit}:{source.path}", check=False)
    if status != 0:
        raise GitFailure(f"no file {source.path} on branch {source.branch} at {commit[:12]}")
    _, blame = git.run("blame", "--porcelain", "--root", commit, "--", source.path)
    commits, lines = _parse_blame(blame)
    document = {
        "text": text,
        "commits": commits,
        "lines": {str(number): sha for number, sha in lines.items()},
        "shallow": sorted(git.shallow_commits() & set(commits)),
    }
    path = _snapshot_path(home, commit)
    write_atomically(path, json.dumps(document, sort_keys=True))
    snapshot = _load_snapshot(home, commit, source.shown_url)
    if snapshot is None:
        raise GitFailure(f"cannot read back {path}")
    return snapshot


@dataclass(frozen=True)
class _Good:
    commit: str
    fetched_at: datetime


def _read_good(home: Path) -> _Good | None:
    try:
        data = json.loads((home / "good.json").read_text(encoding="utf-8"))
        return _Good(str(data["commit"]), parse_timestamp(str(data["fetched_at"])))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def fetch(source: GitSource, cache: Path, now: datetime, timeout: float) -> GitCopy:
    """The overrides file of `source`'s branch as fetched now, or the last good copy.

    `cache` holds the local repository and what earlier runs read; `now` is the run's
    time (when this copy was fetched); `timeout` bounds every git command together.
    Raises NoCopy when the fetch fails and no earlier copy exists.
    """
    home = cache / source.key
    good = _read_good(home)
    started = time.monotonic()
    git: _Git | None = None
    try:
        git = _Git(home / "repository.git", source.url, started + timeout, timeout)
        git.ensure_repository()
        git.run(
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-recurse-submodules",
            "--no-write-fetch-head",
            f"--depth={HISTORY_DEPTH}",
            "--force",
            "origin",
            f"+refs/heads/{source.branch}:{TIP}",
        )
        _, commit = git.run("rev-parse", "--verify", f"{TIP}^{{commit}}")
        commit = commit.strip()
        snapshot = _make_snapshot(home, git, source, commit)
    except (GitFailure, OSError) as error:
        # Git's own message is redacted already; anything else goes through error_text.
        failure = str(error) if isinstance(error, GitFailure) else error_text(error)
        shown = f"{source.shown_url} branch {source.branch}"
        last = _load_snapshot(home, good.commit, source.shown_url) if good else None
        if good is None or last is None:
            raise NoCopy(
                f"overrides: cannot fetch {shown} ({failure}), and no earlier copy exists"
            ) from None
        log.error("overrides: cannot fetch %s: %s; using commit %s", shown, failure, good.commit)
        return GitCopy(
            source,
            good.commit,
            last.text,
            last.origins,
            good.fetched_at,
            fetch_failed=failure,
        )
    changed = None
    if good is not None and good.commit != commit:
        status, _ = git.run("merge-base", "--is-ancestor", good.commit, commit, check=False)
        if status == 1:
            changed = (
                f"the history of branch {source.branch} changed: {good.commit[:12]}, read by an"
                " earlier run, is no longer in it (force-pushed or rewritten)"
            )
    try:
        write_atomically(
            home / "good.json",
            json.dumps({"commit": commit, "fetched_at": format_timestamp(now)}, sort_keys=True),
        )
    except OSError as error:
        # This copy is good for this run; the next failure falls back to the one before.
        log.error("overrides: cannot record the good copy %s: %s", commit[:12], error)
    else:
        for old in _snapshot_path(home, commit).parent.glob("*.json"):
            if old.stem != commit:
                old.unlink(missing_ok=True)  # only the good copy is ever read again
    log.info(
        "overrides: %s branch %s at %s (%d git commands, %.2fs)",
        source.shown_url,
        source.branch,
        commit[:12],
        git.commands,
        time.monotonic() - started,
    )
    return GitCopy(
        source,
        commit,
        snapshot.text,
        snapshot.origins,
        now,
        history_changed=changed,
    )
