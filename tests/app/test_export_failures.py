"""A log export that fails, under ``pulseboard serve``: before its first byte the client gets
the JSON error shape with the right status (not the server's HTML error page); after it,
the download is aborted so the client sees it incomplete, and the audit log says the
export did not complete."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from app.auth import hash_password
from storage.accounts import AccountStore
from storage.db import upgrade
from tests.app.test_processes import kill, start_server
from tests.conftest import wait_until
from tests.services import ThrowawayPostgres

EXPORT = "/api/v1/admin/logs/export"
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
ROWS = 100_000
MESSAGE_BYTES = 600  # 60 MB in all: far more than the socket buffers hold
EVERYTHING = {"from": T0.timestamp(), "to": (T0 + timedelta(hours=1)).timestamp()}
APP_ROLE = "pulseboard_app"


@dataclass
class Served:
    """``pulseboard serve`` on a cluster of the test's own, connected as a role of its own."""

    database: ThrowawayPostgres
    admin: Engine
    accounts: AccountStore
    port: int
    token: str
    log: str

    def export(self, body: dict) -> requests.Response:
        return requests.post(
            f"http://127.0.0.1:{self.port}{EXPORT}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            stream=True,
            timeout=60,
        )

    def last_end(self):
        """The newest ``logs.export.end`` audit entry, once there is one."""
        ends = self.accounts.list_audit(action="logs.export.end", limit=1)
        return ends[0] if ends else None


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    database = ThrowawayPostgres()
    database.start()
    upgrade(database.url)
    admin = create_engine(database.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {APP_ROLE} LOGIN"))
        conn.execute(text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {APP_ROLE}"))
        conn.execute(text(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}"))
        conn.execute(
            text(
                "INSERT INTO log_records (ts, level, source, host, message, attrs) "
                "SELECT :t0 + n * interval '1 millisecond', 'info', 'bench', 'web-1', "
                "n || ' ' || repeat('m', :size), '{}' FROM generate_series(1, :rows) AS n"
            ),
            {"t0": T0, "size": MESSAGE_BYTES, "rows": ROWS},
        )
    accounts = AccountStore(admin)
    user = accounts.add_user("exporter", "analyst", hash_password("password-123"))
    token = accounts.create_token(user.id, "export")[1]
    app_url = database.url.replace("postgres@", f"{APP_ROLE}@", 1)
    tmp = tmp_path_factory.mktemp("export-failures")
    server, port = start_server(tmp, "export", app_url, PULSEBOARD_COLLECT_INTERVAL="5")
    yield Served(database, admin, accounts, port, token, str(tmp / "export" / "server.log"))
    kill(server)
    admin.dispose()
    database.remove()


@pytest.fixture
def running(served: Served) -> Iterator[Served]:
    """The served app with its database up again after the test."""
    yield served
    with contextlib.suppress(subprocess.CalledProcessError):
        served.database.start()


def read_until_aborted(chunks: Iterator[bytes]) -> int:
    """Read the rest of a download that must not end cleanly; the bytes read."""
    size = 0
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for chunk in chunks:
            size += len(chunk)
    return size


def terminate_export(admin: Engine) -> int:
    """End the server's COPY of the export from the database side, as a crash of that
    backend would; the number of backends ended."""
    with admin.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE usename = :role AND query LIKE 'COPY (SELECT%'"
            ),
            {"role": APP_ROLE},
        ).scalar_one()


@pytest.mark.timeout(120)
def test_a_failure_before_the_first_byte_answers_in_the_json_error_shape(running):
    with running.admin.connect() as conn:
        conn.execute(text(f"REVOKE SELECT ON log_records FROM {APP_ROLE}"))
    try:
        response = running.export({**EVERYTHING, "format": "ndjson"})
    finally:
        with running.admin.connect() as conn:
            conn.execute(text(f"GRANT SELECT ON log_records TO {APP_ROLE}"))
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "internal"


@pytest.mark.timeout(120)
def test_a_database_failure_mid_export_aborts_the_download_and_is_audited(running):
    with running.export({**EVERYTHING, "format": "csv"}) as response:
        assert response.status_code == 200
        chunks = response.iter_content(64 * 1024)
        first = next(chunks)  # the server now waits for the reader
        assert wait_until(lambda: terminate_export(running.admin), 10) == 1
        size = len(first) + read_until_aborted(chunks)
    assert size < ROWS * MESSAGE_BYTES
    end = wait_until(running.last_end, 10)
    assert end.details["completed"] is False and 0 < end.details["rows"] < ROWS


@pytest.mark.timeout(120)
def test_the_database_stopping_mid_export_aborts_the_download(running):
    with running.export({**EVERYTHING, "format": "ndjson"}) as response:
        assert response.status_code == 200
        chunks = response.iter_content(64 * 1024)
        next(chunks)
        running.database.stop()
        read_until_aborted(chunks)
    # The end cannot go into the stopped database's audit log: the server's log keeps it.
    assert "logs.export.end by exporter not audited" in Path(running.log).read_text()
    running.database.start()
    again = running.export({**EVERYTHING, "to": T0.timestamp() + 1, "format": "ndjson"})
    assert again.status_code == 200 and len(again.content.splitlines()) == 999
