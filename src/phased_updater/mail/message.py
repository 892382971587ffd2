"""The email sent when phasing stops an update: its key, subject, body and headers.

Pure: no I/O and no clock. Everything a message says comes from the `Update` and the
`Decision` that stopped it, and everything that varies between runs (the date, the
recipients) is passed in, so the same stop always composes the same message.

Untrusted text (crash signatures from the Error Tracker, display names from
Launchpad) is flattened to one line of printable characters before it goes anywhere
near a header, and headers are built by the `email` package, which refuses a line
break in a header value: a hostile string can garble a line of the body at worst.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from urllib.parse import quote

from phased_updater.model import Decision, Problem, ProblemKind, Update
from phased_updater.override_feedback import SRU_TEAM, HowToOverride
from phased_updater.overrides import normalise_url
from phased_updater.report.anchors import update_anchor
from phased_updater.text import one_line

# Long enough for any real signature, short enough to keep the message readable.
MAX_SIGNATURE = 300
MAX_DISPLAY_NAME = 100
WIDTH = 72
# What a Phased-Update-Percentage of 0 does on the machines, in the mail's words: apt
# draws 0 to 100 per machine and update and installs when the draw is at most the
# percentage (apt_draw.py), and ignores phasing where an intervening -security version
# is not installed yet (apt-pkg's IsSecurityUpdate).
AT_ZERO = (
    "At 0% apt still installs it on about 1 machine in 101, and on any machine that has"
    " not yet installed an intervening -security version (apt ignores phasing there)."
)
# Used only where no sender is configured (a dry run's preview).
PREVIEW_SENDER = "phased-updater@localhost"
_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9.+~:_-]")


def header_text(text: str, limit: int | None = None) -> str:
    """`one_line`, and no RFC 2047 encoded word either.

    The `email` package decodes an encoded word found in a header value when it
    refolds the header, and Python 3.11's writes the decoded CR LF as is: the text
    "=?utf-8?q?x=0D=0ABcc=3A_y?=" would become a Bcc header. Breaking every "=?" keeps
    such text literal.
    """
    return one_line(text, limit).replace("=?", "= ?")


def is_usable_address(address: str) -> bool:
    """A plain ASCII addr-spec: what a relay without SMTPUTF8 accepts in RCPT TO."""
    if not address.isascii() or address != one_line(address) or " " in address:
        return False
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or any(c in address for c in '<>(),;:"[]\\'):
        return False
    return parseaddr(address)[1] == address


def report_link(report_url: str | None, series: str, source: str, version: str) -> str | None:
    if not report_url:
        return None
    base = report_url.split("#", 1)[0]
    return f"{base}#{quote(update_anchor(series, source, version), safe='')}"


@dataclass(frozen=True)
class Stop:
    """What a stop email is about: the facts of one STOP decision."""

    series: str
    source: str
    version: str
    previous_version: str | None
    stopped_at: int  # the percentage it was at when the run stopped it
    problems: tuple[Problem, ...]  # every problem found, overridden ones marked

    @classmethod
    def of(cls, update: Update, decision: Decision) -> Stop:
        return cls(
            series=update.series.name,
            source=update.source,
            version=update.version,
            previous_version=update.previous_version,
            stopped_at=decision.from_percentage,
            problems=decision.problems,
        )

    @property
    def pocket(self) -> str:
        return f"{self.series}-updates"

    @property
    def remaining(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if not p.resolved)

    @property
    def overridden(self) -> tuple[Problem, ...]:
        """Overridden by the SRU team, or acknowledged by a person: they did not stop it."""
        return tuple(p for p in self.problems if p.resolved)

    @property
    def problem_digest(self) -> str:
        """Names the set of problems that caused the stop, in any order or URL spelling."""
        urls = sorted({normalise_url(p.url) for p in self.remaining})
        return hashlib.sha256("\n".join(urls).encode()).hexdigest()[:16]

    @property
    def key(self) -> str:
        """The outbox key: one message per update and set of problems, ever.

        A stop on the same set of problems as an earlier message (say the update
        resumed when the Error Tracker briefly stopped reporting them) does not mail
        again; a stop on any other set does.
        """
        return f"{self.series}/{self.source}/{self.version}/{self.problem_digest}"

    @property
    def file_name(self) -> str:
        """A preview file name derived from the key: unique, stable, no path separator."""
        parts = (self.series, self.source, self.version, self.problem_digest)
        return "_".join(_FILE_UNSAFE.sub("-", part) for part in parts) + ".eml"


def subject(stop: Stop) -> str:
    return one_line(f"Phasing of {stop.source} {stop.version} in {stop.pocket} stopped")


def _number(value: object) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}".rstrip("0")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value))
    return "unknown"


def describe(problem: Problem) -> str:
    """One line naming the problem and its evidence."""
    if problem.kind is ProblemKind.NEW_CRASH:
        signature = one_line(problem.signature or "", MAX_SIGNATURE) or "(no signature)"
        return f"New crash: {signature}"
    evidence = problem.evidence
    text = f"Increased crash rate: {_number(evidence.get('difference'))} more crashes today"
    average = evidence.get("previous_average")
    if average is None:
        return text + "; the previous version has no crash data to compare with"
    days = evidence.get("previous_period_in_days")
    period = f" over {_number(days)} days" if days is not None else ""
    return text + f" than expected; the previous version averaged {_number(average)} a day{period}"


def _paragraph(text: str, indent: str = "", first: str | None = None) -> list[str]:
    """Prose wrapped at 72 columns; words (URLs included) are never split."""
    wrapped = textwrap.fill(
        text,
        WIDTH,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [*wrapped.splitlines(), ""]


def body(stop: Stop, report_url: str | None = None, how: HowToOverride | None = None) -> str:
    """The plain-text body (UTF-8) of the stop message.

    `how` says how this deployment takes an override (a change proposed to its
    branch, or the charm's action); without it, lines for the overrides file.
    """
    count = len(stop.remaining)
    lines = _paragraph(
        f"Phasing of {stop.source} {stop.version} in {stop.pocket} was stopped at"
        f" {stop.stopped_at}%."
    )
    if not count:
        return _unrecorded(stop, lines, report_url)
    lines += _paragraph(
        f"The Error Tracker reports {count} problem{'s' if count != 1 else ''} with this"
        " update that no override covers, so its Phased-Update-Percentage is now 0"
        f" until this is resolved. {AT_ZERO}"
    )
    lines += ["Problems:", ""]
    for number, problem in enumerate(stop.remaining, start=1):
        lines += _paragraph(describe(problem), "   ", f"{number}. ")[:-1]
        lines += [f"   {one_line(problem.url)}", ""]
    if stop.overridden:
        lines += ["Already overridden by the SRU team (these did not stop it):", ""]
        for problem in stop.overridden:
            lines += _paragraph(describe(problem), "  ", "- ")[:-1]
            lines += [f"  {one_line(problem.url)}", ""]
    compared = f" with {stop.previous_version}" if stop.previous_version else ""
    lines += ["What to do:", ""]
    lines += _paragraph(
        f"Investigate each problem on the Error Tracker (the links above) and compare"
        f" it{compared}.",
        "  ",
        "- ",
    )
    lines += _paragraph("If this update causes it, fix it in a follow-up upload.", "  ", "- ")
    how = how or HowToOverride()
    lines += _paragraph(
        f"If it does not (an old or unrelated crash), {how.request(SRU_TEAM)}", "  ", "- "
    )
    steps = (how.step(stop.source, stop.version, p) for p in stop.remaining)
    lines += [f"    {one_line(step)}" for step in steps] + [""]
    lines += _paragraph(
        f"Once every problem is overridden, phasing resumes at {stop.stopped_at}% on the next run.",
        "  ",
    )
    return _ending(stop, lines, report_url)


def _unrecorded(stop: Stop, lines: list[str], report_url: str | None) -> str:
    """A stop found on Launchpad that no run recorded, while the Error Tracker is quiet."""
    lines += _paragraph(
        "The phaser's own record of why it stopped this update was lost (or this phaser"
        " started on an archive where it was already stopped), and the Error Tracker"
        " reports no problem with it now, so the cause is not known. Its"
        " Phased-Update-Percentage stays 0 until a person resumes it:"
    )
    lines += [
        f"  phased-updater resume --series {stop.series} --source {stop.source}"
        f" --version {stop.version} --by NAME --reason TEXT",
        "",
    ]
    return _ending(stop, lines, report_url)


def _ending(stop: Stop, lines: list[str], report_url: str | None) -> str:
    link = report_link(report_url, stop.series, stop.source, stop.version)
    if link:
        lines += ["This update in the phasing report:", f"  {link}", ""]
    lines += ["-- "]
    lines += _paragraph("phased-updater sends this automatically, once for this set of problems.")
    return "\n".join(lines).rstrip("\n") + "\n"


def addressed(body_text: str, *, uploaders: bool, cc: bool, unreached: tuple[str, ...]) -> str:
    """The stored body as it goes out: who was not reached on top, why each reader gets it
    at the end.

    Composed when the recipients are known (after the lookup, at sending), since the
    body is queued before. `uploaders`: the signer or the creator is among the
    recipients; `cc`: the Cc list is; `unreached`: one line per person not reached
    (`recipients.unreached`).
    """
    top: list[str] = []
    if unreached:
        top += ["Not reached (this message could not be sent to them):", ""]
        top += [f"  - {one_line(line)}" for line in unreached]
        top += [""]
        top += _paragraph("Please make sure they hear of it.")
    if uploaders and cc:
        why = (
            "You receive this because you signed or created this upload, or, in Cc,"
            " because this phaser copies every message it sends to you."
        )
    elif uploaders:
        why = "You receive this because you signed or created this upload."
    elif unreached:
        why = (
            "You receive this because this phaser copies every message it sends to you,"
            " and the upload's signer and creator could not be reached (see the top)."
        )
    else:
        why = (
            "You receive this because this phaser copies every message it sends to you;"
            " the upload has no signer or creator to mail."
        )
    text = "\n".join(top) + ("\n" if top else "") + body_text.rstrip("\n") + "\n"
    return text + "\n".join(_paragraph(why)).rstrip("\n") + "\n"


@dataclass(frozen=True)
class Recipient:
    name: str
    address: str

    def header(self) -> Address:
        """The email package quotes or encodes the name: it cannot end the header."""
        return Address(header_text(self.name, MAX_DISPLAY_NAME), addr_spec=self.address)


def message_id(key: str, sender: str) -> str:
    """A Message-ID that depends only on the outbox key, so a resend is recognisable.

    `email.utils.make_msgid` mixes in the time and a random number: a retry would get
    a new id, and a receiver could not tell a duplicate from a new message.
    """
    domain = sender.rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<phased-updater.{digest}@{domain}>"


def build_message(
    *,
    key: str,
    subject_text: str,
    body_text: str,
    sender: str,
    to: tuple[Recipient, ...],
    cc: tuple[Recipient, ...],
    date: datetime,
    reply_to: tuple[str, ...] = (),
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> EmailMessage:
    """The whole message, ready for `as_bytes()`: 7-bit clean, CRLF line ends."""
    message = EmailMessage(policy=SMTP)
    message["From"] = str(Address("phased-updater", addr_spec=sender))
    if to:
        message["To"] = tuple(r.header() for r in to)
    if cc:
        message["Cc"] = tuple(r.header() for r in cc)
    if reply_to:
        message["Reply-To"] = tuple(Address(addr_spec=address) for address in reply_to)
    message["Subject"] = header_text(subject_text)
    message["Date"] = format_datetime(date.astimezone(UTC), usegmt=True)
    message["Message-ID"] = message_id(key, sender)
    message["Auto-Submitted"] = "auto-generated"
    message["Precedence"] = "bulk"
    for name, value in extra_headers:
        message[name] = header_text(value)
    # 7bit keeps long URLs whole (the email package would switch to quoted-printable
    # past 78 columns); quoted-printable keeps non-ASCII text 7-bit clean yet readable.
    plain = body_text.isascii() and all(len(line) <= 998 for line in body_text.splitlines())
    message.set_content(body_text, cte="7bit" if plain else "quoted-printable")
    return message
