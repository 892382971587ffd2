"""Mail about stopped updates, wired into a run: queue with the decision, send after.

`prepare` before the cycle gives a `MailSession`; its `on_decision` is the cycle's
`DecisionListener` and `finish` runs after the cycle. The split keeps every remote call
out of the database transactions:

- `on_decision` runs inside the transaction that records a STOP decision. It only
  composes the message (pure) and inserts it into the outbox: no Launchpad, no SMTP.
- `finish` looks up the recipients of every pending message (each person link once
  per run), records them, then hands the messages to the relay one by one.

A Launchpad lookup that fails leaves the message pending with the reason in
`last_error`, and the next run looks again: the stop is recorded and its message
queued whatever Launchpad or the relay do. A message waits in the outbox for its
recipients rather than being sent to fewer people.

A dry run queues nothing: `finish` writes each message it would send as a .eml file
into the preview directory instead, with its recipients looked up the same way.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httplib2
from lazr.restfulclient.errors import HTTPError

from phased_updater import mail, outbox, recipients
from phased_updater.config import SMTP_AUTH, SMTP_SECURITY, Settings
from phased_updater.errors import UsageError
from phased_updater.launchpad import LaunchpadFailure
from phased_updater.mail import Recipient, Stop
from phased_updater.model import Action, Decision, Update
from phased_updater.publish import write_atomically
from phased_updater.smtp import ConfigurationProblem, NotAccepted, Relay, SmtpConfig, Unreachable
from phased_updater.store import Store

log = logging.getLogger(__name__)

PREVIEW_HEADER = "X-Phased-Updater-Preview"
SKIPPED_HEADER = "X-Phased-Updater-Not-Sent-To"
# Makes a launchpadlib client on the calling thread; called at most once per run.
LaunchpadConnector = Callable[[], Any]


def add_options(parser: argparse.ArgumentParser) -> None:
    """The mail options of `run`; each is also a key of the TOML config."""
    group = parser.add_argument_group(
        "email", "mail the signer and creator of an update when phasing stops it"
    )
    group.add_argument("--smtp-host", dest="smtp_host", metavar="HOST", help="without it, no email")
    group.add_argument("--smtp-port", dest="smtp_port", metavar="PORT", help="default 25")
    group.add_argument("--smtp-user", dest="smtp_user", metavar="USER")
    group.add_argument(
        "--smtp-password-file",
        dest="smtp_password_file",
        metavar="FILE",
        help="file whose first line is the SMTP password",
    )
    group.add_argument(
        "--smtp-timeout",
        dest="smtp_timeout",
        metavar="SECONDS",
        help="give up on the relay after this long (default 30)",
    )
    group.add_argument("--smtp-auth", dest="smtp_auth", choices=SMTP_AUTH, help="default none")
    group.add_argument(
        "--smtp-security", dest="smtp_security", choices=SMTP_SECURITY, help="default none"
    )
    group.add_argument(
        "--smtp-skip-verify",
        dest="smtp_skip_verify",
        action="store_true",
        help="do not verify the relay's TLS certificate (only for a relay you trust)",
    )
    group.add_argument("--mail-from", dest="mail_from", metavar="ADDRESS", help="sender address")
    group.add_argument(
        "--mail-cc", dest="mail_cc", metavar="ADDRESS[,ADDRESS...]", help="copy every message"
    )
    group.add_argument(
        "--mail-robots",
        dest="mail_robots",
        metavar="NAME[,NAME...]",
        help="more Launchpad accounts never mailed (katie and ubuntu-archive-robot always)",
    )
    group.add_argument(
        "--mail-preview-dir",
        dest="mail_preview_dir",
        metavar="DIR",
        help="where a dry run writes the messages it would send (default: mail-preview/"
        " beside the state database)",
    )


def email_off_reason(settings: Settings) -> str | None:
    """Why no email is sent, for the report; None when email is on."""
    if settings.smtp_host is None:
        return outbox.EMAIL_OFF
    return None


def check_preview_dir(settings: Settings) -> Path:
    """The preview directory, refused inside the published report directory."""
    preview = settings.effective_mail_preview_dir
    if settings.report_dir is not None:
        report_dir = settings.report_dir.resolve()
        if preview.resolve().is_relative_to(report_dir):
            raise UsageError(
                f"mail_preview_dir {str(preview)!r}: inside report_dir {str(report_dir)!r},"
                " which is published; choose another directory"
            )
    return preview


@dataclass
class MailSummary:
    """What `finish` did, for the log and for `make demo`."""

    queued: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    still_pending: int = 0
    previews: list[Path] = field(default_factory=list)
    email: str = ""

    def line(self) -> str:
        if self.previews:
            where = self.previews[0].parent
            return f"mail: {len(self.previews)} message(s) previewed in {where} (dry run)"
        return (
            f"mail: {self.queued} queued, {self.sent} sent, {self.still_pending} pending,"
            f" {self.failed} failed, {self.skipped} not sent ({self.email})"
        )


@dataclass(frozen=True)
class _Preview:
    stop: Stop
    signer_link: str | None
    creator_link: str | None


class MailSession:
    """One run's mail: `on_decision` is the cycle's listener, `finish` comes after."""

    def __init__(
        self,
        settings: Settings,
        connect_launchpad: LaunchpadConnector,
        store: Store,
        now: datetime,
    ) -> None:
        self.settings = settings
        self.store = store
        self.now = now
        self.dry_run = settings.effective_dry_run
        self.preview_dir = check_preview_dir(settings)
        self._connect_launchpad = connect_launchpad
        self._directory: recipients.PersonDirectory | None = None
        self._lock = threading.Lock()
        self._previews: list[_Preview] = []
        self._queued = 0
        self.smtp: SmtpConfig | None = None
        # Set when email is on but cannot work: messages wait, pending, for a fix.
        self.problem: str | None = None
        try:
            self.smtp = SmtpConfig.from_settings(settings)
        except ConfigurationProblem as error:
            self.problem = str(error)
        if settings.smtp_host is not None and not _usable(settings.mail_from):
            self.problem = f"mail_from {settings.mail_from!r}: a sender address is needed"
        bad_cc = [a for a in settings.mail_cc if not mail.is_usable_address(a)]
        if bad_cc:
            self.problem = f"mail_cc {', '.join(map(repr, bad_cc))}: not a usable address"
        if self.problem and not self.dry_run:
            log.error("email cannot be sent: %s; messages stay queued", self.problem)
        with store.transaction() as connection:
            outbox.ensure_schema(connection)

    # -- inside the decision's transaction ------------------------------------

    def on_decision(
        self, connection: sqlite3.Connection, run_id: int, update: Update, decision: Decision
    ) -> None:
        """Queue the stop's message: called inside the transaction recording `decision`."""
        if decision.action is not Action.STOP:
            return
        stop = Stop.of(update, decision)
        if outbox.has_key(connection, stop.key):
            return  # this set of problems was mailed about already
        if self.dry_run:
            with self._lock:
                self._previews.append(_Preview(stop, update.signer_link, update.creator_link))
            return
        if not _stop_written(connection, run_id, update):
            return  # Launchpad still has it phasing: the next run stops it, and mails then
        email_off = self.settings.smtp_host is None
        added = outbox.queue(
            connection,
            key=stop.key,
            run_id=run_id,
            series=stop.series,
            source=stop.source,
            version=stop.version,
            signer_link=update.signer_link,
            creator_link=update.creator_link,
            subject=mail.subject(stop),
            body=mail.body(stop, self.settings.report_url),
            queued_at=self.now,
            status=outbox.Status.SKIPPED if email_off else outbox.Status.PENDING,
            last_error=outbox.EMAIL_OFF if email_off else None,
        )
        if added:
            with self._lock:
                self._queued += 1

    # -- after the cycle ------------------------------------------------------

    def finish(self) -> MailSummary:
        """Write the previews (dry run) or look up and send every pending message."""
        summary = MailSummary(queued=self._queued, email=self._email_state())
        if self.dry_run:
            self._write_previews(summary)
        elif self.settings.smtp_host is not None:
            self._deliver(summary)
        log.info("%s", summary.line())
        return summary

    def _email_state(self) -> str:
        if self.problem is not None:
            return f"email cannot be sent: {self.problem}"
        if self.smtp is None:
            return outbox.EMAIL_OFF
        return f"email via {self.smtp.host}:{self.smtp.port} ({self.smtp.security})"

    def _directory_or_none(self) -> recipients.PersonDirectory | str:
        """This run's person directory, or why Launchpad cannot be asked."""
        if self._directory is None:
            try:
                self._directory = recipients.PersonDirectory(self._connect_launchpad())
            except (LaunchpadFailure, HTTPError, httplib2.HttpLib2Error, OSError) as error:
                return f"cannot connect to Launchpad: {error}"
        return self._directory

    def _look_up(self, signer_link: str | None, creator_link: str | None) -> recipients.Recipients:
        """Raises LookupFailed when Launchpad cannot answer."""
        directory = self._directory_or_none()
        if isinstance(directory, str):
            raise recipients.LookupFailed(directory)
        return recipients.resolve(directory, signer_link, creator_link, self.settings.mail_robots)

    def _addressing(self, to: tuple[Recipient, ...]) -> tuple[tuple[Recipient, ...], ...]:
        """(To, Cc): each address once; the Cc list alone when nobody else is left."""
        seen = {r.address.lower() for r in to}
        cc = []
        for address in self.settings.mail_cc:
            if address.lower() not in seen:
                seen.add(address.lower())
                cc.append(Recipient("", address))
        return (to, tuple(cc)) if to else (tuple(cc), ())

    def _sender(self) -> str:
        sender = self.settings.mail_from
        return sender if sender is not None and _usable(sender) else mail.PREVIEW_SENDER

    def _write_previews(self, summary: MailSummary) -> None:
        for item in sorted(self._previews, key=lambda p: p.stop.key):
            try:
                found = self._look_up(item.signer_link, item.creator_link)
            except recipients.LookupFailed as error:
                found = recipients.Recipients((), (f"recipients not looked up: {error}",))
            to, cc = self._addressing(found.to)
            message = mail.build_message(
                key=item.stop.key,
                subject_text=mail.subject(item.stop),
                body_text=mail.body(item.stop, self.settings.report_url),
                sender=self._sender(),
                to=to,
                cc=cc,
                date=self.now,
                extra_headers=(
                    (PREVIEW_HEADER, "written by a dry run, not sent"),
                    *((SKIPPED_HEADER, note) for note in found.skipped),
                ),
            )
            path = self.preview_dir / item.stop.file_name
            try:
                write_atomically(path, message.as_bytes())
            except OSError as error:
                log.error("cannot write the mail preview %s: %s", path, error)
                continue
            summary.previews.append(path)

    def _deliver(self, summary: MailSummary) -> None:
        waiting = outbox.pending(self.store)
        if self.problem is not None or self.smtp is None:
            for message in waiting:
                outbox.note_problem(self.store, message.id, f"not sent: {self.problem}")
            summary.still_pending = len(waiting)
            return
        ready = []
        for queued in waiting:
            message = queued
            if message.recipients is None:
                try:
                    found = self._look_up(message.signer_link, message.creator_link)
                except recipients.LookupFailed as error:
                    outbox.note_problem(self.store, message.id, str(error))
                    summary.still_pending += 1
                    continue
                outbox.set_recipients(self.store, message.id, found.to, found.skipped)
                message = outbox.with_recipients(message, found.to, found.skipped)
            to, cc = self._addressing(message.recipients or ())
            if not to:
                reason = "nobody to send it to: " + ("; ".join(message.notes) or "no recipient")
                outbox.skip(self.store, message.id, reason)
                summary.skipped += 1
                continue
            ready.append((message, to, cc))
        with Relay(self.smtp) as relay:
            for position, (message, to, cc) in enumerate(ready):
                outcome = self._send_one(relay, message, to, cc)
                if outcome == "unreachable":
                    # The rest would wait for the same timeout: try them on the next run.
                    for later, _to, _cc in ready[position + 1 :]:
                        outbox.attempt_failed(self.store, later.id, "not tried: relay unreachable")
                    summary.still_pending += len(ready) - position
                    break
                setattr(summary, outcome, getattr(summary, outcome) + 1)

    def _send_one(
        self,
        relay: Relay,
        message: outbox.Message,
        to: tuple[Recipient, ...],
        cc: tuple[Recipient, ...],
    ) -> str:
        """Send one message; the name of the MailSummary counter it adds to."""
        sender = self._sender()
        data = mail.build_message(
            key=message.key,
            subject_text=message.subject,
            body_text=message.body,
            sender=sender,
            to=to,
            cc=cc,
            date=message.queued_at,
        ).as_bytes()
        envelope = [(_label(r, n), r.address) for n, r in enumerate((*to, *cc), start=1)]

        def commit(refused: tuple[str, ...]) -> None:
            outbox.mark_sent(self.store, message.id, self.now, refused)

        try:
            sent = relay.send(data, sender, envelope, commit)
        except NotAccepted as error:
            outbox.attempt_failed(self.store, message.id, str(error))
            log.warning("%s %s: not sent: %s", message.source, message.version, error)
            return "unreachable" if isinstance(error, Unreachable) else "still_pending"
        if sent.after_commit_error is not None:
            outbox.mark_failed_after_commit(self.store, message.id, sent.after_commit_error)
            log.error("%s %s: %s", message.source, message.version, sent.after_commit_error)
            return "failed"
        log.info("%s %s: mail sent (%s)", message.source, message.version, message.subject)
        return "sent"


