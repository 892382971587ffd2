"""Limits on the clients of `phased-updater serve`, so slow ones cannot lock out the rest.

waitress closes a connection idle for `channel_timeout`, but a client that sends its
request headers a byte at a time is never idle, and 100 of them (waitress's
`connection_limit`) stop every other client, `/healthz` included. So, on top of
waitress's own limits:

- a header deadline: a connection that has not sent a whole request line and headers
  within HEADER_DEADLINE_SECONDS of opening (or of its last response) is closed;
- a bound per client: one address holds at most CONNECTIONS_PER_CLIENT connections;
  more are closed as soon as they are accepted.

`limit(server)` installs both on a server made by `waitress.create_server` (one
listening socket, or several).
"""

from __future__ import annotations

import time
from typing import Any

from waitress.channel import HTTPChannel

HEADER_DEADLINE_SECONDS = 10.0
CONNECTIONS_PER_CLIENT = 16
# How often waitress looks for connections to close (its default is every 30 s).
CLEANUP_SECONDS = 1.0


def _host(addr: Any) -> str:
    return str(addr[0]) if isinstance(addr, tuple) and addr else str(addr)


class LimitedChannel(HTTPChannel):  # type: ignore[misc]
    """A waitress channel that leaves when its client already holds too many."""

    def __init__(self, server: Any, sock: Any, addr: Any, adj: Any, map: Any = None) -> None:
        super().__init__(server, sock, addr, adj, map=map)
        self.headers_due = self.creation_time + HEADER_DEADLINE_SECONDS
        held = sum(
            1
            for channel in list(server.active_channels.values())
            if _host(getattr(channel, "addr", None)) == _host(addr)
        )
        if held > CONNECTIONS_PER_CLIENT:
            self.will_close = True
            self.close()

    def received(self, data: bytes) -> bool:
        done = len(self.requests)
        result: bool = super().received(data)
        if len(self.requests) > done:
            # A whole request: the next one has its own deadline from now.
            self.headers_due = time.time() + HEADER_DEADLINE_SECONDS
        return result


def _slow(channel: Any, now: float) -> bool:
    """Whether a connection is past its header deadline with no request in progress."""
    if channel.requests:
        return False  # a request is being answered
    request = getattr(channel, "request", None)
    if request is not None and getattr(request, "headers_finished", False):
        return False  # its headers are in: the body may take its time
    return now >= getattr(channel, "headers_due", float("inf"))


def _limit_one(server: Any) -> None:
    server.channel_class = LimitedChannel
    maintenance = server.maintenance

    def maintain(now: float) -> None:
        maintenance(now)
        for channel in list(server.active_channels.values()):
            if _slow(channel, now):
                channel.will_close = True

    server.maintenance = maintain


def limit(server: Any) -> Any:
    """Install the header deadline and the per-client bound; returns `server`."""
    servers = [server]
    if hasattr(server, "effective_listen") and hasattr(server, "map"):  # several sockets
        servers = [s for s in server.map.values() if hasattr(s, "active_channels")]
    for each in servers:
        each.adj.cleanup_interval = min(each.adj.cleanup_interval, CLEANUP_SECONDS)
        _limit_one(each)
    return server
