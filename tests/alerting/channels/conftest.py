"""Real receivers on 127.0.0.1 for the channel tests, and a sample notification."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.alerting.notification import AlertView, DeliveryContext, Notification
from tests.services import free_port

__all__ = ["LOCAL", "PUBLIC_ONLY", "alert", "free_port", "notification"]

LOCAL = DeliveryContext(external_url="http://pulse.example", allow_private=True, timeout=5)
PUBLIC_ONLY = DeliveryContext(external_url="http://pulse.example", allow_private=False, timeout=5)
STARTED = 1_800_000_000.0


@dataclass
class Request:
    """One request a receiver took."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records requests and answers from ``replies``
    (then 200 ``{"ok": true}``)."""

    server: ThreadingHTTPServer
    requests: list[Request] = field(default_factory=list)
    replies: list[tuple[int, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def reply(self, status: int, body: str = "", **headers: str) -> None:
        """Answer the next request with ``status`` and ``body``."""
        self.replies.append((status, body))
        self.headers.update(headers)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            got = holder[0]
            length = int(self.headers.get("Content-Length") or 0)
            got.requests.append(
                Request(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
            )
            status, body = got.replies.pop(0) if got.replies else (200, '{"ok": true}')
            data = body.encode()
            self.send_response(status)
            for name, value in got.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield holder[0]
    server.shutdown()
    server.server_close()
    thread.join()


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
