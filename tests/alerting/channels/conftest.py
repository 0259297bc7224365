"""Real receivers on 127.0.0.1 for the channel tests, and a sample notification."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.alerting.notification import AlertView, DeliveryContext, Notification
from tests.receivers import Receiver, receiving
from tests.services import free_port

__all__ = ["LOCAL", "PUBLIC_ONLY", "alert", "free_port", "notification"]

LOCAL = DeliveryContext(external_url="http://pulse.example", allow_private=True, timeout=5)
PUBLIC_ONLY = DeliveryContext(external_url="http://pulse.example", allow_private=False, timeout=5)
STARTED = 1_800_000_000.0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as got:
        yield got


def alert(**overrides) -> AlertView:
    """A firing disk alert on web-1; ``overrides`` replace its fields."""
    values = {
        "id": 7,
        "rule_id": 3,
        "rule_name": "Disk almost full",
        "fingerprint": "a1b2c3d4e5f60718",
        "status": "firing",
        "severity": "critical",
        "labels": {
            "alertname": "Disk almost full",
            "severity": "critical",
            "host": "web-1",
            "mountpoint": "/",
        },
        "annotations": {
            "summary": "/ on web-1 is 97.3% full",
            "runbook_url": "https://wiki.example/disk",
        },
        "value": 97.25,
        "starts_at": STARTED,
        "generator_url": "http://pulse.example/alerts/rules/3",
        "ack_url": "http://pulse.example/alerts/7?ack=1",
    }
    values.update(overrides)
    return AlertView(**values)


def notification(*alerts: AlertView, **overrides) -> Notification:
    """A notification of ``alerts`` (one firing disk alert by default) to "ops"."""
    alerts = alerts or (alert(),)
    values = {
        "group_key": "3:{host=web-1}",
        "status": "firing" if any(a.status == "firing" for a in alerts) else "resolved",
        "receiver": "ops",
        "alerts": alerts,
        "group_labels": {"alertname": "Disk almost full", "host": "web-1"},
        "external_url": "http://pulse.example",
    }
    values.update(overrides)
    return Notification(**values)
