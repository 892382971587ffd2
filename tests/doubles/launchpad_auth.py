"""OAuth as Launchpad checks it, and launchpadlib's credentials file.

launchpadlib signs every request with OAuth 1.0 PLAINTEXT::

    Authorization: OAuth realm="OAuth", oauth_consumer_key="<consumer>",
        oauth_token="<token>", oauth_signature="%26<secret>", ...

An anonymous login sends the same header with ``oauth_token=""`` and the
signature ``&`` (empty consumer secret, empty token secret). The 401 bodies
below are Launchpad's: launchpadlib recognises "Unknown access token" and
"Expired token" and would start its interactive OAuth flow if it had an
authorization engine, so a double that answered differently would hide that.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

# launchpadlib's CREDENTIALS_FILE_VERSION: the section name of a credentials file.
CREDENTIALS_FILE_SECTION = "1"

_OAUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Token:
    """An access token the double accepts, and the account (`person`) it acts as."""

    consumer_key: str
    token: str
    secret: str
    admin: bool
    person: str


@dataclass(frozen=True)
class Viewer:
    """Who made a request: anonymous (token None) or a token holder."""

    consumer_key: str | None
    token: Token | None

    @property
    def anonymous(self) -> bool:
        return self.token is None


class Unauthorized(Exception):
    """A request Launchpad answers with 401; the message is the body."""


def _plaintext_secrets(signature: str) -> tuple[str, str]:
    """Split a PLAINTEXT signature "<consumer secret>&<token secret>" (each escaped)."""
    consumer_secret, _, token_secret = unquote(signature).partition("&")
    return unquote(consumer_secret), unquote(token_secret)


def identify(authorization: str | None, tokens: dict[tuple[str, str], Token]) -> Viewer:
    """Check an Authorization header against the known tokens, as Launchpad does."""
    if authorization is None:
        return Viewer(consumer_key=None, token=None)
    if not authorization.startswith("OAuth "):
        raise Unauthorized("Unsupported authorization scheme.")
    params = {name: unquote(value) for name, value in _OAUTH_PARAM.findall(authorization)}
    consumer_key = params.get("oauth_consumer_key", "")
    if not consumer_key:
        raise Unauthorized("Unknown consumer ().")
    if params.get("oauth_signature_method") != "PLAINTEXT":
        raise Unauthorized("Only PLAINTEXT OAuth signatures are supported.")
    token_key = params.get("oauth_token", "")
    _, token_secret = _plaintext_secrets(params.get("oauth_signature", ""))
    if not token_key:
        if token_secret:
            raise Unauthorized("Invalid signature.")
        return Viewer(consumer_key=consumer_key, token=None)
    token = tokens.get((consumer_key, token_key))
    if token is None:
        raise Unauthorized(f"Unknown access token ({token_key}).")
    if token_secret != token.secret:
        raise Unauthorized("Invalid signature.")
    return Viewer(consumer_key=consumer_key, token=token)


def write_credentials_file(path: str | Path, consumer_key: str, token: str, secret: str) -> None:
    """Write a credentials file in the format launchpadlib's Credentials.save writes.

    Readable by ``launchpadlib.credentials.Credentials.load_from_path`` and by
    ``Launchpad.login_with(credentials_file=...)``; mode 0600 as launchpadlib does.
    """
    parser = configparser.ConfigParser()
    parser.add_section(CREDENTIALS_FILE_SECTION)
    parser.set(CREDENTIALS_FILE_SECTION, "consumer_key", consumer_key)
    parser.set(CREDENTIALS_FILE_SECTION, "consumer_secret", "")
    parser.set(CREDENTIALS_FILE_SECTION, "access_token", token)
    parser.set(CREDENTIALS_FILE_SECTION, "access_secret", secret)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        parser.write(stream)
