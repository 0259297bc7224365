"""Live WebSockets under a real ``pulseboard serve``: they do not hold a server thread each,
and past ``PULSEBOARD_WS_MAX_CLIENTS`` a client is refused at once with close code 1013."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import websocket

from tests.app.auth_helpers import migrated_with_reader
from tests.conftest import wait_until
from tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]
CAPACITY = 6
THREADS = 2
METRICS = "/api/v1/admin/monitoring/stream"
ALERTS = "/api/v1/admin/alerts/stream"
TAIL = "/api/v1/admin/logs/stream"


@dataclass
class Served:
    port: int
    token: str

    def connect(self, path: str) -> websocket.WebSocket:
        return websocket.create_connection(
            f"ws://127.0.0.1:{self.port}{path}",
            header=[f"Authorization: Bearer {self.token}"],
            timeout=10,
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """``pulseboard serve`` on SQLite with two threads and room for CAPACITY WebSockets."""
    data_dir = tmp_path_factory.mktemp("ws-capacity")
    url = f"sqlite:///{data_dir / 'pulseboard.db'}"
    token = migrated_with_reader(url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSEBOARD_")}
    env.update(
        PULSEBOARD_DATA_DIR=str(data_dir),
        PULSEBOARD_ADMIN_PASSWORD="admin-password-1",
        PULSEBOARD_COLLECT_INTERVAL="1",
        PULSEBOARD_WS_MAX_CLIENTS=str(CAPACITY),
    )
    command = [str(Path(sys.executable).parent / "pulseboard"), "serve", "--port", str(port)]
    with open(data_dir / "server.log", "w") as log:
        process = subprocess.Popen(
            [*command, "--threads", str(THREADS)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: _answers(port), 30, 0.2)
        yield Served(port, token)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=15)


def _answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def metrics(ws: websocket.WebSocket) -> dict:
    """The next message, which must be a collection."""
    message = json.loads(ws.recv())
    assert message["type"] == "metrics", message
    return message


def ready(ws: websocket.WebSocket) -> dict:
    """Read the tail up to its ``ready`` message."""
    while (message := json.loads(ws.recv()))["type"] != "ready":
        assert message["type"] == "log", message
    return message


def refused(ws: websocket.WebSocket) -> tuple[dict, int, str]:
    """The error frame and the close code and reason of a refused WebSocket."""
    error = json.loads(ws.recv())
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    return error, int.from_bytes(data[:2]), data[2:].decode()


def test_more_websockets_than_threads_are_served_and_past_capacity_refused(served):
    streams = [served.connect(METRICS) for _ in range(CAPACITY - 2)]
    tail, alerts = served.connect(TAIL), served.connect(ALERTS)
    try:
        for ws in streams:
            metrics(ws)
        ready(tail)
        # Six open WebSockets on two threads, and plain requests are still answered.
        assert requests.get(f"http://127.0.0.1:{served.port}/healthz", timeout=5).ok

        for path in (METRICS, TAIL, ALERTS):
            extra = served.connect(path)
            try:
                error, code, reason = refused(extra)
            finally:
                extra.close()
            assert code == 1013
            assert (
                reason == f"Pulseboard serves at most {CAPACITY} live connections; try again later."
            )
            assert error == {"type": "error", "code": "busy", "message": reason}

        for ws in streams:  # the first ones are still served
            metrics(ws)
    finally:
        for ws in (*streams, alerts):
            ws.close()

    # Their places are free again.
    def served_again() -> bool:
        ws = served.connect(METRICS)
        try:
            return json.loads(ws.recv())["type"] == "metrics"
        finally:
            ws.close()

    wait_until(served_again, 10, 0.2)
    tail.close()


def test_a_ping_is_answered_and_a_close_is_returned(served):
    ws = served.connect(METRICS)
    metrics(ws)
    ws.ping(b"are you there")
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_PONG:
            break
    assert data == b"are you there"
    ws.send_close(1000, b"bye")
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
    assert int.from_bytes(data[:2]) == 1000
    ws.close()
