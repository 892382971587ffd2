"""Exceptions and exit statuses shared across the engine."""

# The exit statuses of every command (`phased-updater run --help` documents them).
EXIT_OK = 0
EXIT_INCOMPLETE = 1  # some updates could not be evaluated, or the report not written
EXIT_USAGE = 2  # bad usage or configuration: nothing was done


class UsageError(Exception):
    """A bad option, config value or input file: exit status 2, nothing applied.

    The message names the value and the reason, on one line.
    """
