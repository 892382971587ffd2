"""The HTML id of an update's entry in the report, shared by the report and the mail.

Characters outside [A-Za-z0-9.-] are written as _XX (hex) and the parts are joined
with "__", so the id is stable, unique and needs no quoting in a URL fragment.
"""

from __future__ import annotations

import re


def _clean(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]", lambda m: f"_{ord(m.group()):02x}", text)


def update_anchor(series: str, source: str, version: str) -> str:
    return f"u-{_clean(series)}__{_clean(source)}__{_clean(version)}"
