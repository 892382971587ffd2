"""Exceptions shared across the engine."""


class UsageError(Exception):
    """A bad option, config value or input file: exit status 2, nothing applied.

    The message names the value and the reason, on one line.
    """
