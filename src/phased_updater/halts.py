"""Manual halts: updates a person stopped, which the engine never resumes by itself.

The file is JSON, `{"halts": [{"series", "source", "version", "reason", "by", "at"}]}`.
Unlike the overrides file, a malformed halts file stops the run (exit 2): ignoring a
halt would let the engine resume an update that a person deliberately stopped.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from phased_updater.debian import check_source_name, check_version
from phased_updater.errors import UsageError
from phased_updater.model import Halt

_FIELDS = ("series", "source", "version", "reason", "by", "at")


def _halt(index: int, item: Any) -> Halt:
    if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in _FIELDS):
        raise ValueError(f"entry {index} needs the string fields {', '.join(_FIELDS)}")
    check_source_name(item["source"])
    check_version(item["version"])
    at = datetime.fromisoformat(item["at"])
    return Halt(
        series=item["series"],
        source=item["source"],
        version=item["version"],
        reason=item["reason"],
        by=item["by"],
        at=at if at.tzinfo else at.replace(tzinfo=UTC),
    )


def parse_halts(text: str) -> dict[tuple[str, str, str], Halt]:
    data = json.loads(text) if text.strip() else {"halts": []}
    if not isinstance(data, dict) or not isinstance(data.get("halts"), list):
        raise ValueError('expected an object {"halts": [...]}')
    halts = [_halt(i, item) for i, item in enumerate(data["halts"])]
    return {(h.series, h.source, h.version): h for h in halts}


def load_halts(path: Path | None) -> dict[tuple[str, str, str], Halt]:
    if path is None or not path.exists():
        return {}
    try:
        return parse_halts(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise UsageError(f"halts file {str(path)!r}: {error}") from None


def save_halts(path: Path, halts: dict[tuple[str, str, str], Halt]) -> None:
    """Replace the file atomically, so a reader never sees half a list."""
    entries = [
        {**asdict(h), "at": h.at.astimezone(UTC).isoformat(timespec="seconds")}
        for h in sorted(halts.values(), key=lambda h: (h.series, h.source, h.version))
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".halts-")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump({"halts": entries}, stream, indent=2)
        stream.write("\n")
    os.replace(temporary, path)
