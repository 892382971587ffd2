"""Handing messages to the SMTP relay, at most once each.

The relay takes responsibility for a message when it answers 250 to the final "."
of DATA. If the process dies after that answer but before the outbox says "sent",
a retry would send the message twice; if it records "sent" before the relay has the
message, a crash loses it instead. This module takes the second risk, made as small as
SMTP allows: envelope and data go out first, then the caller commits "sent", and only
then does the final ".\\r\\n" go out. Until that dot, the relay discards everything on a
dropped connection, so a failure at any earlier point leaves the message pending and
safe to retry. A refusal of the dot itself (rare: content filters, a full queue) is
recorded as failed-after-commit and never retried, because the same relay may have
delivered to some recipients.

Security: `tls` wraps the connection from the start (SMTPS, port 465); `starttls`
upgrades it and fails when the relay does not offer STARTTLS, never falling back to
plain text. Certificates are verified against the system's trust store (which
honours SSL_CERT_FILE) unless `skip_verify` was explicitly asked for.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from phased_updater.errors import error_text
from phased_updater.watchdog import WATCHDOG

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
_ENHANCED_STATUS = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}(?!\S)")
# Errors that mean "the relay was not reached or dropped us": try again next run.
TRANSIENT = (smtplib.SMTPException, OSError)


class SmtpSettings(Protocol):
    """The relay settings `SmtpConfig.from_settings` reads (config.Settings has them)."""

    @property
    def smtp_host(self) -> str | None: ...
    @property
    def smtp_port(self) -> int: ...
    @property
    def smtp_user(self) -> str | None: ...
    @property
    def smtp_password_file(self) -> Path | None: ...
    @property
    def smtp_auth(self) -> str: ...
    @property
    def smtp_security(self) -> str: ...
    @property
    def smtp_skip_verify(self) -> bool: ...
    @property
    def smtp_timeout(self) -> float: ...


class ConfigurationProblem(Exception):
    """The mail settings cannot work (say, an unreadable password file)."""


class NotAccepted(Exception):
    """The relay did not take this message before its data was committed: retry later."""


class Unreachable(NotAccepted):
    """No session with the relay could be opened (down, TLS or AUTH failure)."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str = "none"  # none | starttls | tls
    auth: str = "none"  # none | plain
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    skip_verify: bool = False
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_settings(cls, settings: SmtpSettings) -> SmtpConfig | None:
        """None when email is off (no host); raises ConfigurationProblem when it cannot work."""
        if settings.smtp_host is None:
            return None
        password = None
        if settings.smtp_auth == "plain":
            if not settings.smtp_user or settings.smtp_password_file is None:
                raise ConfigurationProblem("smtp_auth plain needs smtp_user and smtp_password_file")
            password = read_password(settings.smtp_password_file)
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            auth=settings.smtp_auth,
            user=settings.smtp_user,
            password=password,
            skip_verify=settings.smtp_skip_verify,
            timeout=settings.smtp_timeout,
        )

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def read_password(path: Path) -> str:
    """The first line of the file; the password itself never appears in a message."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ConfigurationProblem(f"smtp_password_file {str(path)!r}: {reason}") from None
    password = text.splitlines()[0] if text else ""
    if not password:
        raise ConfigurationProblem(f"smtp_password_file {str(path)!r}: empty")
    return password


def _reply(code: int, text: bytes | str) -> str:
    """The reply's code and its enhanced status code (RFC 3463), never the relay's text.

    A relay's text may quote what it was sent; "550 5.1.1" says enough to act on.
    """
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    enhanced = _ENHANCED_STATUS.match(message.strip())
    return f"{code} {enhanced.group(0)}" if enhanced else str(code)


def _dot_stuffed(data: bytes) -> bytes:
    """The DATA payload without its terminator: leading dots doubled, CRLF at the end."""
    data = re.sub(rb"(?:\r\n|\r|\n)", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


@dataclass(frozen=True)
class Sent:
    refused: tuple[str, ...] = ()  # recipients the relay refused: roles and codes, no addresses
    after_commit_error: str | None = None  # the relay refused the final "."


class Relay:
    """One connection to the relay, reused for every message of a run."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except TRANSIENT:
                self._smtp.close()
            self._smtp = None

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        smtp: smtplib.SMTP
        if config.security == "tls":
            smtp = smtplib.SMTP_SSL(timeout=config.timeout, context=config.tls_context())
        else:
            smtp = smtplib.SMTP(timeout=config.timeout)
        # The whole session setup (the greeting, EHLO, TLS, AUTH) within one timeout: a
        # relay trickling its greeting line by line cannot hold the run.
        with WATCHDOG.guard(config.timeout, [smtp]):
            self._open(smtp)
        return smtp

    def _open(self, smtp: smtplib.SMTP) -> None:
        config = self.config
        # What SMTP(host, port) records for TLS's server_hostname; connect() does not.
        smtp._host = config.host  # type: ignore[attr-defined]
        try:
            code, greeting = smtp.connect(config.host, config.port)
            if code != 220:  # what SMTP(host, port) checks; connect() alone does not
                raise smtplib.SMTPConnectError(code, greeting)
            smtp.ehlo()
            if config.security == "starttls":
                # starttls() raises SMTPNotSupportedError when it is not offered: no fallback.
                smtp.starttls(context=config.tls_context())
                smtp.ehlo()
            if config.auth == "plain":
                if config.security == "none":
                    log.warning(
                        "AUTH PLAIN to %s without TLS sends the password in clear", config.host
                    )
                smtp.user, smtp.password = config.user or "", config.password or ""
                smtp.auth("PLAIN", smtp.auth_plain)
        except BaseException:
            smtp.close()
            raise

    def _session(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._connect()
        return self._smtp

    def send(
        self,
        data: bytes,
        sender: str,
        recipients: list[tuple[str, str]],
        commit: Callable[[tuple[str, ...]], None],
    ) -> Sent:
        """Send `data` to `recipients` ((label, address) pairs), calling `commit` before the dot.

        Raises NotAccepted for anything that happens before `commit` (the message is
        not delivered and may be retried). After `commit`, never raises for the relay.
        """
        # A socket timeout and the deadline say the same: no answer in time.
        cut = f"the relay gave no complete answer within {self.config.timeout:g} s"
        try:
            smtp = self._session()
        except TRANSIENT as error:
            raise Unreachable(cut if _timed_out(error) else _describe(error)) from error
        # One message within one timeout, whatever the relay trickles.
        with WATCHDOG.guard(self.config.timeout, [smtp]) as guard:
            try:
                sent = self._send(smtp, data, sender, recipients, commit)
            except NotAccepted as error:
                if guard.expired or _timed_out(error):
                    raise NotAccepted(cut) from error
                raise
        if guard.expired and sent.after_commit_error is not None:
            return Sent(sent.refused, f"after the data was committed: {cut}")
        return sent

    def _send(
        self,
        smtp: smtplib.SMTP,
        data: bytes,
        sender: str,
        recipients: list[tuple[str, str]],
        commit: Callable[[tuple[str, ...]], None],
    ) -> Sent:
        try:
            code, text = smtp.mail(sender)
            if code != 250:
                raise NotAccepted(f"MAIL FROM refused: {_reply(code, text)}")
            accepted, refused = 0, []
            for label, address in recipients:
                code, _text = smtp.rcpt(address)
                if code in (250, 251):
                    accepted += 1
                else:
                    refused.append(f"{label} refused ({code})")
            if not accepted:
                raise NotAccepted(f"every recipient refused: {', '.join(refused)}")
            smtp.putcmd("data")
            code, text = smtp.getreply()
            if code != 354:
                raise NotAccepted(f"DATA refused: {_reply(code, text)}")
            smtp.send(_dot_stuffed(data))
        except NotAccepted:
            self._reset()
            raise
        except TRANSIENT as error:
            self._drop()
            raise NotAccepted(_describe(error)) from error
        commit(tuple(refused))
        try:
            smtp.send(b".\r\n")
            code, text = smtp.getreply()
        except TRANSIENT as error:
            self._drop()
            return Sent(tuple(refused), f"after the data was committed: {_describe(error)}")
        if code != 250:
            self._reset()
            return Sent(tuple(refused), f"refused after the data: {_reply(code, text)}")
        return Sent(tuple(refused))

    def _reset(self) -> None:
        """Back to a clean session after a refusal, or drop it if even that fails."""
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except TRANSIENT:
            self._drop()


def _timed_out(error: BaseException) -> bool:
    """Whether a socket timeout or the deadline is behind `error`: smtplib reports
    one as SMTPServerDisconnected("Connection unexpectedly closed: timed out")."""
    seen: BaseException | None = error
    for _ in range(10):  # the chain of causes, never a cycle
        if seen is None:
            return False
        if isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _describe(error: BaseException) -> str:
    """A one-line reason: the reply code, never the relay's text (see `error_text`)."""
    return error_text(error)
