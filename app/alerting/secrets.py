"""Channel secrets at rest and on screen: configs are stored encrypted (Fernet, with a key
derived from the server's secret key) and shown with their secret and URL tokens masked."""

from __future__ import annotations

import base64
import json
import re
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

HIDDEN = "••••••"
SECRET_QUERY_KEYS = frozenset(
    {"access_token", "token", "key", "secret", "sign", "api_key", "apikey", "password", "auth"}
)
"""Query parameters that carry a receiver's credential (DingTalk access_token, WeCom key…)."""
TOKEN_SEGMENT = re.compile(r"(?=.*[A-Za-z])(?=.*\d)[\w-]{8,}|[\w-]{24,}")
"""A path segment that looks like a token: Slack's /services/T…/B…/<token>, Feishu's
/hook/<token>. Short words (api, v2, hook) are left readable."""


class SecretError(ValueError):
    """A stored config that this server's key cannot open (another key, or tampered)."""


class SecretBox:
    """Encrypts and decrypts channel configs with a key derived from ``secret_key``."""

    def __init__(self, secret_key: str) -> None:
        self._secret_key = secret_key

    @cached_property
    def _fernet(self) -> Fernet:
        # cryptography's bindings hold about 10 MiB once loaded: a server whose channels
        # are never sealed or opened does without them.
        from cryptography.fernet import Fernet
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=b"pulseboard alert channel secrets",
        ).derive(self._secret_key.encode())
        return Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, text: str) -> str:
        """``text`` encrypted and authenticated, as an ASCII token."""
        return self._fernet.encrypt(text.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The text ``encrypt`` sealed into ``token``; SecretError if it cannot be opened."""
        fernet = self._fernet
        from cryptography.fernet import InvalidToken  # loaded by self._fernet already

        try:
            return fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise SecretError("the stored channel config cannot be decrypted") from exc

    def seal(self, config: dict[str, Any]) -> str:
        """A channel config, encrypted whole (its URL may carry a token too)."""
        return self.encrypt(json.dumps(config, sort_keys=True))

    def open(self, token: str) -> dict[str, Any]:
        """The config ``seal`` encrypted into ``token``."""
        return json.loads(self.decrypt(token))


def hide(value: str) -> str:
    """``value`` masked: its last two characters when it is long enough to keep them secret."""
    return "••••" + value[-2:] if len(value) >= 12 else HIDDEN


def mask(config: dict[str, Any], kind: str | None = None) -> dict[str, Any]:
    """A copy of a channel's ``config`` fit to show: ``secret`` masked, and the tokens in
    ``url`` (for an Apprise URL, as Apprise itself hides them)."""
    shown = dict(config)
    if shown.get("secret"):
        shown["secret"] = hide(str(shown["secret"]))
    if isinstance(shown.get("url"), str):
        apprise_url = (kind or shown.get("kind")) == "apprise"
        shown["url"] = _mask_apprise_url(shown["url"]) if apprise_url else mask_url(shown["url"])
    return shown


def mask_url(url: str) -> str:
    """``url`` with its password, credential query values and token-like path segments
    masked; scheme, host, port and the shape of the path stay readable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return HIDDEN
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if port is not None:
        netloc += f":{port}"
    if parts.username is not None:
        user = _mask_segment(parts.username)
        netloc = f"{user}:{HIDDEN}@{netloc}" if parts.password is not None else f"{user}@{netloc}"
    path = "/".join(_mask_segment(s) for s in parts.path.split("/"))
    query = "&".join(_mask_parameter(p) for p in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


def _mask_segment(segment: str) -> str:
    return hide(segment) if TOKEN_SEGMENT.fullmatch(segment) else segment


def _mask_parameter(pair: str) -> str:
    name, sep, value = pair.partition("=")
    return (
        f"{name}={hide(unquote(value))}"
        if sep and unquote(name).lower() in SECRET_QUERY_KEYS
        else pair
    )


def _mask_apprise_url(url: str) -> str:
    import apprise  # a few MiB: loaded once an Apprise channel is shown

    plugin = apprise.Apprise.instantiate(url)
    return plugin.url(privacy=True) if plugin else mask_url(url)
