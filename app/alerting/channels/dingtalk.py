"""DingTalk custom robot: a markdown message, signed with the robot's secret when set;
DingTalk answers 200 with ``errcode`` 0 when it took the message."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from typing import Any
from urllib.parse import quote_plus

from app.alerting import templates
from app.alerting.channels.base import ChannelConfigError, clip
from app.alerting.channels.http import HttpChannel, Reply, by_code, encode
from app.alerting.notification import Answer, DeliveryContext, Notification

MAX_TEXT = 18000
MOBILE = re.compile(r"\+?[0-9][0-9-]{4,19}")
BUSY = frozenset({130101, 130102})
"""DingTalk's "sending too fast" codes (a robot takes 20 messages a minute)."""


def sign(secret: str, timestamp_ms: str) -> str:
    """DingTalk's ``sign``: base64 HMAC-SHA256 keyed by the secret over ``<ms>\\n<secret>``."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def signed_url(url: str, secret: str, timestamp_ms: str) -> str:
    """``url`` with DingTalk's ``timestamp`` and URL-encoded ``sign`` appended."""
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={quote_plus(sign(secret, timestamp_ms))}"


def payload(notification: Notification, at_mobiles: list[str]) -> dict[str, Any]:
    """The markdown message for ``notification``, mentioning ``at_mobiles``."""
    msg = templates.message(notification)
    esc = templates.escape_markdown
    text = f"### {esc(msg.title)}\n\n{templates.markdown(msg, esc)}"
    # DingTalk notifies a mobile only if the text names it too.
    mentions = " ".join(f"@{m}" for m in at_mobiles)
    text = clip(text, MAX_TEXT - len(mentions) - 2) + (f"\n\n{mentions}" if mentions else "")
    return {
        "msgtype": "markdown",
        "markdown": {"title": msg.title, "text": text},
        "at": {"atMobiles": at_mobiles, "isAtAll": False},
    }


class DingTalk(HttpChannel):
    """POST markdown to a DingTalk robot's webhook URL."""

    kind = "dingtalk"
    signs = True

    def validate(self, config: dict[str, Any], context: DeliveryContext) -> dict[str, Any]:
        """``url``, optional ``secret`` and optional ``at_mobiles`` (phone numbers)."""
        checked = super().validate(config, context)
        mobiles = config.get("at_mobiles") or []
        if not isinstance(mobiles, list) or not all(
            isinstance(m, str) and MOBILE.fullmatch(m.strip()) for m in mobiles
        ):
            raise ChannelConfigError("at_mobiles", "must be a list of phone numbers")
        if mobiles:
            checked["at_mobiles"] = [m.strip() for m in mobiles]
        return checked

    def request(
        self, config: dict[str, Any], notification: Notification, context: DeliveryContext
    ) -> tuple[str, bytes, dict[str, str]]:
        """The markdown body, to the URL signed with the current time when a secret is set."""
        url = config["url"]
        if secret := config.get("secret"):
            url = signed_url(url, secret, str(int(time.time() * 1000)))
        return url, encode(payload(notification, config.get("at_mobiles", []))), {}

    def judge(self, reply: Reply) -> Answer:
        """Taken only when DingTalk says ``errcode`` 0."""
        return by_code(reply, ("errcode",), "errmsg", BUSY)
