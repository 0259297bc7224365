"""WeCom (WeChat Work) group robot: a markdown message to the robot URL with its key;
WeCom answers ``errcode`` 0 when it took the message."""

from __future__ import annotations

from typing import Any

from app.alerting import templates
from app.alerting.channels.http import HttpChannel, Reply, by_code, encode
from app.alerting.notification import Answer, DeliveryContext, Notification

MAX_BYTES = 4096
BUSY = frozenset({45009})
"""WeCom's "API frequency out of limit"."""


def payload(notification: Notification) -> dict[str, Any]:
    """The markdown message for ``notification``, cut to WeCom's 4096 bytes."""
    msg = templates.message(notification)
    esc = templates.escape_markdown
    content = f"### {esc(msg.title)}\n\n{templates.markdown(msg, esc)}"
    if len(content.encode()) > MAX_BYTES:
        content = content.encode()[: MAX_BYTES - 3].decode("utf-8", errors="ignore") + "…"
    return {"msgtype": "markdown", "markdown": {"content": content}}


class WeCom(HttpChannel):
    """POST markdown to a WeCom robot's webhook URL."""

    kind = "wecom"

    def request(
        self, config: dict[str, Any], notification: Notification, context: DeliveryContext
    ) -> tuple[str, bytes, dict[str, str]]:
        """The markdown body, unsigned (the ``key`` in the URL is the credential)."""
        return config["url"], encode(payload(notification)), {}

    def judge(self, reply: Reply) -> Answer:
        """Taken only when WeCom says ``errcode`` 0."""
        return by_code(reply, ("errcode",), "errmsg", BUSY)
