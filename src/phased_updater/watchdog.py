"""One watchdog thread that cuts requests short at their deadline.

A socket timeout bounds one read; a peer that trickles a byte a second never trips it.
`WATCHDOG.guard(seconds, connections)` gives a piece of work one deadline: past it the
watchdog shuts down the socket (`.sock`) of every connection in the list, again until
the work ends, so the blocked read fails at once with an OSError. The list may grow
while the work runs (a connection made on the way joins it).

Used by the Launchpad and Error Tracker clients (sources/deadline.py) and the SMTP relay.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# How often the watchdog looks, and so how late past its deadline a request may end.
POLL_SECONDS = 0.1


def _shut(sock: Any) -> None:
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already closed: nothing left to wake
            sock.shutdown(socket.SHUT_RDWR)


class DeadlinePassed(TimeoutError):
    """The watchdog cut a piece of work short at its deadline.

    A TimeoutError, so every caller that handles a socket timeout handles it too; its
    text says what happened ("no complete answer within 2 s") instead of whatever the
    cut socket made the library raise (IncompleteRead, "connection unexpectedly closed").
    """


class Guard:
    """One piece of work's deadline; `expired` once the watchdog has cut it."""

    __slots__ = ("connections", "ends_at", "expired", "seconds")

    def __init__(self, seconds: float, connections: list[Any]) -> None:
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds
        self.connections = connections
        self.expired = False

    def passed(self) -> DeadlinePassed:
        return DeadlinePassed(f"no complete answer within {self.seconds:g} s")


class Watchdog:
    """Shuts down the sockets of requests past their deadline, again until they end."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._guards: dict[int, Guard] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self.expired = 0  # how many times it cut a request short

    @contextmanager
    def guard(self, seconds: float, connections: list[Any]) -> Iterator[Guard]:
        """Run the body with a deadline `seconds` away; cut `connections` past it.

        An exception from a body that was cut short becomes DeadlinePassed; a body
        that handles its own errors can ask the yielded Guard whether it was cut.
        """
        handle = next(self._ids)
        guard = Guard(seconds, connections)
        with self._condition:
            self._guards[handle] = guard
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="request-deadlines", daemon=True
                )
                self._thread.start()
            self._condition.notify()
        try:
            yield guard
        except Exception as error:
            if guard.expired and not isinstance(error, DeadlinePassed):
                raise guard.passed() from error
            raise
        finally:
            with self._condition:
                del self._guards[handle]

    def _watch(self) -> None:
        while True:
            with self._condition:
                while not self._guards:
                    self._condition.wait()
                now = time.monotonic()
                late = [guard for guard in self._guards.values() if guard.ends_at <= now]
                for guard in late:
                    if not guard.expired:
                        self.expired += 1
                    guard.expired = True
                cut = [list(guard.connections) for guard in late]
            for connections in cut:
                for connection in connections:
                    _shut(getattr(connection, "sock", None))
            time.sleep(POLL_SECONDS)


WATCHDOG = Watchdog()
