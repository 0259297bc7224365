"""The alerts WebSocket against a real threaded server, on both live-bus backends: who may
connect, and every action on an alert pushed as it commits."""

from __future__ import annotations

import json
import threading

import pytest
import websocket
from werkzeug.serving import make_server

from tests.app.alert_helpers import ALERTS, firing, stored_rule
from tests.app.auth_helpers import bearer, make_token, runtime_of
from tests.conftest import wait_until

STREAM = "/api/v1/admin/alerts/stream"


@pytest.fixture(params=["memory", "redis"])
def served(request, make_app):
    """An app behind a real threaded HTTP server, its live bus in process or in Redis."""
    redis_url = request.getfixturevalue("shared_redis_url") if request.param == "redis" else None
    app = make_app(redis_url=redis_url)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, server.server_port
    server.shutdown()


def connect(port: int, token: str | None, origin: str | None = None):
    return websocket.create_connection(
        f"ws://127.0.0.1:{port}{STREAM}",
        header=[f"Authorization: Bearer {token}"] if token else [],
        timeout=10,
        origin=origin,
        suppress_origin=origin is None,
    )


def test_only_readers_from_our_origin_may_connect(served):
    app, port = served
    for token, status in ((None, 401), (make_token(app, "ingest"), 403)):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            connect(port, token)
        assert refused.value.status_code == status
    analyst = make_token(app, "analyst")
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(port, analyst, origin="https://evil.example")
    assert refused.value.status_code == 403
    connect(port, analyst, origin=f"http://127.0.0.1:{port}").close()


def test_each_action_on_an_alert_is_pushed_with_the_alert(served):
    app, port = served
    rt = runtime_of(app)
    alert = firing(rt, stored_rule(rt))
    token = make_token(app, "analyst")
    client = app.server.test_client()
    url = f"{ALERTS}/{alert.id}"

    def comment(text: str) -> None:
        client.post(f"{url}/comment", json={"comment": text}, headers=bearer(token))

    ws = connect(port, token)
    try:
        # The route subscribes after the upgrade: comment until a comment comes through.
        ws.settimeout(0.5)
        wait_until(lambda: comment("probe") or _frame(ws), 10)
        ws.settimeout(10)
        client.post(f"{url}/ack", json={"comment": "mine"}, headers=bearer(token))
        comment("ordered")
        frames = [json.loads(ws.recv())]
        while frames[0]["event"] == "commented":  # a probe that came late
            frames = [json.loads(ws.recv())]
        frames.append(json.loads(ws.recv()))
    finally:
        ws.close()
    assert [(f["type"], f["event"]) for f in frames] == [
        ("alert", "acknowledged"),
        ("alert", "commented"),
    ]
    assert frames[0]["alert"]["id"] == alert.id
    assert frames[0]["alert"]["acknowledged"]["comment"] == "mine"
    assert frames[1]["alert"]["rule_name"] == alert.rule_name


def _frame(ws) -> dict | None:
    """The next frame, or None when none comes within the socket's timeout."""
    try:
        return json.loads(ws.recv())
    except websocket.WebSocketTimeoutException:
        return None
