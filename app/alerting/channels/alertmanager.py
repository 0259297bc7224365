"""An existing Alertmanager: the alerts posted to its ``/api/v2/alerts``, so a team that
routes through Alertmanager keeps its routing, inhibition and HA. ``endsAt`` is set only
on resolve; while firing, Alertmanager expects the alerts again before its
``resolve_timeout`` (the pipeline's repeats do that)."""

from __future__ import annotations

import time
from typing import Any

from app.alerting.channels.base import rfc3339
from app.alerting.channels.http import HttpChannel, encode
from app.alerting.notification import DeliveryContext, Notification

API_PATH = "/api/v2/alerts"


def payload(notification: Notification) -> list[dict[str, Any]]:
    """The postable alerts of ``notification`` as Alertmanager's API v2 takes them."""
    alerts = []
    for a in notification.alerts:
        labels = {"alertname": a.rule_name, **a.labels}
        if a.severity:
            labels.setdefault("severity", a.severity)
        alert = {
            "labels": labels,
            "annotations": a.annotations,
            "startsAt": rfc3339(a.starts_at),
            "generatorURL": a.generator_url,
        }
        if a.status == "resolved":
            alert["endsAt"] = rfc3339(a.ends_at if a.ends_at is not None else time.time())
        alerts.append(alert)
    return alerts


def alerts_url(base: str) -> str:
    """The alerts endpoint of the Alertmanager at ``base`` (its API path added once)."""
    base = base.rstrip("/")
    return base if base.endswith(API_PATH) else base + API_PATH


class Alertmanager(HttpChannel):
    """POST the alerts to an Alertmanager's API v2."""

    kind = "alertmanager"

    def request(
        self, config: dict[str, Any], notification: Notification, context: DeliveryContext
    ) -> tuple[str, bytes, dict[str, str]]:
        """The alerts list to ``<url>/api/v2/alerts``."""
        return alerts_url(config["url"]), encode(payload(notification)), {}
