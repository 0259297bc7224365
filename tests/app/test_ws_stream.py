"""The live metrics WebSocket against a real threaded server, on both live-bus backends."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import websocket
from werkzeug.serving import make_server

from storage.live import METRICS_CHANNEL
from tests.conftest import Accounts

STREAM = "/api/v1/admin/monitoring/stream"
TOTAL = 400


@pytest.fixture(params=["memory", "redis"])
def served(request, make_app):
    """A collecting app (1 s interval) behind a real threaded HTTP server."""
    redis_url = request.getfixturevalue("shared_redis_url") if request.param == "redis" else None
    app = make_app(redis_url=redis_url, start_scheduler=True)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"ws://127.0.0.1:{server.server_port}"
    server.shutdown()


def connect(
    base: str,
    token: str | None,
    origin: str | None = None,
    timeout: float = 10,
    sockopt: tuple = (),
):
    headers = [f"Authorization: Bearer {token}"] if token else []
    return websocket.create_connection(
        base + STREAM,
        header=headers,
        timeout=timeout,
        origin=origin,
        suppress_origin=origin is None,
        sockopt=sockopt,
    )


def test_anonymous_upgrade_is_refused_with_401(served):
    _, base = served
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(base, None)
    assert refused.value.status_code == 401


def test_ingest_token_is_refused_with_403(served):
    app, base = served
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(base, Accounts(app).token("ingest"))
    assert refused.value.status_code == 403


def test_foreign_origin_is_refused_but_own_origin_is_accepted(served):
    app, base = served
    token = Accounts(app).token("analyst")
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(base, token, origin="https://evil.example")
    assert refused.value.status_code == 403
    own = base.replace("ws://", "http://")
    connect(base, token, origin=own).close()


def test_every_collection_is_pushed_with_its_samples(served):
    app, base = served
    ws = connect(base, Accounts(app).token("analyst"))
    try:
        stamps = []
        while len(stamps) < 3:
            message = json.loads(ws.recv())
            assert message["type"] == "metrics"
            names = {s["name"] for s in message["samples"]}
            assert "system_memory_used_bytes" in names
            stamps.append(message["ts"])
        assert stamps == sorted(stamps) and len(set(stamps)) == 3
    finally:
        ws.close()


def test_a_slow_client_is_told_what_it_lost_and_a_fast_one_loses_nothing(served):
    app, base = served
    rt = app.server.extensions["pulseboard"]
    rt.scheduler.shutdown()  # only the test publishes now
    token = Accounts(app).token("analyst")
    # A tiny receive buffer makes the stalled client's backlog reach the server quickly.
    slow = connect(base, token, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    fast = connect(base, token)
    received: list[dict] = []

    def read_fast() -> None:
        while True:
            message = json.loads(fast.recv())
            if message.get("seq") is not None:
                received.append(message)
                if message["seq"] == TOTAL - 1:
                    return

    reader = threading.Thread(target=read_fast, daemon=True)
    reader.start()
    time.sleep(0.5)  # both subscribed
    payload = "x" * 50_000
    for seq in range(TOTAL):  # ~100 messages a second: a fast reader keeps up, a stalled one can't
        rt.bus.publish(
            METRICS_CHANNEL,
            {"type": "metrics", "ts": seq, "seq": seq, "samples": [], "pad": payload},
        )
        time.sleep(0.01)
    reader.join(timeout=60)
    assert [m["seq"] for m in received] == list(range(TOTAL))

    dropped = 0
    seen = []
    slow.settimeout(5)
    try:
        while True:
            message = json.loads(slow.recv())
            if message["type"] == "dropped":
                dropped += message["count"]
            elif message.get("seq") is not None:
                seen.append(message["seq"])
    except websocket.WebSocketTimeoutException:
        pass
    assert dropped > 0
    assert len(seen) + dropped >= TOTAL - 1
    assert seen == sorted(seen)
    slow.close()
    fast.close()
