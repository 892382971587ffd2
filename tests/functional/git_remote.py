"""A git repository of overrides, as the SRU team keeps one, served on loopback.

`OverridesRepository` is a bare repository with a working clone beside it: `commit`
writes the overrides file as one author at a given date and pushes it; `rewrite`
replaces the branch's history and force-pushes. `GitDaemon` serves a directory of
bare repositories with Debian's `git daemon` on 127.0.0.1, until `stop`.

Every git command here runs with no user or system configuration, so a developer's
~/.gitconfig changes nothing.
"""

from __future__ import annotations

import os
import selectors
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

GIT = shutil.which("git") or "/usr/bin/git"
READY_WITHIN = 20.0

needs_git = pytest.mark.skipif(
    shutil.which("git") is None, reason="Debian's git is missing: scripts/ensure-debs git"
)


def quiet_git_environment(home: Path) -> dict[str, str]:
    """The environment of every git command of the tests: no configuration of anyone's."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "LC_ALL": "C",
    }


@dataclass
class OverridesRepository:
    root: Path
    branch: str = "main"
    path: str = "phased-updates-overrides.txt"
    commits: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.env = quiet_git_environment(self.root)
        self._git(self.root, "init", "--quiet", "--bare", str(self.bare))
        self._git(self.root, "init", "--quiet", f"--initial-branch={self.branch}", str(self.work))

    @property
    def bare(self) -> Path:
        return self.root / "overrides.git"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def file_url(self) -> str:
        return f"file://{self.bare}"

    def _git(self, where: Path, *args: str, env: dict[str, str] | None = None) -> str:
        completed = subprocess.run(
            [GIT, "-C", str(where), *args],
            capture_output=True,
            text=True,
            check=False,
            env={**self.env, **(env or {})},
        )
        assert completed.returncode == 0, completed.stderr
        return completed.stdout.strip()

    def commit(self, text: str, author: str, when: datetime, message: str) -> str:
        """The file becomes `text` in a commit by `author` at `when`; pushed. Its id."""
        (self.work / self.path).write_text(text, encoding="utf-8")
        self._git(self.work, "add", self.path)
        return self._commit(author, when, message)

    def remove(self, author: str, when: datetime, message: str) -> str:
        """The file is removed from the branch in a commit; pushed. Its id."""
        self._git(self.work, "rm", "--quiet", self.path)
        return self._commit(author, when, message)

    def _commit(self, author: str, when: datetime, message: str) -> str:
        email = f"{author.split(maxsplit=1)[0].lower()}@example.com"
        stamp = when.isoformat()
        identity = {
            "GIT_AUTHOR_NAME": author,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_NAME": author,
            "GIT_COMMITTER_EMAIL": email,
            "GIT_COMMITTER_DATE": stamp,
        }
        self._git(self.work, "commit", "--quiet", "-m", message, env=identity)
        self._git(self.work, "push", "--quiet", "--force", str(self.bare), f"HEAD:{self.branch}")
        commit = self._git(self.work, "rev-parse", "HEAD")
        self.commits.append(commit)
        return commit

    def rewrite(self, keep: int) -> None:
        """Drop every commit after the first `keep`: the next `commit` force-pushes."""
        self._git(self.work, "reset", "--quiet", "--hard", self.commits[keep - 1])
        del self.commits[keep:]


class GitDaemon:
    """`git daemon` serving `base` on 127.0.0.1: `url(name)` for a repository in it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.process = subprocess.Popen(
            [
                GIT,
                "daemon",
                "--verbose",
                "--reuseaddr",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                f"--base-path={self.base}",
                "--export-all",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=quiet_git_environment(self.base),
        )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        """git daemon says "Ready to rumble" once it listens."""
        assert self.process is not None and self.process.stderr is not None
        deadline = time.monotonic() + READY_WITHIN
        seen = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stderr, selectors.EVENT_READ)
            while b"Ready to rumble" not in seen:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    raise AssertionError(f"git daemon not ready after {READY_WITHIN}s: {seen!r}")
                chunk = os.read(self.process.stderr.fileno(), 4096)
                if not chunk:
                    raise AssertionError(f"git daemon exited: {seen!r}")
                seen += chunk

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=READY_WITHIN)
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers: a fetch there hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port: int = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()
