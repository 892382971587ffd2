"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives.

    with SmtpServer() as server:            # plain
    with SmtpServer(security="tls", certificate=cert):       # SMTPS
    with SmtpServer(security="starttls", certificate=cert, users={"u": "p"}):

`server.received` lists every message whose final "." the server answered with 250.
`refuse_data` makes the server answer the final "." with that reply instead (the
message is then not kept), `refuse_rcpt` refuses chosen addresses at RCPT TO.

`make_certificate` writes a self-signed certificate for 127.0.0.1 and localhost with
the `cryptography` package; point SSL_CERT_FILE at it to make the client trust it.
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from ipaddress import IPv4Address
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificate(directory: Path, name: str = "localhost") -> Certificate:
    """A self-signed certificate valid for `name` and 127.0.0.1, from now to a day on.

    Test-only: its own CA, no clock dependency that matters (a wide validity window).
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name), x509.IPAddress(IPv4Address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)


def free_port() -> int:
    """A port nothing listens on right now (for a "relay is down" test, or to bind)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None  # the AUTH user, if the client authenticated

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.SMTP)


@dataclass
class _Handler:
    refuse_data: str | None = None
    refuse_rcpt: frozenset[str] = frozenset()
    received: list[Received] = field(default_factory=list)
    data_commands: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse_rcpt:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.data_commands += 1
            if self.refuse_data is not None:
                return self.refuse_data
            login = session.auth_data
            self.received.append(
                Received(
                    envelope.mail_from,
                    tuple(envelope.rcpt_tos),
                    bytes(envelope.original_content or envelope.content),
                    login.decode() if isinstance(login, bytes) else login,
                )
            )
        return "250 2.0.0 queued"


class SmtpServer:
    """aiosmtpd in a thread on 127.0.0.1; `security` is none, starttls or tls."""

    def __init__(
        self,
        *,
        security: str = "none",
        certificate: Certificate | None = None,
        users: dict[str, str] | None = None,
        refuse_data: str | None = None,
        refuse_rcpt: tuple[str, ...] = (),
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.users = users
        self.handler = _Handler(refuse_data, frozenset(refuse_rcpt))
        options: dict[str, Any] = {}
        if users is not None:
            # A relay reached over plain TCP may still want AUTH (the client warns).
            options.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=security == "starttls",
            )
        if security == "starttls":
            assert certificate is not None
            options.update(tls_context=certificate.server_context(), require_starttls=True)
        ssl_context = None
        if security == "tls":
            assert certificate is not None
            ssl_context = certificate.server_context()
        self.controller = Controller(
            self.handler,
            hostname=HOST,
            port=self.port,
            ssl_context=ssl_context,
            server_hostname="localhost",
            **options,
        )

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if mechanism != "PLAIN" or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        ok = self.users is not None and self.users.get(user) == password
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    @property
    def data_commands(self) -> int:
        """How many DATA transactions reached their final "." (kept or refused)."""
        with self.handler.lock:
            return self.handler.data_commands

    def start(self) -> Self:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class TricklingRelay:
    """A relay on a bad link (or a hostile one): its greeting comes one line every
    `delay` seconds, `lines` continuation lines before the final "220". Every line
    resets a socket timeout, so only a deadline gets the sender out. `sent` counts
    the greeting lines that went out before the client hung up."""

    def __init__(self, delay: float = 0.5, lines: int = 120) -> None:
        self.delay = delay
        self.lines = lines
        self.sent = 0
        self._listener = socket.create_server((HOST, 0))
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="trickling-relay", daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def _serve(self) -> None:
        self._listener.settimeout(0.05)
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._greet, args=(connection,), daemon=True).start()

    def _greet(self, connection: socket.socket) -> None:
        with connection:
            try:
                for _ in range(self.lines):
                    connection.sendall(b"220-relay.example ESMTP, please wait\r\n")
                    self.sent += 1
                    if self._stopping.wait(self.delay):
                        return
                connection.sendall(b"220 relay.example ready\r\n")
            except OSError:
                return  # the client gave up

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._listener.close()
        self._thread.join(timeout=5)
