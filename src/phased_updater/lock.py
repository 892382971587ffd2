"""One cycle at a time per state database, whatever started it (timer, action, person)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from phased_updater.errors import UsageError

POLL_SECONDS = 0.2


class AlreadyRunning(Exception):
    pass


@contextmanager
def exclusive(path: Path, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the lock at `path`, waiting up to `wait` seconds for whoever holds it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        # The lock sits beside the state database: a directory the run cannot write.
        raise UsageError(f"cycle lock {str(path)!r}: {error.strerror}") from None
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise AlreadyRunning(
                        f"another phased-updater cycle holds {path}; try again when it has finished"
                    ) from None
                time.sleep(POLL_SECONDS)
        os.ftruncate(handle, 0)
        os.write(handle, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(handle)
