"""Exceptions, exit statuses, and the one way an error's text leaves the process."""

from phased_updater.text import one_line, redact

# The exit statuses of every command (`phased-updater run --help` documents them).
EXIT_OK = 0
EXIT_INCOMPLETE = 1  # some updates could not be evaluated, or the report not written
EXIT_USAGE = 2  # bad usage or configuration: nothing was done


class UsageError(Exception):
    """A bad option, config value or input file: exit status 2, nothing applied.

    The message names the value and the reason, on one line.
    """


class EntryError(ValueError):
    """A bad entry of a structured setting (a speed class, a group, a freeze window).

    `entry` names it as its table writes it (`classes.slow.step`, `groups.boot`, or the
    window's text), so that the engine's usage error and the charm's blocked status
    both point at it; `reason` says what is wrong.
    """

    def __init__(self, entry: str, reason: str) -> None:
        self.entry = entry
        self.reason = reason
        super().__init__(f"{entry}: {reason}")


# The most of an error's own text that leaves the process.
MAX_ERROR_TEXT = 200


def error_text(error: BaseException) -> str:
    """One line saying what failed, fit for a log, the database, the report and mail.

    Every error text that leaves the process goes through here. It keeps the status
    and a short reason, and never the rest: launchpadlib's HTTPError text carries every
    response header and the whole body (a proxy or a debug page may echo the request's
    Authorization header, with the OAuth token and secret, back in it), and an SMTP
    relay's reply to AUTH may quote the credentials it was sent.
    """
    kind = type(error).__name__
    response = getattr(error, "response", None)
    status = getattr(response, "status", None)
    if isinstance(status, int | str) and str(status).isdigit():
        reason = getattr(response, "reason", "") or ""
        phrase = one_line(str(reason), 60) if isinstance(reason, str) else ""
        return f"HTTP {status}{' ' + phrase if phrase else ''}".strip()
    code = getattr(error, "smtp_code", None)
    if isinstance(code, int):
        # The relay's text may quote what it was sent (AUTH PLAIN <base64>): its code only.
        return f"{kind}: the relay answered {code}"
    verify = getattr(error, "verify_message", None)
    if isinstance(verify, str):
        return f"TLS certificate not trusted: {one_line(verify, 100)}"
    text = redact(one_line(str(error), MAX_ERROR_TEXT))
    return f"{kind}: {text}" if text else kind
