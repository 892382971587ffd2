"""A client for the two Error Tracker endpoints the phaser asks.

Any failure (connection error, timeout, HTTP error, a body that is not the expected
JSON) raises ErrorTrackerFailure: the caller must treat the update as `unknown`, never
as "no regression" nor as "regression".
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ReadTimeoutError

from phased_updater import __version__
from phased_updater.config import DEFAULT_ERRORS_URL
from phased_updater.debian import check_source_name, check_version, is_version
from phased_updater.model import CrashCheck, Problem, ProblemKind, Update
from phased_updater.sources.deadline import DeadlineAdapter, deadline
from phased_updater.sources.request_counts import ERROR_TRACKER, RequestCounts
from phased_updater.text import encodable
from phased_updater.watchdog import DeadlinePassed

log = logging.getLogger(__name__)

USER_AGENT = f"phased-updater/{__version__} (+https://launchpad.net/ubuntu)"
DEFAULT_TIMEOUT = (10.0, 60.0)
NEW_BUCKETS = "package-version-new-buckets"
RATE_OF_CRASHES = "package-rate-of-crashes"
MAX_LINK_LENGTH = 2048
# The most read of one answer: a real one is a few KiB; more is not an answer.
MAX_ANSWER_BYTES = 1024 * 1024
# The most kept of a crash signature (free text crash reporters control), in characters:
# it is stored with every decision while the update stays stopped, and published.
MAX_SIGNATURE = 1000
# Counts and averages past this are not numbers the Error Tracker means.
_MAX_MAGNITUDE = 10**15


class AnswerTooLarge(Exception):
    pass


def _read_at_most(response: requests.Response, limit: int) -> bytes:
    body = bytearray()
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise AnswerTooLarge
    return bytes(body)


def _signature(function: object) -> str | None:
    """A bucket's signature as the engine keeps it: encodable, and at most MAX_SIGNATURE."""
    if not isinstance(function, str):
        return None
    text = encodable(function)
    return text if len(text) <= MAX_SIGNATURE else text[: MAX_SIGNATURE - 1] + "…"


class ErrorTrackerFailure(Exception):
    """The Error Tracker gave no usable answer; the message says why."""


class VersionUnknown(ErrorTrackerFailure):
    """The Error Tracker answered 404: it knows one of the versions asked about not at all.

    It says so for a version Launchpad does not know (as the Error Tracker sees it): not
    a fault to retry every run, but nothing to compare the update with.
    """


# The Error Tracker's 404 for an unknown version: "<src> version <v> was not found in
# Launchpad." (src/errors/api/resources.py).
_UNKNOWN_VERSION = re.compile(r"version (\S+) was not found in Launchpad")


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return abs(value) <= _MAX_MAGNITUDE  # a 400-digit int overflows math.isfinite
    return math.isfinite(value) and abs(value) <= _MAX_MAGNITUDE


def _is_link(value: object) -> bool:
    """An http(s) URL with a host and no whitespace or control characters.

    Links end up in the report and in mail bodies: one that is not a plain URL is
    refused with the rest of the answer rather than published.
    """
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        return False
    if len(value) > MAX_LINK_LENGTH or not value.isascii():
        return False  # the Error Tracker's links are ASCII (quoted): anything else is not one
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return False
    try:
        return bool(urlsplit(value).hostname)
    except ValueError:
        return False


def _timed_out(error: BaseException) -> bool:
    """Whether a failed request ran out of time: the deadline, a socket timeout, or a
    read timeout while streaming the body (which requests reports as ConnectionError)."""
    if isinstance(error, DeadlinePassed | requests.Timeout | TimeoutError):
        return True
    return any(isinstance(arg, ReadTimeoutError) for arg in getattr(error, "args", ()))


def objects_of(endpoint: str, text: str) -> list[Any]:
    """The `objects` list of a tastypie answer; ErrorTrackerFailure if there is none."""
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ErrorTrackerFailure(f"{endpoint}: the answer is not JSON") from error
    objects = body.get("objects") if isinstance(body, dict) else None
    if not isinstance(objects, list):
        raise ErrorTrackerFailure(f"{endpoint}: the answer has no 'objects' list")
    return objects


