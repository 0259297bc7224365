"""The live log tail WebSocket: backlog, live records, filters, resume without gap or
duplicate, and bad queries, on both live-bus backends."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
import websocket
from werkzeug.serving import make_server

from storage.logs import LogEntry
from tests.conftest import Accounts

STREAM = "/api/v1/admin/logs/stream"


@pytest.fixture(params=["memory", "redis"])
def served(request, make_app):
    """An app behind a real threaded HTTP server, and an analyst's token."""
    redis_url = request.getfixturevalue("shared_redis_url") if request.param == "redis" else None
    app = make_app(redis_url=redis_url)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield app, f"ws://127.0.0.1:{server.server_port}", Accounts(app).token("analyst")
    server.shutdown()


def write(app, *messages: str, level: str = "info") -> None:
    app.server.extensions["pulseboard"].logs.write(
        [LogEntry(datetime.now(UTC), level, "test", "h", m) for m in messages]
    )


def tail(base: str, token: str, query: str = ""):
    return websocket.create_connection(
        f"{base}{STREAM}?{query}", timeout=10, header=[f"Authorization: Bearer {token}"]
    )


def receive_until_ready(ws) -> tuple[list[dict], int]:
    records = []
    while True:
        message = json.loads(ws.recv())
        if message["type"] == "ready":
            return records, message["last_id"]
        records.append(message)


def test_backlog_then_live_records_in_order(served):
    app, base, token = served
    write(app, "one", "two", "three")
    ws = tail(base, token, "backlog=2")
    backlog, _ = receive_until_ready(ws)
    assert [m["message"] for m in backlog] == ["two", "three"]
    write(app, "four")
    write(app, "five")
    live = [json.loads(ws.recv()), json.loads(ws.recv())]
    assert [m["message"] for m in live] == ["four", "five"]
    assert live[0]["id"] < live[1]["id"] and live[0]["type"] == "log"
    ws.close()


def test_filters_apply_server_side(served):
    app, base, token = served
    ws = tail(base, token, "q=-noise&level=warning")
    receive_until_ready(ws)
    write(app, "noise", level="error")
    write(app, "quiet", level="info")
    write(app, "loud", level="error")
    assert json.loads(ws.recv())["message"] == "loud"
    ws.close()


def test_reconnecting_with_last_id_gets_exactly_what_was_missed(served):
    app, base, token = served
    write(app, "before")
    ws = tail(base, token, "backlog=1")
    _, last_id = receive_until_ready(ws)
    write(app, "seen")
    seen = json.loads(ws.recv())
    ws.close()
    write(app, "missed-1", "missed-2", "missed-3")
    again = tail(base, token, f"last_id={seen['id']}")
    missed = [json.loads(again.recv()) for _ in range(3)]
    assert [m["message"] for m in missed] == ["missed-1", "missed-2", "missed-3"]
    assert json.loads(again.recv())["type"] == "ready"
    write(app, "after")
    assert json.loads(again.recv())["message"] == "after"  # no duplicate in between
    assert last_id < seen["id"]
    again.close()


@pytest.mark.parametrize("query", ["q=level:loud", 'q="unclosed', "backlog=-1", "last_id=x"])
def test_a_bad_query_is_answered_with_an_error_message(served, query):
    _, base, token = served
    ws = tail(base, token, query)
    message = json.loads(ws.recv())
    assert message["type"] == "error" and message["message"]
    ws.close()


def test_the_tail_needs_a_reader_role(served):
    app, base, _ = served
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        tail(base, Accounts(app).token("ingest"))
    assert refused.value.status_code == 403
