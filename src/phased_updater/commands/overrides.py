"""`phased-updater overrides check FILE`: validate an overrides file before using it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from phased_updater.errors import UsageError
from phased_updater.overrides import Overrides

DESCRIPTION = """\
Check an overrides file (one `source, version, problem URL | increased-rate` a line;
blank lines and # comments allowed). Prints each override, and each malformed line
with its number and reason; exits 2 if any line is malformed. A cycle skips malformed
lines and applies the others, so check a file before you install it.
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("overrides", help="check an overrides file", description=DESCRIPTION)
    actions = parser.add_subparsers(dest="overrides_command", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="validate FILE", description=DESCRIPTION)
    check.add_argument("file", metavar="FILE")
    check.set_defaults(handler=handle_check)


def handle_check(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        overrides = Overrides.load(path)
    except OSError as error:
        raise UsageError(f"{args.file!r}: {error.strerror}") from None
    for item in overrides.items:
        print(f"line {item.line}: {item.to_csv()}")
    for malformed in overrides.errors:
        print(f"{args.file}: {malformed}", file=sys.stderr)
    print(f"{len(overrides.items)} override(s), {len(overrides.errors)} malformed line(s)")
    return 2 if overrides.errors else 0
