"""A live tail that does not read while records pour in: once its socket is full it loses
its oldest records, is told how many, and gets every later one in order; a fast tail
beside it gets them all."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, datetime

import pytest
import websocket
from werkzeug.serving import make_server

from storage.logs import LogEntry
from tests.conftest import Accounts, wait_until

STREAM = "/api/v1/admin/logs/stream?backlog=0"
TOTAL = 30_000
BATCH = 250
PADDING = "x" * 300  # ~10 MB in all: more than the socket buffers hold


@pytest.fixture
def served(make_app, monkeypatch):
    monkeypatch.setattr("app.ws.MAX_LAG", 500)  # a small bound keeps the test quick
    app = make_app()
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield app, f"ws://127.0.0.1:{server.server_port}", Accounts(app).token("analyst")
    server.shutdown()


def tail(base: str, token: str, receive_buffer: int | None = None):
    sockopt = ((socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer),) if receive_buffer else ()
    ws = websocket.create_connection(
        base + STREAM, timeout=20, header=[f"Authorization: Bearer {token}"], sockopt=sockopt
    )
    assert json.loads(ws.recv())["type"] == "ready"
    return ws


def test_a_slow_tail_loses_its_oldest_and_is_told_while_a_fast_one_gets_all(served):
    app, base, token = served
    logs = app.server.extensions["pulseboard"].logs
    slow, fast = tail(base, token, receive_buffer=4096), tail(base, token)
    got_fast: list[int] = []

    def read_fast() -> None:
        while len(got_fast) < TOTAL:
            message = json.loads(fast.recv())
            assert message["type"] == "log", message
            got_fast.append(int(message["message"].split()[0]))

    reader = threading.Thread(target=read_fast)
    reader.start()
    for start in range(0, TOTAL, BATCH):
        stamp = datetime.now(UTC)
        numbers = range(start, start + BATCH)
        logs.write([LogEntry(stamp, "info", "t", "h", f"{i} {PADDING}") for i in numbers])
        # The fast tail keeps up: it never has more than a batch outstanding.
        wait_until(lambda end=start + BATCH: len(got_fast) >= end, 20, 0.01)
    reader.join(20)
    assert got_fast == list(range(TOTAL))

    time.sleep(1)  # the slow tail's queue overflows while it does not read
    numbers, dropped = [], 0
    while len(numbers) + dropped < TOTAL:
        message = json.loads(slow.recv())
        if message["type"] == "dropped":
            dropped += message["count"]
        else:
            numbers.append(int(message["message"].split()[0]))
    assert dropped > 0
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert numbers[-1] == TOTAL - 1  # the newest always arrive
    slow.close()
    fast.close()


def test_a_tail_that_reads_nothing_of_its_backlog_is_let_go(served, monkeypatch):
    monkeypatch.setattr("app.live_sockets.SEND_WAIT_SECONDS", 0.5)
    app, base, token = served
    logs = app.server.extensions["pulseboard"].logs
    stamp = datetime.now(UTC)
    logs.write([LogEntry(stamp, "info", "t", "h", f"{i} {'y' * 8000}") for i in range(1000)])
    sockopt = ((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),)
    stalled = websocket.create_connection(
        base + "/api/v1/admin/logs/stream?backlog=1000",
        timeout=20,
        header=[f"Authorization: Bearer {token}"],
        sockopt=sockopt,
    )
    time.sleep(2)  # its 8 MB backlog fills the buffers and the server gives up
    tail(base, token).close()  # others are still served
    kinds = set()
    try:
        while (frame := stalled.recv_data(control_frame=True))[0] != websocket.ABNF.OPCODE_CLOSE:
            kinds.add(json.loads(frame[1])["type"])
    except (websocket.WebSocketConnectionClosedException, ConnectionError):
        pass  # or it simply ends
    assert kinds == {"log"}  # part of the backlog, then the end: never "ready"
    stalled.close()
