"""A stand-in for charm/workload.py's SystemWorkload: records calls, writes under a root."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from status_summary import LastRun
from workload import CommandResult


@dataclass
class FileRecord:
    content: str
    mode: int
    owner: str | None


@dataclass
class FakeWorkload:
    root: Path
    calls: list[tuple[str, ...]] = field(default_factory=list)
    files: dict[Path, FileRecord] = field(default_factory=dict)
    packages: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    enabled: set[str] = field(default_factory=set)
    current_release: str | None = None
    next_elapse: datetime | None = None
    ipv6: bool = True
    journal: str = ""
    last_run_result: LastRun | None = None
    command_results: list[CommandResult] = field(default_factory=list)
    commands: list[tuple[list[str], dict[str, str]]] = field(default_factory=list)

    def path(self, absolute: Path | str) -> Path:
        """Where the fake keeps the file the charm wrote at `absolute`."""
        return self.root / Path(absolute).relative_to("/")

    def text(self, absolute: Path | str) -> str:
        return self.path(absolute).read_text(encoding="utf-8")

    def system_calls(self) -> list[tuple[str, ...]]:
        """The calls that change the system, without file writes and status queries."""
        quiet = {
            "write_file",
            "ensure_dir",
            "remove_file",
            "read_text",
            "next",
            "last_run",
            "journal",
        }
        return [call for call in self.calls if call[0] not in quiet]

    def ensure_packages(self, packages: Sequence[str]) -> None:
        missing = [package for package in packages if package not in self.packages]
        if missing:
            self.calls.append(("apt-get install", *missing))
            self.packages.update(missing)

    def ensure_user(self, name: str, home: Path) -> None:
        if name not in self.users:
            self.calls.append(("useradd", name, str(home)))
            self.users.add(name)

    def ensure_dir(self, path: Path, mode: int, owner: str | None) -> None:
        self.calls.append(("ensure_dir", str(path), oct(mode), str(owner)))
        self.path(path).mkdir(parents=True, exist_ok=True)

    def write_file(self, path: Path, content: str, mode: int, owner: str | None) -> bool:
        self.calls.append(("write_file", str(path)))
        record = FileRecord(content, mode, owner)
        if self.files.get(path) == record:
            return False
        self.files[path] = record
        target = self.path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return True

    def remove_file(self, path: Path) -> bool:
        self.calls.append(("remove_file", str(path)))
        self.path(path).unlink(missing_ok=True)
        return self.files.pop(path, None) is not None

    def read_text(self, path: Path) -> str | None:
        target = self.path(path)
        return target.read_text(encoding="utf-8") if target.exists() else None

    def install_engine(self, source: Path, release: str) -> bool:
        if release == self.current_release:
            return False
        self.calls.append(("install_engine", str(source), release))
        self.current_release = release
        return True

    def has_ipv6(self) -> bool:
        return self.ipv6

    def daemon_reload(self) -> None:
        self.calls.append(("daemon-reload",))

    def enable_now(self, unit: str) -> None:
        self.calls.append(("enable --now", unit))
        self.enabled.add(unit)

    def disable_now(self, unit: str) -> None:
        self.calls.append(("disable --now", unit))
        self.enabled.discard(unit)

    def restart(self, unit: str) -> None:
        self.calls.append(("restart", unit))

    def timer_next_elapse(self, timer: str) -> datetime | None:
        self.calls.append(("next", timer))
        return self.next_elapse

    def last_run(self, service: str) -> LastRun | None:
        self.calls.append(("last_run", service))
        return self.last_run_result

    def journal_tail(self, unit: str, lines: int) -> str:
        self.calls.append(("journal", unit, str(lines)))
        return "\n".join(self.journal.splitlines()[-lines:])

    def run_as_service_user(self, command: Sequence[str], env: Mapping[str, str]) -> CommandResult:
        self.calls.append(("run", *command))
        self.commands.append((list(command), dict(env)))
        if self.command_results:
            return self.command_results.pop(0)
        return CommandResult(0, "", "")
