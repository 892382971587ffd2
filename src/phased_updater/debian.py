"""Debian package-name and version syntax, version ordering, and Ubuntu series names.

Names and versions arrive from Launchpad, the Error Tracker and people (overrides,
actions). They are checked here before they are put in a URL, a file name or a mail
header, so that a hostile string can only ever be rejected, never interpreted.
"""

from __future__ import annotations

import functools
import re

# Debian Policy 5.6.1: lower case letters, digits, + - . ; at least two characters,
# starting with an alphanumeric.
_SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
# Debian Policy 5.6.12: [epoch:]upstream[-revision]; upstream starts with a digit.
_VERSION = re.compile(
    r"(?:(?P<epoch>[0-9]+):)?(?P<upstream>[0-9][A-Za-z0-9.+~:-]*?)(?:-(?P<revision>[A-Za-z0-9.+~]+))?"
)
_MAX_LENGTH = 256
# An Ubuntu series as Launchpad names it (noble, jammy): a lower-case letter, then
# lower-case letters, digits and hyphens. Series names go into report anchors, mail
# and Error Tracker queries, so every reader checks them with this one rule.
_SERIES_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")


def is_source_name(text: str) -> bool:
    return len(text) <= _MAX_LENGTH and _SOURCE_NAME.fullmatch(text) is not None


def is_series_name(text: str) -> bool:
    return _SERIES_NAME.fullmatch(text) is not None


def is_version(text: str) -> bool:
    if len(text) > _MAX_LENGTH:
        return False
    match = _VERSION.fullmatch(text)
    if match is None:
        return False
    upstream = match.group("upstream")
    # A colon in the upstream part needs an epoch; a hyphen in it needs a revision.
    if ":" in upstream and match.group("epoch") is None:
        return False
    return not ("-" in upstream and match.group("revision") is None)


def check_source_name(text: str, what: str = "source package name") -> str:
    if not is_source_name(text):
        raise ValueError(f"{what} {text!r} is not a valid Debian source package name")
    return text


def check_version(text: str, what: str = "version") -> str:
    if not is_version(text):
        raise ValueError(f"{what} {text!r} is not a valid Debian version")
    return text


def _order(char: str) -> int:
    if char == "~":
        return -1
    if char.isdigit():
        return 0
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(left: str, right: str) -> int:
    """dpkg's verrevcmp: alternate non-digit runs (by _order) and digit runs (numerically)."""
    i = j = 0
    while i < len(left) or j < len(right):
        first_diff = 0
        while (i < len(left) and not left[i].isdigit()) or (
            j < len(right) and not right[j].isdigit()
        ):
            lc = _order(left[i]) if i < len(left) else 0
            rc = _order(right[j]) if j < len(right) else 0
            if lc != rc:
                return lc - rc
            i += 1
            j += 1
        while i < len(left) and left[i] == "0":
            i += 1
        while j < len(right) and right[j] == "0":
            j += 1
        while i < len(left) and left[i].isdigit() and j < len(right) and right[j].isdigit():
            if not first_diff:
                first_diff = ord(left[i]) - ord(right[j])
            i += 1
            j += 1
        if i < len(left) and left[i].isdigit():
            return 1
        if j < len(right) and right[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def _split(version: str) -> tuple[int, str, str]:
    epoch, _, rest = version.partition(":") if ":" in version else ("0", "", version)
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "")
    return int(epoch or "0"), upstream, revision


def compare_versions(left: str, right: str) -> int:
    """Negative, zero or positive as `left` sorts before, equal to or after `right`."""
    left_epoch, left_upstream, left_revision = _split(left)
    right_epoch, right_upstream, right_revision = _split(right)
    if left_epoch != right_epoch:
        return left_epoch - right_epoch
    return _compare_part(left_upstream, right_upstream) or _compare_part(
        left_revision, right_revision
    )


version_key = functools.cmp_to_key(compare_versions)
