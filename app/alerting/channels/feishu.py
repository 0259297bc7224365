"""Feishu / Lark custom bot: an interactive card, signed with the bot's secret when set;
Feishu answers ``code`` 0 (older bots: ``StatusCode`` 0) when it took the message."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from app.alerting import templates
from app.alerting.channels.http import HttpChannel, Reply, by_code, encode
from app.alerting.notification import Answer, DeliveryContext, Notification

BUSY = frozenset({11232, 9499})
"""Feishu's rate-limit codes."""


def sign(secret: str, timestamp_s: str) -> str:
    """Feishu's ``sign``: base64 HMAC-SHA256 keyed by ``<s>\\n<secret>`` over nothing."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def payload(notification: Notification) -> dict[str, Any]:
    """The interactive card for ``notification`` (header coloured by severity)."""
    msg = templates.message(notification)
    critical = any(a.status == "firing" and a.severity == "critical" for a in notification.alerts)
    colour = "green" if notification.status == "resolved" else "red" if critical else "orange"
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {"template": colour, "title": {"tag": "plain_text", "content": msg.title}},
            "elements": [
                {"tag": "markdown", "content": templates.markdown(msg, templates.escape_markdown)}
            ],
        },
    }


class Feishu(HttpChannel):
    """POST a card to a Feishu bot's webhook URL."""

    kind = "feishu"
    signs = True

    def request(
        self, config: dict[str, Any], notification: Notification, context: DeliveryContext
    ) -> tuple[str, bytes, dict[str, str]]:
        """The card, with ``timestamp`` and ``sign`` in the body when a secret is set."""
        body = payload(notification)
        if secret := config.get("secret"):
            timestamp = str(int(time.time()))
            body = {"timestamp": timestamp, "sign": sign(secret, timestamp), **body}
        return config["url"], encode(body), {}

    def judge(self, reply: Reply) -> Answer:
        """Taken only when Feishu says ``code`` 0 (or ``StatusCode`` 0)."""
        return by_code(reply, ("code", "StatusCode"), "msg", BUSY)
