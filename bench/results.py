"""bench/RESULTS.md: each benchmark rewrites its own section, with the machine it ran on.

A section lies between `<!-- NAME:begin -->` and `<!-- NAME:end -->`; the rest of the
file (the other benchmark's section, prose written by people) is left as it is.
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from phased_updater.atomic_write import write_atomically

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TITLE = (
    "# Benchmark results\n\nWritten by `make bench` (bench/cycle.py, bench/report.py and"
    " bench/report_browser.py).\n"
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    """The 1-minute load average: other work on the box skews every timing."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def machine() -> str:
    """One line naming the machine: what a reader needs to compare their numbers."""
    return (
        f"{os.cpu_count()} CPU(s) (nproc), {cpu_model()}, Python {platform.python_version()},"
        f" {platform.system()} {platform.release()}, load average {load_average()}"
    )


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def update_section(name: str, body: str, path: Path = RESULTS) -> None:
    """Replace section `name` of the results file with `body` (added if missing)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else TITLE
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    write_atomically(path, text)
