"""`phased-updater serve`: serve the report directory over HTTP, read-only."""

from __future__ import annotations

import argparse
import ipaddress
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import waitress

from phased_updater.duration import parse_duration
from phased_updater.errors import UsageError
from phased_updater.report.server import ReportApp
from phased_updater.report.serving import limit

log = logging.getLogger("phased_updater.serve")

DEFAULT_BIND = "127.0.0.1:8080"
THREADS = 4

DESCRIPTION = """\
Serve the report directory (phased-updates.html and index.html, phased-updates.json)
over HTTP with waitress.
Nothing is ever written; a directory is never listed; paths that would leave the
directory get 404. /healthz answers 200 with a short JSON document while a report is
there to serve, and 503 while the directory or its index.html is missing, or when the
last run ended more than twice the run period ago (--run-every, else the interval the
run recorded in run-status.json). /metrics is the Prometheus text format of the last
run's run-status.json, plus the report's age.

exit status: 0 stopped; 2 bad usage (e.g. an address that cannot be bound).
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "serve",
        help="serve the report directory over HTTP",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--report-dir", dest="report_dir", metavar="DIR", required=True, help="what to serve"
    )
    parser.add_argument(
        "--bind",
        metavar="ADDR:PORT",
        action="append",
        help="address and port to listen on; [::1]:8080 for IPv6; repeat it for several, "
        f"e.g. --bind 0.0.0.0:8080 --bind [::]:8080 (default {DEFAULT_BIND})",
    )
    parser.add_argument(
        "--run-every",
        metavar="DURATION",
        help="how often runs are expected (6h, 1h30m ...): the report is stale, and "
        "/healthz answers 503, when it is older than twice this (default: the interval "
        "the last run recorded)",
    )
    parser.set_defaults(handler=handle)


def parse_bind(text: str) -> tuple[str, int]:
    """ "127.0.0.1:8080", "[::1]:8080" or "0.0.0.0:0" (any free port) into (host, port)."""
    host, colon, port = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise UsageError(
            f"--bind {text!r}: expected ADDR:PORT with an IP address, e.g. 127.0.0.1:8080"
        ) from None
    if not colon or not 0 <= number <= 65535:
        raise UsageError(f"--bind {text!r}: the port must be 0 to 65535")
    return host, number


def create(
    report_dir: Path,
    bind: str | Sequence[str],
    *,
    run_every_seconds: int | None = None,
    clock: Callable[[], datetime] | None = None,
    **adjustments: Any,
) -> Any:
    """A waitress server, bound but not yet running (`.run()`, `.close()`).

    `bind` is one ADDR:PORT or several (one socket each; an IPv6 one is IPv6 only).
    `clock` (tests) is the time health and metrics are measured at.
    `adjustments` go to waitress as they are (tests shorten its poll timeout).
    """
    binds = [bind] if isinstance(bind, str) else list(bind)
    parsed = [parse_bind(text) for text in binds]
    app = (
        ReportApp(report_dir, run_every_seconds=run_every_seconds)
        if clock is None
        else ReportApp(report_dir, run_every_seconds=run_every_seconds, clock=clock)
    )
    options: dict[str, Any] = {
        "threads": THREADS,
        "ident": "phased-updater",
        "expose_tracebacks": False,
        "clear_untrusted_proxy_headers": True,
        **adjustments,
    }
    if len(parsed) == 1:
        options |= {"host": parsed[0][0], "port": parsed[0][1]}
    else:
        options["listen"] = " ".join(
            f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in parsed
        )
    try:
        # Slow clients (a header a byte at a time, many connections) cannot lock out
        # the others: see report/serving.py.
        return limit(waitress.create_server(app, **options))
    except OSError as error:
        raise UsageError(f"--bind {' '.join(binds)!r}: {error.strerror}") from None


def _run_every(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(parse_duration(text).total_seconds())
    except ValueError as error:
        raise UsageError(f"--run-every: {error}") from None


def _addresses(server: Any) -> list[str]:
    """Where the server listens, as URLs' host:port."""
    listening = getattr(server, "effective_listen", None)
    if listening is None:
        listening = [(server.effective_host, server.effective_port)]
    return [
        f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}" for host, port in listening
    ]


def handle(args: argparse.Namespace) -> int:
    report_dir = Path(args.report_dir).expanduser()
    server = create(
        report_dir, args.bind or [DEFAULT_BIND], run_every_seconds=_run_every(args.run_every)
    )
    if not report_dir.is_dir():
        log.warning("%s does not exist yet: answering 503 until a report is written", report_dir)
    for address in _addresses(server):
        log.info("serving %s on http://%s/", report_dir, address)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
