"""Mail about stopped updates, wired into a run: queue with the decision, send after.

A `MailSession` is made before the cycle; its `on_decision` is the cycle's
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

`on_decision` also queues a reminder of an automatic stop left unresolved, every
`reminder_days` (see `reminder`), in the same transaction as the decision.

A dry run queues nothing: `finish` writes each message it would send as a .eml file
into the preview directory instead, with its recipients looked up the same way.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from phased_updater.atomic_write import write_atomically
from phased_updater.errors import UsageError
from phased_updater.mail import message as compose
from phased_updater.mail import outbox, recipients, reminder
from phased_updater.mail.message import Recipient, Stop
from phased_updater.mail.smtp import (
    ConfigurationProblem,
    NotAccepted,
    Relay,
    SmtpConfig,
    SmtpSettings,
    Unreachable,
)
from phased_updater.model import Action, Decision, Update
from phased_updater.override_feedback import HowToOverride
from phased_updater.sources.launchpad import LaunchpadFailure
from phased_updater.sources.people import DirectoryFactory, LookupFailed, PersonDirectory
from phased_updater.store import Store
from phased_updater.text import one_line

log = logging.getLogger(__name__)

PREVIEW_HEADER = "X-Phased-Updater-Preview"
SKIPPED_HEADER = "X-Phased-Updater-Not-Sent-To"


class MailSettings(SmtpSettings, Protocol):
    """What the mail session reads of the settings (config.Settings has all of it)."""

    @property
    def mail_from(self) -> str | None: ...
    @property
    def mail_cc(self) -> tuple[str, ...]: ...
    @property
    def mail_reply_to(self) -> tuple[str, ...]: ...
    @property
    def mail_subject_prefix(self) -> str | None: ...
    @property
    def mail_robots(self) -> tuple[str, ...]: ...
    @property
    def report_url(self) -> str | None: ...
    @property
    def report_dir(self) -> Path | None: ...
    @property
    def effective_mail_preview_dir(self) -> Path: ...
    @property
    def effective_dry_run(self) -> bool: ...
    @property
    def how_to_override(self) -> HowToOverride: ...
    @property
    def reminder_every(self) -> timedelta: ...


def email_off_reason(settings: MailSettings) -> str | None:
    """Why no email is sent, for the report; None when email is on."""
    if settings.smtp_host is None:
        return outbox.EMAIL_OFF
    return None


def check_preview_dir(settings: MailSettings) -> Path:
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
    """A message a dry run would send: a stop's, or a reminder's."""

    key: str
    subject: str
    body: str
    file_name: str
    signer_link: str | None
    creator_link: str | None


class MailSession:
    """One run's mail: `on_decision` is the cycle's listener, `finish` comes after."""

    def __init__(
        self,
        settings: MailSettings,
        people: DirectoryFactory,
        store: Store,
        now: datetime,
    ) -> None:
        self.settings = settings
        self.store = store
        self.now = now
        self.dry_run = settings.effective_dry_run
        self.preview_dir = check_preview_dir(settings)
        self._people = people
        self._directory: PersonDirectory | None = None
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
        bad_cc = [a for a in settings.mail_cc if not compose.is_usable_address(a)]
        if bad_cc:
            self.problem = f"mail_cc {', '.join(map(repr, bad_cc))}: not a usable address"
        bad_reply_to = [a for a in settings.mail_reply_to if not compose.is_usable_address(a)]
        if bad_reply_to:
            listed = ", ".join(map(repr, bad_reply_to))
            self.problem = f"mail_reply_to {listed}: not a usable address"
        if self.problem:
            # A setting that turns email off is an error whatever the run: it needs a fix.
            then = "nothing would be sent" if self.dry_run else "messages stay queued"
            log.error("email cannot be sent: %s; %s", self.problem, then)

    # -- inside the decision's transaction ------------------------------------

    def on_decision(
        self,
        connection: sqlite3.Connection,
        run_id: int,
        update: Update,
        decision: Decision,
        *,
        applied: bool,
    ) -> None:
        """Queue the stop's message: called inside the transaction recording `decision`.

        `applied` says whether the decision's writes reached Launchpad.
        """
        if decision.action is not Action.STOP:
            self._remind(connection, run_id, update, decision)
            return
        stop = Stop.of(update, decision)
        if outbox.has_key(connection, stop.key):
            return  # this set of problems was mailed about already
        if not applied and not self.dry_run:
            return  # Launchpad still has it phasing: the next run stops it, and mails then
        self._queue(
            connection,
            run_id,
            update,
            key=stop.key,
            file_name=stop.file_name,
            subject=compose.subject(stop),
            body=compose.body(stop, self.settings.report_url, self.settings.how_to_override),
        )

    def _remind(
        self, connection: sqlite3.Connection, run_id: int, update: Update, decision: Decision
    ) -> None:
        """Queue a reminder of an automatic stop left unresolved, when one is due."""
        every = self.settings.reminder_every
        stop = reminder.stop_in_force(decision)
        if stop is None or every <= timedelta(0):
            return
        key = (update.series.name, update.source, update.version)
        earlier = outbox.queued_since(connection, reminder.key_prefix(*key))
        mailed = outbox.queued_since(connection, reminder.update_prefix(*key))
        if not reminder.due(stop.at, max(mailed, default=None), self.now, every):
            return
        message = reminder.Reminder.of(
            update, decision, every=every, number=len(earlier) + 1, now=self.now
        )
        if message is None:
            return
        self._queue(
            connection,
            run_id,
            update,
            key=message.key,
            file_name=message.file_name,
            subject=message.subject(),
            body=message.body(self.settings.report_url, self.settings.how_to_override),
        )

    def _queue(
        self,
        connection: sqlite3.Connection,
        run_id: int,
        update: Update,
        *,
        key: str,
        file_name: str,
        subject: str,
        body: str,
    ) -> None:
        """A stop's or a reminder's message: a preview in a dry run, else into the outbox
        (skipped at once when email is off, so the report says why it was not sent)."""
        if self.dry_run:
            preview = _Preview(
                key, subject, body, file_name, update.signer_link, update.creator_link
            )
            with self._lock:
                self._previews.append(preview)
            return
        email_off = self.settings.smtp_host is None
        added = outbox.queue(
            connection,
            key=key,
            run_id=run_id,
            series=update.series.name,
            source=update.source,
            version=update.version,
            signer_link=update.signer_link,
            creator_link=update.creator_link,
            subject=subject,
            body=body,
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

    def _directory_or_none(self) -> PersonDirectory | str:
        """This run's person directory, or why Launchpad cannot be asked."""
        if self._directory is None:
            try:
                self._directory = self._people()
            except LaunchpadFailure as error:
                return f"cannot connect to Launchpad: {error}"
        return self._directory

    def _look_up(self, signer_link: str | None, creator_link: str | None) -> recipients.Recipients:
        """Raises LookupFailed when Launchpad cannot answer."""
        directory = self._directory_or_none()
        if isinstance(directory, str):
            raise LookupFailed(directory)
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

    def _compose(
        self,
        *,
        key: str,
        subject: str,
        body: str,
        uploaders: tuple[Recipient, ...],
        notes: tuple[str, ...],
        date: datetime,
        extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> tuple[EmailMessage, tuple[Recipient, ...], tuple[Recipient, ...]]:
        """The message as it goes out to the `uploaders` reached and the Cc list: (it, To, Cc).

        Every copy says who could not be reached and why each reader gets it; the
        subject carries the deployment's prefix, and replies go to `mail_reply_to`
        (by default the Cc list).
        """
        to, cc = self._addressing(uploaders)
        text = compose.addressed(
            body,
            uploaders=bool(uploaders),
            cc=bool(cc) or not uploaders,
            unreached=recipients.unreached(notes),
        )
        prefix = self.settings.mail_subject_prefix
        message = compose.build_message(
            key=key,
            subject_text=f"{prefix} {subject}" if prefix else subject,
            body_text=text,
            sender=self._sender(),
            to=to,
            cc=cc,
            date=date,
            reply_to=self.settings.mail_reply_to or self.settings.mail_cc,
            extra_headers=extra_headers,
        )
        return message, to, cc

    def _sender(self) -> str:
        sender = self.settings.mail_from
        return sender if sender is not None and _usable(sender) else compose.PREVIEW_SENDER

    def _write_previews(self, summary: MailSummary) -> None:
        for item in sorted(self._previews, key=lambda p: p.key):
            try:
                found = self._look_up(item.signer_link, item.creator_link)
            except LookupFailed as error:
                found = recipients.Recipients((), (f"recipients not looked up: {error}",))
            message, _, _ = self._compose(
                key=item.key,
                subject=item.subject,
                body=item.body,
                uploaders=found.to,
                notes=found.skipped,
                date=self.now,
                extra_headers=(
                    (PREVIEW_HEADER, "written by a dry run, not sent"),
                    *((SKIPPED_HEADER, note) for note in found.skipped),
                ),
            )
            path = self.preview_dir / item.file_name
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
                except LookupFailed as error:
                    outbox.note_problem(self.store, message.id, str(error))
                    summary.still_pending += 1
                    continue
                outbox.set_recipients(self.store, message.id, found.to, found.skipped)
                message = outbox.with_recipients(message, found.to, found.skipped)
            composed, to, cc = self._compose(
                key=message.key,
                subject=message.subject,
                body=message.body,
                uploaders=message.recipients or (),
                notes=message.notes,
                date=message.queued_at,
            )
            if not to:
                reason = "nobody to send it to: " + ("; ".join(message.notes) or "no recipient")
                outbox.skip(self.store, message.id, reason)
                summary.skipped += 1
                continue
            ready.append((message, composed, (*to, *cc)))
        with Relay(self.smtp) as relay:
            for position, (message, composed, everyone) in enumerate(ready):
                outcome = self._send_one(relay, message, composed, everyone)
                if outcome == "unreachable":
                    # The rest would wait for the same timeout: try them on the next run.
                    for later, _composed, _everyone in ready[position + 1 :]:
                        outbox.attempt_failed(self.store, later.id, "not tried: relay unreachable")
                    summary.still_pending += len(ready) - position
                    break
                setattr(summary, outcome, getattr(summary, outcome) + 1)

    def _send_one(
        self,
        relay: Relay,
        message: outbox.Message,
        composed: EmailMessage,
        everyone: tuple[Recipient, ...],
    ) -> str:
        """Send one message; the name of the MailSummary counter it adds to."""
        sender = self._sender()
        data = composed.as_bytes()
        envelope = [(_label(r, n), r.address) for n, r in enumerate(everyone, start=1)]

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
    return one_line(recipient.name, 60) or f"recipient {number}"


def _usable(address: str | None) -> bool:
    return address is not None and compose.is_usable_address(address)
