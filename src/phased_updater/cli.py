"""The `phased-updater` command line: one sub-command per module in `commands/`."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence

from phased_updater import __version__, log_format
from phased_updater.commands import COMMANDS
from phased_updater.errors import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE, UsageError, error_text
from phased_updater.log_format import DEFAULT_LEVEL, LEVELS
from phased_updater.store import DatabaseFailure

__all__ = ["EXIT_INCOMPLETE", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phased-updater",
        description="Phase Ubuntu stable release updates from the Error Tracker's verdicts.",
    )
    parser.add_argument("--version", action="version", version=f"phased-updater {__version__}")
    # No default here: unset, a command's config file may give `log_level`.
    _add_log_level(parser, None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    # Also after the command's name (`phased-updater run --log-level debug`), where
    # it wins over one given before.
    for command_parser in sub.choices.values():
        _add_log_level(command_parser, argparse.SUPPRESS)
    return parser


def _add_log_level(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument(
        "--log-level",
        dest="log_level",
        choices=LEVELS,
        default=default,
        help=f"the least severe records logged (default {DEFAULT_LEVEL})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    log_format.configure(args.log_level or DEFAULT_LEVEL)
    try:
        status: int = args.handler(args)
    except UsageError as error:
        print(f"phased-updater {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseFailure as error:
        # The database failing under a command that was under way (locked, disk
        # full); one it cannot open at all is a StoreError, a usage error.
        print(f"phased-updater {args.command}: {error}", file=sys.stderr)
        return EXIT_INCOMPLETE
    except sqlite3.Error as error:
        print(
            f"phased-updater {args.command}: state database: {error_text(error)}", file=sys.stderr
        )
        return EXIT_INCOMPLETE
    return status


if __name__ == "__main__":
    sys.exit(main())
