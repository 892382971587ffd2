"""Writing files that others read while we write: always whole, never half."""

from __future__ import annotations

import glob
import os
import tempfile
import time
from pathlib import Path

# A temporary file this old was left by a writer that was killed (SIGKILL runs no
# cleanup): no write of a report file or mail preview takes anywhere near as long.
STALE_AFTER_SECONDS = 600


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


def remove_stale_temporaries(path: Path, now: float | None = None) -> list[Path]:
    """Delete the temporary files of `path` that killed writers left behind."""
    cutoff = (time.time() if now is None else now) - STALE_AFTER_SECONDS
    removed = []
    for leftover in path.parent.glob(glob.escape(_temporary_prefix(path)) + "*"):
        try:
            if leftover.is_file() and leftover.stat().st_mtime < cutoff:
                leftover.unlink()
                removed.append(leftover)
        except OSError:
            continue  # gone meanwhile, or not ours to remove: never fail a write for it
    return removed


def write_atomically(path: Path, content: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=_temporary_prefix(path))
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content.encode("utf-8") if isinstance(content, str) else content)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
