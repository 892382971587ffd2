"""A bounded pool of Launchpad clients, shared by a cycle's worker threads.

A launchpadlib client must not be used by two threads at once. So each client is
checked out by one thread at a time, which also bounds the requests in flight to
Launchpad by the pool's size. What a client reads is plain data (see
`sources.launchpad`), so any client can write what another read.

Clients are created lazily and one at a time: the first fetches the WADL into the
shared on-disk cache, the others only revalidate it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

Client = TypeVar("Client")


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
