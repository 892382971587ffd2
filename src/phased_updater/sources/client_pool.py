"""A bounded pool of Launchpad clients, shared by a cycle's worker threads.

A launchpadlib client must not be used by two threads at once. So each client is
checked out by one thread at a time, which also bounds the requests in flight to
Launchpad by the pool's size. What a client reads is plain data (see
`sources.launchpad`), so any client can write what another read.

Clients are created lazily and one at a time: the first fetches the WADL into the
shared on-disk cache, the others only revalidate it. `prepare` makes those a cycle
will want in the background, while the first is busy with the cycle's first reads:
the workers then start together instead of each waiting for its login in turn.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

Client = TypeVar("Client")

log = logging.getLogger(__name__)


class ClientPool(Generic[Client]):
    def __init__(self, size: int, factory: Callable[[Client | None], Client]) -> None:
        """`factory(first)` makes a client; `first` is the pool's first client, or None."""
        if size < 1:
            raise ValueError(f"a client pool needs at least one client, not {size}")
        self.size = size
        self._factory = factory
        self._clients: list[Client | None] = []
        self._busy: set[int] = set()
        self._condition = threading.Condition()
        self._creating = threading.Lock()
        self._preparing: threading.Thread | None = None

    @property
    def created(self) -> int:
        with self._condition:
            return sum(client is not None for client in self._clients)

    def _reserve(self) -> tuple[int, bool]:
        """An index this thread now owns, and whether its client must be made first."""
        with self._condition:
            while True:
                # A slot whose client failed to be made (None) is retried here too.
                for index in range(len(self._clients)):
                    if index not in self._busy:
                        self._busy.add(index)
                        return index, False
                if len(self._clients) < self.size:
                    self._clients.append(None)
                    index = len(self._clients) - 1
                    self._busy.add(index)
                    return index, True
                self._condition.wait()

    def _release(self, index: int) -> None:
        with self._condition:
            self._busy.discard(index)
            self._condition.notify_all()

    def prepare(self, count: int) -> None:
        """Make clients in the background, one at a time, until `count` exist (at most
        the pool's size). A client that cannot be made is left to be made, or to fail,
        in the thread that next needs it. `finish` waits for this."""
        wanted = min(count, self.size)
        if self._preparing is not None or self.created >= wanted:
            return

        def make() -> None:
            while self.created < wanted:
                with self._condition:
                    if len(self._clients) >= wanted:
                        return  # the others are being made by the threads that need them
                    self._clients.append(None)
                    index = len(self._clients) - 1
                    self._busy.add(index)
                try:
                    with self._creating:
                        client = self._factory(self._clients[0] if index else None)
                    with self._condition:
                        self._clients[index] = client
                except Exception as error:  # made again, and reported, when needed
                    log.debug("a Launchpad client made ahead failed: %s", error)
                    return
                finally:
                    self._release(index)

        self._preparing = threading.Thread(target=make, name="clients", daemon=True)
        self._preparing.start()

    def finish(self) -> None:
        """Wait for `prepare`'s clients: nothing runs after the cycle that used them."""
        if self._preparing is not None:
            self._preparing.join()

    @contextmanager
    def checkout(self) -> Iterator[tuple[int, Client]]:
        index, make = self._reserve()
        try:
            client = self._clients[index]
            if make or client is None:
                with self._creating:
                    client = self._factory(self._clients[0] if index else None)
                with self._condition:
                    self._clients[index] = client
            yield index, client
        finally:
            self._release(index)
