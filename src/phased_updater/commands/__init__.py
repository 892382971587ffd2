"""Sub-commands. Each module exposes `add_parser(subparsers)`, which sets `handler`."""

from __future__ import annotations

import argparse
from typing import Protocol

from phased_updater.commands import check, forecast, halt, overrides, report, run, serve


class Command(Protocol):
    def add_parser(self, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...


COMMANDS: list[Command] = [run, report, serve, halt, overrides, check, forecast]
