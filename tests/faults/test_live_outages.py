"""Redis, then PostgreSQL, stopped under a real ``pulseboard serve`` while a live tail and a
metrics stream are open: both sockets stay served (or would close with a clear code), and once
the service is back the tail goes on with every record committed, none missing, none twice."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import websocket
from sqlalchemy import create_engine, text

from app.auth import hash_password
from storage.accounts import AccountStore
from storage.db import make_engine, upgrade
from tests.app.test_processes import kill, start_server
from tests.conftest import wait_until
from tests.services import ThrowawayPostgres, ThrowawayRedis

TAIL = "/api/v1/admin/logs/stream?backlog=0"
METRICS = "/api/v1/admin/monitoring/stream"
OUTAGE_SECONDS = 5
CLEAR_CLOSE_CODES = {1001, 1011, 1013}


def tokens(url: str) -> tuple[str, str]:
    """Bearer tokens of a new analyst and a new ingest user in the database at ``url``."""
    engine = make_engine(url)
    accounts = AccountStore(engine)
    made = []
    for role in ("analyst", "ingest"):
        account = accounts.add_user(f"outage-{role}", role, hash_password("password-123"))
        made.append(accounts.create_token(account.id, "test")[1])
    engine.dispose()
    return made[0], made[1]


@dataclass
class Reader:
    """A WebSocket read in a thread of its own: its messages, and how it ended, if it did."""

    ws: websocket.WebSocket
    messages: list[dict] = field(default_factory=list)
    close_code: int | None = None
    error: str | None = None

    def start(self) -> Reader:
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        try:
            while True:
                opcode, data = self.ws.recv_data(control_frame=True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    self.close_code = int.from_bytes(data[:2])
                    return
                if opcode == websocket.ABNF.OPCODE_TEXT:
                    self.messages.append(json.loads(data))
        except Exception as exc:  # the test reports how the socket ended
            self.error = f"{type(exc).__name__}: {exc}"

    def of_type(self, kind: str) -> list[dict]:
        return [m for m in list(self.messages) if m["type"] == kind]

    @property
    def served(self) -> bool:
        """Open, or closed with a code that tells the client what happened."""
        if self.close_code is not None:
            return self.close_code in CLEAR_CLOSE_CODES
        return self.error is None


@dataclass
class Live:
    """A served Pulseboard with an open tail and metrics stream, and a way to add records."""

    port: int
    reader_token: str
    ingest_token: str
    database_url: str
    tail: Reader
    metrics: Reader

    def health(self, component: str) -> str:
        """The status the health endpoint gives ``component``."""
        response = requests.get(
            f"http://127.0.0.1:{self.port}/api/v1/admin/monitoring/health",
            headers={"Authorization": f"Bearer {self.reader_token}"},
            timeout=10,
        )
        return response.json()["components"][component]["status"]

    def ingest(self, *messages: str) -> int:
        body = "\n".join(json.dumps({"message": m, "source": "outage"}) for m in messages)
        response = requests.post(
            f"http://127.0.0.1:{self.port}/api/v1/logs",
            data=body.encode(),
            headers={
                "Authorization": f"Bearer {self.ingest_token}",
                "Content-Type": "application/x-ndjson",
            },
            timeout=10,
        )
        return response.status_code

    def stored(self) -> list[tuple[int, str]]:
        """Every test record in the database, by id."""
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT id, message FROM log_records WHERE source = 'outage' ORDER BY id")
                )
                return [tuple(row) for row in rows]
        finally:
            engine.dispose()

    def tailed(self) -> list[tuple[int, str]]:
        """The test records the tail got (Pulseboard's own logs pass by too)."""
        return [
            (m["id"], m["message"]) for m in self.tail.of_type("log") if m["source"] == "outage"
        ]


@contextmanager
def live(tmp_path: Path, database_url: str, **env: str) -> Iterator[Live]:
    """``pulseboard serve`` on ``database_url`` with a tail and a metrics stream open."""
    reader, ingest = tokens(database_url)
    process, port = start_server(tmp_path, "live", database_url, **env)
    sockets = []
    try:
        for path in (TAIL, METRICS):
            sockets.append(
                websocket.create_connection(
                    f"ws://127.0.0.1:{port}{path}",
                    header=[f"Authorization: Bearer {reader}"],
                    timeout=60,
                )
            )
        tail, metrics = (Reader(ws).start() for ws in sockets)
        wait_until(lambda: tail.of_type("ready") and metrics.of_type("metrics"), 30)
        yield Live(port, reader, ingest, database_url, tail, metrics)
    finally:
        for ws in sockets:
            ws.close()
        kill(process)


def assert_tail_has_every_record(served: Live) -> None:
    """The tail got exactly the stored test records, in id order, once each."""
    wait_until(lambda: len(served.tailed()) >= len(served.stored()), 30, 0.2)
    assert served.tailed() == served.stored()


def metrics_after(served: Live, count: int) -> bool:
    return len(served.metrics.of_type("metrics")) > count


@pytest.mark.timeout(180)
def test_redis_going_away_and_back_leaves_the_live_sockets_served_and_the_tail_whole(
    throwaway_redis: ThrowawayRedis, tmp_path: Path
):
    url = f"sqlite:///{tmp_path / 'pulseboard.db'}"
    upgrade(url)
    with live(tmp_path, url, PULSEBOARD_REDIS_URL=throwaway_redis.url) as served:
        assert served.ingest("before-1", "before-2") == 200
        wait_until(lambda: len(served.tailed()) == 2, 20)

        throwaway_redis.stop()
        seen = len(served.metrics.of_type("metrics"))
        for i in range(OUTAGE_SECONDS):
            assert served.ingest(f"during-{i}") == 200  # the store does not need Redis
        wait_until(lambda: len(served.tailed()) == 2 + OUTAGE_SECONDS, 20)
        wait_until(lambda: metrics_after(served, seen + 2), 20)

        throwaway_redis.start()
        wait_until(lambda: served.health("redis") == "ok", 30, 0.5)
        seen = len(served.metrics.of_type("metrics"))
        assert served.ingest("after-1", "after-2", "after-3") == 200
        wait_until(lambda: metrics_after(served, seen + 2), 20)
        assert_tail_has_every_record(served)
        assert served.tail.served and served.metrics.served
        assert served.tail.close_code is None and served.metrics.close_code is None


@pytest.mark.timeout(240)
def test_postgres_going_away_and_back_leaves_the_live_sockets_served_and_the_tail_whole(
    throwaway_postgres: ThrowawayPostgres, tmp_path: Path
):
    url = throwaway_postgres.url
    upgrade(url)
    with live(tmp_path, url) as served:
        assert served.ingest("before-1", "before-2") == 200
        wait_until(lambda: len(served.tailed()) == 2, 20)

        throwaway_postgres.stop()
        seen = len(served.metrics.of_type("metrics"))
        assert served.ingest("refused") == 503  # nothing accepted that is not stored
        wait_until(lambda: metrics_after(served, seen + 2), 30)  # collected on, pushed on

        throwaway_postgres.start()
        wait_until(lambda: served.ingest("after-1", "after-2") == 200, 60, 0.5)
        assert served.ingest("after-3") == 200
        assert_tail_has_every_record(served)
        assert [m for _, m in served.tailed()][:2] == ["before-1", "before-2"]
        assert served.tail.served and served.metrics.served
        assert served.tail.close_code is None and served.metrics.close_code is None
