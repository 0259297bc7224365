"""Generic webhook: Alertmanager's webhook body (version 4), so receivers written for
Alertmanager work unchanged, plus ``ackURL`` per alert; HMAC-signed when a secret is set."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from app.alerting.channels.base import rfc3339
from app.alerting.channels.http import HttpChannel, encode
from app.alerting.notification import AlertView, DeliveryContext, Notification


def payload(notification: Notification, context: DeliveryContext) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) for ``notification``, with ``ackURL`` and,
    for a log rule's alert, the matching ``lines``."""
    return {
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": 0,
        "status": notification.status,
        "receiver": notification.receiver,
        "groupLabels": notification.group_labels,
        "commonLabels": notification.common_labels,
        "commonAnnotations": notification.common_annotations,
        "externalURL": notification.external_url or context.external_url,
        "alerts": [_alert(a) for a in notification.alerts],
    }


def _alert(a: AlertView) -> dict[str, Any]:
    body = {
        "status": a.status,
        "labels": a.labels,
        "annotations": a.annotations,
        "startsAt": rfc3339(a.starts_at),
        "endsAt": rfc3339(a.ends_at if a.status == "resolved" else None),
        "generatorURL": a.generator_url,
        "fingerprint": a.fingerprint,
        "ackURL": a.ack_url,
    }
    if a.lines:
        body["lines"] = list(a.lines)
    return body


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Pulseboard-Signature`` value: HMAC-SHA256 of ``<timestamp>.<body>``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class Webhook(HttpChannel):
    """POST the Alertmanager-style body to any URL."""

    kind = "webhook"
    signs = True

    def request(
        self, config: dict[str, Any], notification: Notification, context: DeliveryContext
    ) -> tuple[str, bytes, dict[str, str]]:
        """The body, and the timestamp and signature headers when a secret is set."""
        body = encode(payload(notification, context))
        headers = {}
        if secret := config.get("secret"):
            timestamp = str(int(time.time()))
            headers = {
                "X-Pulseboard-Timestamp": timestamp,
                "X-Pulseboard-Signature": signature(secret, timestamp, body),
            }
        return config["url"], body, headers