def new_crash_problems(objects: list[Any]) -> list[Problem]:
    """The new crash buckets of a package-version-new-buckets answer."""
    problems = []
    for item in objects:
        if not isinstance(item, dict) or not _is_link(item.get("web_link")):
            raise ErrorTrackerFailure(f"{NEW_BUCKETS}: a bucket has no web_link")
        problems.append(
            Problem(
                kind=ProblemKind.NEW_CRASH,
                url=item["web_link"],
                signature=_signature(item.get("function")),
            )
        )
    return problems


def rate_problem(objects: list[Any]) -> Problem | None:
    """The increased rate of a package-rate-of-crashes answer, or None."""
    if len(objects) != 1 or not isinstance(objects[0], dict):
        raise ErrorTrackerFailure(f"{RATE_OF_CRASHES}: expected one object, got {len(objects)}")
    rate = objects[0]
    increase = rate.get("increase")
    if not isinstance(increase, bool):
        raise ErrorTrackerFailure(f"{RATE_OF_CRASHES}: 'increase' is not a boolean")
    if not increase:
        return None
    difference = rate.get("difference")
    average = rate.get("previous_average")
    period = rate.get("previous_period_in_days")
    if not _is_number(difference) or not _is_link(rate.get("web_link")):
        raise ErrorTrackerFailure(
            f"{RATE_OF_CRASHES}: an increase without a numeric difference and a link"
        )
    if average is not None and not _is_number(average):
        raise ErrorTrackerFailure(f"{RATE_OF_CRASHES}: 'previous_average' is not a number")
    return Problem(
        kind=ProblemKind.INCREASED_RATE,
        url=rate["web_link"],
        evidence={
            "difference": difference,
            "previous_average": average,
            "previous_period_in_days": period if _is_number(period) else None,
        },
    )


def asked_about(update: Update) -> tuple[str, str | None, str, str, int, date]:
    """What `ErrorTrackerClient.check` asks about an update: same tuple, same questions.

    (source, previous version, version, release, percentage, publication day). A
    stopped update is judged at the level it had reached, not at 0.
    """
    return (
        update.source,
        update.previous_version,
        update.version,
        update.series.release,
        update.percentage or update.highest_percentage,
        update.date_published.date(),
    )


