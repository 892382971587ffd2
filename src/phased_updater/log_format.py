"""How the engine's log reads: one line per record, with journald's priorities under systemd.

Under systemd (`JOURNAL_STREAM` set: stderr goes to the journal) every line starts
with its syslog priority in sd-daemon's `<N>` prefix, so that `journalctl -p warning`
shows the warnings and errors, and carries no timestamp of its own (the journal
stamps each line). On a terminal a line starts with the time and the level name.

Every record is one line: its message is flattened, and an exception is named by
`errors.error_text` (the status and a short reason) with where it was raised,
never by its `str()`, which for launchpadlib's HTTPError is every response header
and the whole body. At `--log-level debug` the stack follows, frame by frame (file,
line and function only), each on a line of its own at debug priority.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TextIO

from phased_updater.errors import error_text
from phased_updater.text import one_line

LEVELS = ("debug", "info", "warning", "error")
DEFAULT_LEVEL = "info"
# sd-daemon(3): <3> SD_ERR, <4> SD_WARNING, <6> SD_INFO, <7> SD_DEBUG.
PRIORITIES = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}
# A line longer than this is cut: no record is worth a screenful.
MAX_LINE = 4000


def priority(levelno: int) -> int:
    """The syslog priority of a logging level: the nearest named level at or above it."""
    for level in sorted(PRIORITIES):
        if levelno <= level:
            return PRIORITIES[level]
    return PRIORITIES[logging.CRITICAL]


def _raised_at(tb: TracebackType | None) -> str:
    frames = traceback.extract_tb(tb)
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {Path(last.filename).name}:{last.lineno} in {last.name})"


class OneLineFormatter(logging.Formatter):
    """One line per record; `journal` gives the `<N>` prefix instead of a timestamp."""

    def __init__(self, *, journal: bool, stack: bool = False) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.journal = journal
        self.stack = stack

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        tb: TracebackType | None = None
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            tb = record.exc_info[2]
            text = f"{text}: {error_text(error)}{_raised_at(tb)}"
        text = one_line(text, MAX_LINE)
        if self.journal:
            line = f"<{priority(record.levelno)}>{record.name}: {text}"
        else:
            line = f"{self.formatTime(record)} {record.levelname} {record.name}: {text}"
        if self.stack and tb is not None:
            prefix = f"<{PRIORITIES[logging.DEBUG]}>" if self.journal else ""
            for frame in traceback.extract_tb(tb):
                where = f"{frame.filename}:{frame.lineno} in {frame.name}"
                line += f"\n{prefix}{record.name}:   at {one_line(where, 500)}"
        return line


class EngineHandler(logging.StreamHandler[TextIO]):
    """The handler `configure` installs, told apart from any other on the root logger."""


def configure(
    level: str = DEFAULT_LEVEL,
    environ: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
) -> None:
    """Send the log to `stream` (stderr) at `level`; called once per command.

    Replaces the handler an earlier call installed (tests run many commands in one
    process) and leaves any other alone.
    """
    if level not in LEVELS:
        raise ValueError(f"log level {level!r}: expected one of {', '.join(LEVELS)}")
    environment = environ if environ is not None else os.environ
    handler = EngineHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(
        OneLineFormatter(journal=bool(environment.get("JOURNAL_STREAM")), stack=level == "debug")
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, EngineHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
