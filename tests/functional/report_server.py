"""A `phased-updater serve` server run in a thread for a test, and stopped cleanly."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def running(server: Any) -> Iterator[int]:
    """Run a server made by `commands.serve.create`; yields its port."""
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        # Closed from inside its own loop, which then ends: closing it from this
        # thread would pull sockets from under a poll() in progress.
        try:
            server.trigger.pull_trigger(server.close)
        except OSError:
            # The loop already ended and closed its trigger (seen under load): close
            # what is left from here, nothing polls it any more.
            server.close()
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()
        assert not thread.is_alive()