class ErrorTrackerClient:
    def __init__(
        self,
        base_url: str = DEFAULT_ERRORS_URL,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        counts: RequestCounts | None = None,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.counts = counts
        self._shared_session = session
        self._local = threading.local()
        # Updates checked, and those the Error Tracker gave no usable answer for: the
        # run logs the first failure and then one line for them all (`outage`).
        self._tally_lock = threading.Lock()
        self.checked = 0
        self.failed = 0

    @property
    def session(self) -> requests.Session:
        """The given session, or one per thread (a Session is not thread-safe)."""
        if self._shared_session is not None:
            return self._shared_session
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            for prefix in ("http://", "https://"):
                session.mount(prefix, DeadlineAdapter())
            self._local.session = session
        return session

    def _objects(self, endpoint: str, params: dict[str, str]) -> list[Any]:
        url = f"{self.base_url}{endpoint}/"
        # The read timeout is the whole request's budget: connect and every read.
        seconds = max(self.timeout)
        try:
            # One deadline for the whole request, and a bound on what is read of it.
            with deadline(seconds):
                response = self.session.get(
                    url, params={"format": "json", **params}, timeout=self.timeout, stream=True
                )
                try:
                    body = _read_at_most(response, MAX_ANSWER_BYTES)
                finally:
                    response.close()
        except AnswerTooLarge:
            self._count(failed=True)
            raise ErrorTrackerFailure(
                f"{endpoint}: an answer larger than {MAX_ANSWER_BYTES // 1024} KiB"
            ) from None
        except (requests.RequestException, OSError) as error:
            self._count(failed=True)
            # A timeout, a refusal, or the deadline cutting a trickling answer short.
            # A socket timeout and the deadline say the same: no answer in time.
            what = (
                f"no complete answer within {seconds:g} s"
                if _timed_out(error)
                else type(error).__name__
            )
            raise ErrorTrackerFailure(f"{endpoint}: {what}") from error
        self._count(failed=response.status_code != 200)
        if response.status_code == 404:
            unknown = _UNKNOWN_VERSION.search(body[:1000].decode("utf-8", "replace"))
            if unknown is not None:
                # Its text is the Error Tracker's: name the version only if it is one.
                named = unknown.group(1).rstrip(".")
                which = f"version {named}" if is_version(named) else "a version"
                raise VersionUnknown(f"the Error Tracker does not know {which} (404)")
        if response.status_code != 200:
            raise ErrorTrackerFailure(f"{endpoint}: HTTP {response.status_code}")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ErrorTrackerFailure(f"{endpoint}: the answer is not JSON") from error
        return objects_of(endpoint, text)

    def _count(self, *, failed: bool) -> None:
        if self.counts is not None:
            self.counts.record(ERROR_TRACKER, failed=failed)

    def new_crashes(self, package: str, previous_version: str, new_version: str) -> list[Problem]:
        objects = self._objects(
            NEW_BUCKETS,
            {
                "package": check_source_name(package),
                "previous_version": check_version(previous_version),
                "new_version": check_version(new_version),
            },
        )
        return new_crash_problems(objects)

    def increased_rate(
        self,
        release: str,
        package: str,
        old_version: str,
        new_version: str,
        percentage: int,
        published: date,
    ) -> Problem | None:
        objects = self._objects(
            RATE_OF_CRASHES,
            {
                "exclude_proposed": "True",
                "release": release,
                "package": check_source_name(package),
                "old_version": check_version(old_version),
                "new_version": check_version(new_version),
                "phased_update_percentage": str(percentage),
                "date": published.isoformat(),
            },
        )
        return rate_problem(objects)

    def check(self, update: Update) -> CrashCheck:
        """Both checks for one update; never raises for an Error Tracker fault."""
        if update.previous_version is None:
            return CrashCheck(
                no_comparison=f"no previous version of {update.source} in"
                f" {update.series.name} to compare with"
            )
        percentage = asked_about(update)[4]  # for a stopped update, the level it reached
        try:
            problems = self.new_crashes(update.source, update.previous_version, update.version)
            rate = self.increased_rate(
                update.series.release,
                update.source,
                update.previous_version,
                update.version,
                percentage,
                update.date_published.date(),
            )
        except VersionUnknown as unknown:
            return CrashCheck(no_comparison=str(unknown))
        except ErrorTrackerFailure as failure:
            with self._tally_lock:
                self.checked += 1
                self.failed += 1
                first = self.failed == 1
            # The first says what failed; the rest would repeat it, one per update.
            log.log(
                logging.WARNING if first else logging.DEBUG,
                "%s %s in %s: the Error Tracker at %s: %s",
                update.source,
                update.version,
                update.series.name,
                self.base_url,
                failure,
            )
            return CrashCheck(failure=str(failure))
        except ValueError as invalid:
            with self._tally_lock:
                self.checked += 1
                self.failed += 1
            return CrashCheck(failure=str(invalid))
        with self._tally_lock:
            self.checked += 1
        if rate is not None:
            problems.append(rate)
        return CrashCheck(problems=tuple(problems))


def outage(client: ErrorTrackerClient) -> str | None:
    """One line for every update the Error Tracker gave no answer for; None if none."""
    if not client.failed:
        return None
    unknown = f"{client.failed} update{'s' if client.failed != 1 else ''} unknown"
    if client.failed == client.checked:
        return f"Error Tracker unreachable at {client.base_url}: {unknown}"
    return f"Error Tracker failing at {client.base_url}: {unknown} of {client.checked} checked"
