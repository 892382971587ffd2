"""`phased-updater serve`: serve the report directory over HTTP, read-only."""

from __future__ import annotations

import argparse
import ipaddress
import logging
from pathlib import Path
from typing import Any

import waitress

from phased_updater.errors import UsageError
from phased_updater.report.server import ReportApp

log = logging.getLogger("phased_updater.serve")

DEFAULT_BIND = "127.0.0.1:8080"
THREADS = 4

DESCRIPTION = """\
Serve the report directory (index.html, phased-updates.json) over HTTP with waitress.
Nothing is ever written; a directory is never listed; paths that would leave the
directory get 404. /healthz answers 200 with a short JSON document while a report is
there to serve, and 503 while the directory or its index.html is missing.

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
        default=DEFAULT_BIND,
        help=f"address and port to listen on; [::1]:8080 for IPv6 (default {DEFAULT_BIND})",
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


def create(report_dir: Path, bind: str, **adjustments: Any) -> Any:
    """A waitress server, bound but not yet running (`.run()`, `.close()`).

    `adjustments` go to waitress as they are (tests shorten its poll timeout).
    """
    host, port = parse_bind(bind)
    try:
        return waitress.create_server(
            ReportApp(report_dir),
            host=host,
            port=port,
            threads=THREADS,
            ident="phased-updater",
            expose_tracebacks=False,
            clear_untrusted_proxy_headers=True,
            **adjustments,
        )
    except OSError as error:
        raise UsageError(f"--bind {bind!r}: {error.strerror}") from None


def handle(args: argparse.Namespace) -> int:
    report_dir = Path(args.report_dir).expanduser()
    server = create(report_dir, args.bind)
    if not report_dir.is_dir():
        log.warning("%s does not exist yet: answering 503 until a report is written", report_dir)
    log.info(
        "serving %s on http://%s:%s/",
        report_dir,
        server.effective_host,
        server.effective_port,
    )
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