def _label(recipient: Recipient, number: int) -> str:
    """How a refused recipient is named in the outbox: never by address."""
    return mail.one_line(recipient.name, 60) or f"recipient {number}"


def _usable(address: str | None) -> bool:
    return address is not None and mail.is_usable_address(address)


def _stop_written(connection: sqlite3.Connection, run_id: int, update: Update) -> bool:
    """Whether this run's STOP reached Launchpad (read in the same transaction)."""
    row = connection.execute(
        "SELECT applied FROM decisions WHERE run_id = ? AND series = ? AND source = ?"
        " AND version = ? ORDER BY id DESC LIMIT 1",
        (run_id, update.series.name, update.source, update.version),
    ).fetchone()
    return bool(row is not None and row[0])


def prepare(
    settings: Settings, connect_launchpad: LaunchpadConnector, store: Store, now: datetime
) -> MailSession:
    """The run's mail session; raises UsageError for a preview dir inside the report."""
    return MailSession(settings, connect_launchpad, store, now)


def describe(settings: Settings) -> str:
    """A short account of the mail queued or previewed so far, and where to read it."""
    off = email_off_reason(settings)
    lines = [off.capitalize() if off else f"Email via {settings.smtp_host}:{settings.smtp_port}"]
    if settings.state.exists():
        store = Store.open(settings.state)
        try:
            found = outbox.deliveries(store)
        finally:
            store.close()
        lines.append(f"Outbox in {settings.state}: {len(found)} message(s)")
        lines += [
            f"  {d.status:<8} {d.series} {d.source} {d.version}: {d.subject}"
            + (f" [{d.last_error}]" if d.last_error else "")
            for d in found
        ]
    preview_dir = settings.effective_mail_preview_dir
    previews = sorted(preview_dir.glob("*.eml")) if preview_dir.is_dir() else []
    if previews:
        lines.append(f"Dry-run previews in {preview_dir} (read one with: less FILE):")
        for path in previews:
            parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
            lines.append(f"  {path.name}")
            lines.append(f"    To: {parsed.get('To', '(nobody)')}")
            if parsed.get("Cc"):
                lines.append(f"    Cc: {parsed['Cc']}")
            lines.append(f"    Subject: {parsed['Subject']}")
            lines += [f"    not sent to {note}" for note in parsed.get_all(SKIPPED_HEADER, [])]
    return "\n".join(lines)
