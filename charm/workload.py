"""Every system call the charm makes: apt, users, files, systemd, running the engine.

The charm talks to the `Workload` protocol only; tests substitute a fake that records
calls and writes under a temporary directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from layout import SYSTEM_USER, Layout
from status_summary import LastRun

logger = logging.getLogger(__name__)

# Ubuntu's packages for the engine's dependencies (pyproject.toml lists the same five),
# and git, which fetches the overrides' repository. They are upgraded by
# unattended-upgrades, not by upgrade-charm, so a charm upgrade never swaps a library
# under a running cycle.
DEBIAN_PACKAGES = (
    "python3-launchpadlib",
    "python3-requests",
    "python3-jinja2",
    "python3-waitress",
    "python3-prometheus-client",
    "git",
)


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


class Workload(Protocol):
    def ensure_packages(self, packages: Sequence[str]) -> None: ...
    def ensure_user(self, name: str, home: Path) -> None: ...
    def ensure_dir(self, path: Path, mode: int, owner: str | None) -> None: ...
    def write_file(self, path: Path, content: str, mode: int, owner: str | None) -> bool:
        """Writes atomically; False when the file already had this content, mode and owner."""
        ...

    def remove_file(self, path: Path) -> bool: ...
    def read_text(self, path: Path) -> str | None: ...
    def install_engine(self, source: Path, release: str) -> bool:
        """Copies the `phased_updater` package from `source` as `release` and makes it current."""
        ...

    def has_ipv6(self) -> bool:
        """Whether the kernel offers IPv6 (serve then listens on [::] as well)."""
        ...

    def daemon_reload(self) -> None: ...
    def enable_now(self, unit: str) -> None: ...
    def disable_now(self, unit: str) -> None: ...
    def restart(self, unit: str) -> None: ...
    def timer_next_elapse(self, timer: str) -> datetime | None: ...
    def last_run(self, service: str) -> LastRun | None: ...
    def journal_tail(self, unit: str, lines: int) -> str: ...
    def run_as_service_user(
        self, command: Sequence[str], env: Mapping[str, str]
    ) -> CommandResult: ...


def parse_next_elapse(list_timers_json: str) -> datetime | None:
    """`systemctl list-timers --output=json`: `next` is µs since the epoch, or 0/null."""
    try:
        timers = json.loads(list_timers_json)
    except json.JSONDecodeError:
        return None
    for timer in timers if isinstance(timers, list) else []:
        next_usec = timer.get("next") if isinstance(timer, dict) else None
        if isinstance(next_usec, int) and next_usec > 0:
            return datetime.fromtimestamp(next_usec / 1_000_000, tz=UTC)
    return None


def parse_last_run(systemctl_show: str) -> LastRun | None:
    """`systemctl show -p Result -p ExecMainStatus -p ExecMainExitTimestampMonotonic`."""
    values = dict(line.split("=", 1) for line in systemctl_show.splitlines() if "=" in line)
    if values.get("ExecMainExitTimestampMonotonic", "0") in ("", "0"):
        return None  # never ran since boot
    status_text = values.get("ExecMainStatus", "0")
    status = int(status_text) if status_text.isdigit() else 0
    return LastRun(succeeded=values.get("Result") == "success", exit_status=status)


def _run(command: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    logger.debug("running %s", " ".join(command))
    completed = subprocess.run(  # noqa: S603 - fixed argv, never a shell
        list(command), capture_output=True, text=True, check=False, env=env
    )
    if completed.returncode != 0:
        logger.error("%s failed (%d): %s", command[0], completed.returncode, completed.stderr)
        raise subprocess.CalledProcessError(
            completed.returncode, list(command), completed.stdout, completed.stderr
        )
    return completed.stdout


def engine_release(source: Path) -> str:
    """A release name for the engine in `source` (the folder holding `phased_updater`):
    its version and a content hash.

    The hash changes with any file, so a charm revision that fixes the engine without
    bumping its version still installs into a new directory.
    """
    package = source / "phased_updater"
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    version = "unknown"
    for line in (package / "__init__.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__"):
            version = line.split("=", 1)[1].strip().strip("\"'")
    return f"{version}-{digest.hexdigest()[:12]}"


class SystemWorkload:
    """The real unit."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def ensure_packages(self, packages: Sequence[str]) -> None:
        missing = [package for package in packages if not self._installed(package)]
        if not missing:
            return
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update", "-q"], env)
        _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env)

    @staticmethod
    def _installed(package: str) -> bool:
        completed = subprocess.run(  # noqa: S603 - an argv list, never a shell
            ["dpkg-query", "-W", "-f=${Status}", package],  # noqa: S607 - a system tool, from the hook's PATH
            capture_output=True,
            text=True,
            check=False,
        )
        return completed.stdout.endswith(" installed")

    def ensure_user(self, name: str, home: Path) -> None:
        try:
            pwd.getpwnam(name)
        except KeyError:
            _run(
                [
                    "useradd",
                    "--system",
                    "--user-group",
                    "--home-dir",
                    str(home),
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    name,
                ]
            )

    def ensure_dir(self, path: Path, mode: int, owner: str | None) -> None:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(mode)
        if owner:
            shutil.chown(path, owner, owner)

    def write_file(self, path: Path, content: str, mode: int, owner: str | None) -> bool:
        data = content.encode("utf-8")
        if path.exists() and path.read_bytes() == data and self._has_mode_owner(path, mode, owner):
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created 0600 and filled before the rename, so a secret is never world-readable.
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)
            os.chmod(temporary, mode)
            if owner:
                shutil.chown(temporary, owner, owner)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return True

    @staticmethod
    def _has_mode_owner(path: Path, mode: int, owner: str | None) -> bool:
        stat = path.stat()
        if stat.st_mode & 0o7777 != mode:
            return False
        return owner is None or stat.st_uid == pwd.getpwnam(owner).pw_uid

    def remove_file(self, path: Path) -> bool:
        if not path.exists():
            return False
        path.unlink()
        return True

    def read_text(self, path: Path) -> str | None:
        try:
            return path.read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            return None

    def install_engine(self, source: Path, release: str) -> bool:
        target = self.layout.releases / release
        if not target.exists():
            staging = Path(tempfile.mkdtemp(dir=self.layout.opt, prefix=".release-"))
            shutil.copytree(
                source / "phased_updater",
                staging / "phased_updater",
                ignore=shutil.ignore_patterns("__pycache__"),
            )
            staging.chmod(0o755)
            target.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(target)
        current = self.layout.current
        previous = Path(os.readlink(current)) if current.is_symlink() else None
        if previous == target:
            return False
        # A new symlink renamed over the old one: readers see one release or the other.
        link = current.with_name(f".current-{os.getpid()}")
        link.unlink(missing_ok=True)
        link.symlink_to(target)
        os.replace(link, current)
        # The previous release stays: a cycle started before this upgrade still runs
        # from it (the wrapper pinned it at start). Older ones go.
        for old in self.layout.releases.iterdir():
            if old not in (target, previous):
                shutil.rmtree(old, ignore_errors=True)
        return True

    def has_ipv6(self) -> bool:
        # Absent when IPv6 is disabled (ipv6.disable=1): binding [::] would then fail.
        return Path("/proc/net/if_inet6").exists()

    def daemon_reload(self) -> None:
        _run(["systemctl", "daemon-reload"])

    def enable_now(self, unit: str) -> None:
        _run(["systemctl", "enable", "--now", unit])

    def disable_now(self, unit: str) -> None:
        # Disabling a unit that is not installed is not an error here.
        subprocess.run(  # noqa: S603 - an argv list, never a shell
            ["systemctl", "disable", "--now", unit],  # noqa: S607 - a system tool, from the hook's PATH
            capture_output=True,
            check=False,
        )

    def restart(self, unit: str) -> None:
        _run(["systemctl", "restart", unit])

    # The two queries below feed the status line only: a failure shows as "unknown".
    def timer_next_elapse(self, timer: str) -> datetime | None:
        completed = subprocess.run(  # noqa: S603 - an argv list, never a shell
            ["systemctl", "list-timers", "--all", "--output=json", timer],  # noqa: S607 - a system tool, from the hook's PATH
            capture_output=True,
            text=True,
            check=False,
        )
        return parse_next_elapse(completed.stdout) if completed.returncode == 0 else None

    def last_run(self, service: str) -> LastRun | None:
        properties = ("Result", "ExecMainStatus", "ExecMainExitTimestampMonotonic")
        completed = subprocess.run(  # noqa: S603 - an argv list, never a shell
            ["systemctl", "show", service, *(f"--property={name}" for name in properties)],  # noqa: S607 - a system tool, from the hook's PATH
            capture_output=True,
            text=True,
            check=False,
        )
        return parse_last_run(completed.stdout) if completed.returncode == 0 else None

    def journal_tail(self, unit: str, lines: int) -> str:
        completed = subprocess.run(  # noqa: S603 - an argv list, never a shell
            [  # noqa: S607 - a system tool, from the hook's PATH
                "journalctl",
                *("--unit", unit, "--lines", str(lines), "--output", "short-iso"),
                *("--no-pager", "--quiet"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            return f"journalctl failed ({completed.returncode}): {completed.stderr.strip()}"
        return completed.stdout

    def run_as_service_user(self, command: Sequence[str], env: Mapping[str, str]) -> CommandResult:
        completed = subprocess.run(  # noqa: S603 - an argv list, never a shell
            ["runuser", "-u", SYSTEM_USER, "--", *command],  # noqa: S607 - a system tool, from the hook's PATH
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", **env},
        )
        return CommandResult(completed.returncode, completed.stdout, completed.stderr)
