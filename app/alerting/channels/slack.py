"""Slack incoming webhook: a fallback text and Block Kit blocks (header, a section with
fields per alert, link buttons, notes), every value escaped so data cannot add links or
mentions."""

from __future__ import annotations

from typing import Any

from app.alerting import templates
from app.alerting.channels.base import clip
from app.alerting.channels.http import HttpChannel, encode
from app.alerting.notification import DeliveryContext, Notification

MAX_FIELDS = 10
MAX_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_HEADER = 150


def escape(text: str) -> str:
    """``text`` safe in Slack mrkdwn: ``&``, ``<`` and ``>`` (links, mentions) escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(notification: Notification) -> dict[str, Any]:
    """The message Slack's incoming webhook takes for ``notification``."""
    msg = templates.message(notification)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(clip(msg.title, MAX_HEADER))},
    ]
    for i, alert in enumerate(msg.alerts):
        # Slack takes ten fields; further labels go into the text.
        shown, rest = alert.facts[:MAX_FIELDS], alert.facts[MAX_FIELDS:]
        parts = (
            f"*{alert.heading}*",
            alert.summary,
            alert.description,
            *(f"{k}: {v}" for k, v in rest),
        )
        text = "\n".join(escape(t) for t in parts if t)
        fields = [_mrkdwn(clip(f"*{escape(k)}*\n{escape(v)}", MAX_FIELD_TEXT)) for k, v in shown]
        blocks.append(
            {
                "type": "section",
                "text": _mrkdwn(clip(text, MAX_TEXT)),
                "fields": fields,
            }
        )
        if alert.lines:
            code = "```" + "\n".join(escape(line) for line in alert.lines) + "```"
            blocks.append({"type": "section", "text": _mrkdwn(clip(code, MAX_TEXT))})
        if alert.links:
            buttons = [
                {
                    "type": "button",
                    "text": _plain(link.text),
                    "url": link.url,
                    "action_id": f"link-{i}-{j}",
                }
                for j, link in enumerate(alert.links)
            ]
            blocks.append({"type": "actions", "elements": buttons})
    if msg.notes:
        blocks.append({"type": "context", "elements": [_mrkdwn(escape(n)) for n in msg.notes]})
    return {"text": escape(msg.title), "blocks": blocks}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


class Slack(HttpChannel):
    """POST blocks to a Slack incoming-webhook URL."""

    kind = "slack"

    def request(
        self, config: dict[str, Any], notification: Notification, context: DeliveryContext
    ) -> tuple[str, bytes, dict[str, str]]:
        """The blocks message, unsigned (the hook URL is the credential)."""
        return config["url"], encode(payload(notification)), {}
