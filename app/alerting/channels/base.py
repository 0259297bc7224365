"""What every channel kind is: a ``validate`` that checks and normalises its config, and a
``send`` that turns a notification into the receiver's payload and reports its answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from app.alerting import urls
from app.alerting.notification import Answer, DeliveryContext, Notification

ANSWER_CHARS = 500
"""How much of a receiver's reply an answer keeps."""
MAX_SECRET = 512
ZERO_TIME = "0001-01-01T00:00:00Z"
"""Go's zero time, which Alertmanager sends as ``endsAt`` while an alert fires."""


class ChannelConfigError(ValueError):
    """A channel config refused, naming the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Channel(Protocol):
    """One kind of receiver."""

    kind: str

    def validate(self, config: dict[str, Any], context: DeliveryContext) -> dict[str, Any]:
        """The kind's fields of ``config``, checked and normalised; ChannelConfigError
        naming the field otherwise. Other keys are dropped."""
        ...

    def send(
        self, config: dict[str, Any], notification: Notification, context: DeliveryContext
    ) -> Answer:
        """Deliver ``notification`` to the receiver ``config`` names and say what it answered."""
        ...


def url_field(config: dict[str, Any], context: DeliveryContext, name: str = "url") -> str:
    """The checked receiver URL in ``config[name]``, refused as that field if unsafe."""
    try:
        return urls.check(config.get(name), allow_private=context.allow_private).url
    except urls.RefusedURL as exc:
        raise ChannelConfigError(name, str(exc)) from exc


def secret_field(config: dict[str, Any]) -> str | None:
    """The optional signing secret in ``config["secret"]``, stripped (None when empty)."""
    secret = config.get("secret")
    if secret is None or secret == "":
        return None
    if not isinstance(secret, str):
        raise ChannelConfigError("secret", "must be a string")
    if len(secret) > MAX_SECRET:
        raise ChannelConfigError("secret", f"must be at most {MAX_SECRET} characters")
    return secret.strip() or None


def rfc3339(ts: float | None) -> str:
    """An epoch time as Alertmanager writes times (``ZERO_TIME`` for none)."""
    if ts is None:
        return ZERO_TIME
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
