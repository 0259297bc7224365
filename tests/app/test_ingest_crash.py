"""The log writer killed mid-batch: ``kill -9`` a real ``pulseboard serve`` while several
clients post batches. Every line of every acknowledged batch is stored exactly once; a
batch that got no answer is stored whole or not at all; a refused one is absent."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter

import pytest
import requests
from sqlalchemy import text

from storage.accounts import AccountStore
from storage.db import make_engine
from tests.app.test_processes import kill, start_server
from tests.conftest import wait_until

BATCH = 500
CLIENTS = 6  # more than the server's write slots: some batches are refused with 429
SOURCE = "crash-test"
MARKER = re.compile(r"batch (\d+) line (\d+)")


def body(batch: int) -> bytes:
    """NDJSON of one batch; every line names its batch and its place in it."""
    return b"".join(
        json.dumps(
            {"message": f"batch {batch} line {line}", "source": SOURCE, "attrs": {"n": line}}
        ).encode()
        + b"\n"
        for line in range(BATCH)
    )


class Clients:
    """Threads posting batches until the server is gone, noting what each batch got."""

    def __init__(self, port: int, token: str) -> None:
        self.url = f"http://127.0.0.1:{port}/api/v1/logs"
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
        self.lock = threading.Lock()
        self.next_batch = 0
        self.answers: dict[int, tuple[int, dict] | None] = {}
        """Batch number -> (status, JSON body), or None when no answer came."""
        self.in_flight: set[int] = set()
        self.threads = [threading.Thread(target=self._post, daemon=True) for _ in range(CLIENTS)]

    def start(self) -> None:
        """Start posting from every thread."""
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        """Wait for every thread to stop (each stops at its first unanswered batch)."""
        for thread in self.threads:
            thread.join(timeout=30)
            assert not thread.is_alive()

    def acknowledged(self) -> set[int]:
        """Batches answered 200."""
        with self.lock:
            return {b for b, answer in self.answers.items() if answer and answer[0] == 200}

    def _post(self) -> None:
        session = requests.Session()
        while True:
            with self.lock:
                batch, self.next_batch = self.next_batch, self.next_batch + 1
                self.in_flight.add(batch)
            try:
                response = session.post(
                    self.url, data=body(batch), headers=self.headers, timeout=30
                )
                answer = (response.status_code, response.json())
            except requests.RequestException:
                answer = None
            with self.lock:
                self.in_flight.discard(batch)
                self.answers[batch] = answer
            if answer is None:
                return


def stored_lines(database_url: str) -> list[tuple[int, int]]:
    """(batch, line) of every stored test record, read through a fresh engine."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
            messages = conn.execute(
                text("SELECT message FROM log_records WHERE source = :source"), {"source": SOURCE}
            ).scalars()
            return [tuple(map(int, MARKER.fullmatch(m).groups())) for m in messages]
    finally:
        engine.dispose()


@pytest.mark.timeout(120)
def test_a_killed_server_loses_no_acknowledged_line_and_stores_no_partial_batch(
    tmp_path, database_url
):
    engine = make_engine(database_url)
    accounts = AccountStore(engine)
    _, token = accounts.create_token(accounts.add_user("shipper", "ingest", None).id, "crash")
    engine.dispose()
    process, port = start_server(tmp_path, "doomed", database_url)
    clients = Clients(port, token)
    try:
        clients.start()
        wait_until(lambda: len(clients.acknowledged()) >= 10, 30, 0.01)
        with clients.lock:
            kill(process)
            in_flight = set(clients.in_flight)
    finally:
        kill(process)
    clients.join()
    assert in_flight  # batches were on their way when the server died

    lines = stored_lines(database_url)
    assert max(Counter(lines).values()) == 1  # nothing stored twice
    per_batch = Counter(batch for batch, _ in lines)
    acknowledged = clients.acknowledged()
    unanswered = {b for b, answer in clients.answers.items() if answer is None}
    refused = set(clients.answers) - acknowledged - unanswered
    assert in_flight & unanswered  # and the kill cut some of them off
    for batch in acknowledged:
        assert clients.answers[batch][1] == {"accepted": BATCH}
        assert per_batch[batch] == BATCH, f"acknowledged batch {batch} lost lines"
    for batch in unanswered:
        assert per_batch[batch] in (0, BATCH), f"batch {batch} stored in part"
    assert not refused & set(per_batch)
    assert set(per_batch) <= acknowledged | unanswered

    # The database the crash left behind serves a new process, which takes new batches.
    process, port = start_server(tmp_path, "restarted", database_url)
    try:
        response = requests.post(
            f"http://127.0.0.1:{port}/api/v1/logs",
            data=body(10**6),
            headers=clients.headers,
            timeout=30,
        )
        assert response.status_code == 200 and response.json() == {"accepted": BATCH}
    finally:
        kill(process)
    assert Counter(b for b, _ in stored_lines(database_url))[10**6] == BATCH
