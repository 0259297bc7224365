"""Delivery through the real webhook channel: the receiver on 127.0.0.1 gets one signed
Alertmanager-shaped body for a group of alerts."""

from __future__ import annotations

import hashlib
import hmac

from tests.alerting.notify_support import T0, deliverer, hosts


def test_a_group_arrives_as_one_signed_webhook(engine, alerts, receiver, fence):
    channel = alerts.channel(receiver, "signed hook", secret="s3")
    rule = alerts.rule("CPU high", [channel.id])
    for host in ("web-1", "web-2"):
        alerts.fire(rule, host, T0)

    assert deliverer(engine, fence).deliver(T0) == 1

    (request,) = receiver.requests
    stamp = request.headers["X-Pulseboard-Timestamp"]
    signed = hmac.new(b"s3", stamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Pulseboard-Signature"] == f"sha256={signed}"
    body = request.json()
    assert (body["version"], body["status"], body["receiver"], body["groupLabels"]) == (
        "4",
        "firing",
        "signed hook",
        {"alertname": "CPU high"},
    )
    assert body["groupKey"] == alerts.rows()[0].group_key
    assert body["externalURL"] == "http://pulseboard.test"
    assert hosts(body) == ["web-1", "web-2"]
    assert {(r.status, r.last_code) for r in alerts.rows()} == {("sent", 200)}
