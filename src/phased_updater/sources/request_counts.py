"""How many requests a run sent to Launchpad and the Error Tracker, and how many failed.

One `RequestCounts` per run, shared by every worker thread; the metrics snapshot
(`report/metrics.py`) publishes it. A request that raised, or got an HTTP status of
400 or more, is a failure; a Launchpad answer httplib2 served from its cache is no
request at all.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

LAUNCHPAD = "launchpad"
ERROR_TRACKER = "errortracker"
SERVICES = (LAUNCHPAD, ERROR_TRACKER)
FAILED_STATUS = 400


class RequestCounts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._failures: Counter[str] = Counter()

    def record(self, service: str, *, failed: bool) -> None:
        with self._lock:
            self._requests[service] += 1
            if failed:
                self._failures[service] += 1

    def to_json(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {
                service: {
                    "requests": self._requests[service],
                    "failures": self._failures[service],
                }
                for service in SERVICES
            }


def count_launchpad_requests(lp: Any, counts: RequestCounts) -> Any:
    """`lp` (a launchpadlib client), counting every request it sends from now on.

    launchpadlib sends each request through its browser's httplib2 connection; the
    login's own requests (WADL, service root) were sent before this and are not counted.
    """
    connection = lp._browser._connection
    send = connection.request

    def request(*args: Any, **kwargs: Any) -> Any:
        try:
            response, content = send(*args, **kwargs)
        except Exception:
            counts.record(LAUNCHPAD, failed=True)
            raise
        if not getattr(response, "fromcache", False):
            counts.record(LAUNCHPAD, failed=int(response.status) >= FAILED_STATUS)
        return response, content

    connection.request = request
    return lp
