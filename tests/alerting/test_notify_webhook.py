"""Delivery through the real webhook channel: the receiver on 127.0.0.1 gets one signed
Alertmanager-shaped body for a group of alerts."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.alerting.notification import DeliveryContext
from app.alerting.notify import Deliverer, DeliveryConfig
from tests.alerting.notify_support import T0

pytest.importorskip("app.alerting.channels", reason="the channels are not in this tree")


@pytest.fixture
def hook() -> Iterator[tuple[str, list]]:
    """A webhook receiver: its URL and the (headers, body) of each post."""
    posts: list[tuple[dict, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posts.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", posts
    server.shutdown()
    server.server_close()


def test_a_group_arrives_as_one_signed_webhook(engine, alerts, hook, fence):
    url, posts = hook
    channel = alerts.channel(url, "signed hook", secret="s3")
    rule = alerts.rule("CPU high", [channel.id])
    for host in ("web-1", "web-2"):
        alerts.fire(rule, host, T0)
    context = DeliveryContext(external_url="http://pulseboard.test", allow_private=True)
    job = Deliverer(engine, fence, context, DeliveryConfig(group_wait=0.0))

    assert job.deliver(T0) == 1

    ((headers, body),) = posts
    stamp = headers["X-Pulseboard-Timestamp"]
    expected = hmac.new(b"s3", stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Pulseboard-Signature"] == f"sha256={expected}"
    sent = json.loads(body)
    assert (sent["status"], sent["receiver"], sent["groupLabels"]) == (
        "firing",
        "signed hook",
        {"alertname": "CPU high"},
    )
    assert sorted(a["labels"]["host"] for a in sent["alerts"]) == ["web-1", "web-2"]
    assert {(r.status, r.last_code) for r in alerts.rows()} == {("sent", 200)}
