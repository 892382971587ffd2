"""Sub-commands. Each module exposes `add_parser(subparsers)`, which sets `handler`."""

from __future__ import annotations

import argparse
from typing import Protocol


class Command(Protocol):
    def add_parser(self, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...


def _load() -> list[Command]:
    # Imported here so that a module list is the single place a command is registered.
    from phased_updater.commands import run

    return [run]


COMMANDS: list[Command] = _load()
