"""Text from outside (Launchpad, the Error Tracker, people, relays), made fit to show.

`encodable` makes any str writable as UTF-8; `one_line` flattens untrusted text before
it goes into a log line, a mail header or a report cell; `redact` removes what must
never be published (addresses, credentials in URLs) from free text bound for the
public report.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def encodable(text: str) -> str:
    """`text` as UTF-8 can carry it: a lone surrogate (from JSON's "\\ud83d") becomes U+FFFD.

    Python decodes such JSON escapes into a str that cannot be encoded, so one crash
    signature could otherwise stop the report and the database from being written.
    """
    try:
        # Encoding is what fails on a surrogate, and is four times as fast as the
        # search on a clean text (the report's pages: 10 MiB a publish).
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def one_line(text: str, limit: int | None = None) -> str:
    """`text` as a single line: control, format and separator characters become spaces.

    Unicode has line breaks beyond CR and LF (U+0085, U+2028, ...) and invisible
    direction overrides (category Cf): all of them go, not just the ASCII ones.
    """
    cleaned = "".join(" " if unicodedata.category(char)[0] in "CZ" else char for char in text)
    flat = " ".join(cleaned.split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return flat


# A report repeats the same few reasons thousands of times ("no regressions; at 10%
# for 6h"): each is redacted once.
@functools.lru_cache(maxsize=8192)
def redact(text: str) -> str:
    """Free text fit to publish: no email address, no user:password in a URL.

    Reasons, errors and halt notes are written by people and by SMTP servers; the
    report is public, so whatever looks like an address or a credential goes.
    """
    text = _URL_USERINFO.sub(r"\g<scheme>[hidden]@", text)
    return _EMAIL.sub("[address hidden]", text)
