"""Notification channels: one module per kind behind the ``Channel`` protocol, chosen by
``kind`` from one explicit registry."""

from __future__ import annotations

from typing import Any

from app.alerting.channels.alertmanager import Alertmanager
from app.alerting.channels.apprise import AppriseURL
from app.alerting.channels.base import Channel, ChannelConfigError
from app.alerting.channels.dingtalk import DingTalk
from app.alerting.channels.email import Email
from app.alerting.channels.feishu import Feishu
from app.alerting.channels.slack import Slack
from app.alerting.channels.webhook import Webhook
from app.alerting.channels.wecom import WeCom
from app.alerting.notification import Answer, DeliveryContext, Notification

KINDS: dict[str, Channel] = {
    channel.kind: channel
    for channel in (
        Webhook(),
        Slack(),
        DingTalk(),
        Feishu(),
        WeCom(),
        Email(),
        Alertmanager(),
        AppriseURL(),
    )
}

__all__ = ["KINDS", "Channel", "ChannelConfigError", "channel", "send", "validate"]


def channel(kind: str) -> Channel:
    """The channel of ``kind``; ChannelConfigError naming ``kind`` if there is none."""
    try:
        return KINDS[kind]
    except (KeyError, TypeError):
        raise ChannelConfigError("kind", f"must be one of {', '.join(KINDS)}") from None


def validate(kind: str, config: dict[str, Any], context: DeliveryContext) -> dict[str, Any]:
    """The config of a channel of ``kind`` checked and normalised (only its own fields);
    ChannelConfigError naming the field at fault otherwise."""
    if not isinstance(config, dict):
        raise ChannelConfigError("config", "must be an object")
    return channel(kind).validate(config, context)


def send(
    kind: str, config: dict[str, Any], notification: Notification, context: DeliveryContext
) -> Answer:
    """Deliver ``notification`` through a channel of ``kind`` with its saved ``config``;
    the URL is checked again now, so a config saved under another policy is refused."""
    return channel(kind).send(config, notification, context)
