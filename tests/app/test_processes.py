"""Whole processes: leader election between two servers, and the reloader's parent."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import wait_until
from tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def start_server(
    tmp_path: Path, name: str, database_url: str, **env: str
) -> tuple[subprocess.Popen, int]:
    """``pulseboard serve`` in a process of its own; returns it and its port."""
    port = free_port()
    data_dir = tmp_path / name
    data_dir.mkdir()
    environment = {
        **os.environ,
        "PULSEBOARD_DATA_DIR": str(data_dir),
        "PULSEBOARD_DATABASE_URL": database_url,
        "PULSEBOARD_HOSTNAME": name,
        "PULSEBOARD_COLLECT_INTERVAL": "1",
        "PULSEBOARD_LEADER_LOCK_TTL": "3",
        "PULSEBOARD_ADMIN_PASSWORD": "admin-password-1",
        "PULSEBOARD_SECRET_KEY": "same-secret-for-both",
        **env,
    }
    log = open(data_dir / "server.log", "w")  # noqa: SIM115  (closed with the process)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "pulseboard"), "serve", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_until(lambda: _answers(port), 30, 0.2)
    return process, port


def _answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def hosts_writing(engine, since: float) -> set[str]:
    """Hosts whose samples arrived after ``since``."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT DISTINCT s.host FROM metric_samples m "
                "JOIN metric_series s ON s.id = m.series_id WHERE m.ts > :since"
            ),
            {"since": since},
        )
        return {row[0] for row in rows}


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the server and everything it started (gunicorn master and worker)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.mark.timeout(120)
def test_two_servers_on_one_postgres_elect_one_collector_and_fail_over(tmp_path, pg_url):
    engine = create_engine(pg_url)
    first, _ = start_server(tmp_path, "alpha", pg_url)
    second, _ = start_server(tmp_path, "beta", pg_url)
    try:
        started = time.time()
        # Under load the first collection may take a while; then watch a quiet window.
        wait_until(lambda: hosts_writing(engine, started), 30, 0.2)
        since = time.time()
        time.sleep(3)
        writers = hosts_writing(engine, since)
        assert len(writers) == 1, writers
        leader, follower = (first, second) if writers == {"alpha"} else (second, first)
        follower_name = "beta" if writers == {"alpha"} else "alpha"

        kill(leader)
        killed_at = time.time()
        wait_until(lambda: follower_name in hosts_writing(engine, killed_at), 3 + 5, 0.2)
        took_over = time.time() - killed_at
        assert took_over < 3 + 5  # the lock TTL plus one collection and slack
        assert follower.poll() is None
    finally:
        for process in (first, second):
            kill(process)
        engine.dispose()


@pytest.mark.timeout(90)
def test_the_werkzeug_reloader_parent_runs_no_scheduler(tmp_path, pg_url):
    port = free_port()
    env = {
        **os.environ,
        "PULSEBOARD_DATA_DIR": str(tmp_path),
        "PULSEBOARD_DATABASE_URL": pg_url,
        "PULSEBOARD_HOSTNAME": "reloaded",
        "PULSEBOARD_COLLECT_INTERVAL": "1",
        "PULSEBOARD_LEADER_LOCK_TTL": "3",
        "PULSEBOARD_ADMIN_PASSWORD": "admin-password-1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--debug", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    engine = create_engine(pg_url)
    try:
        wait_until(lambda: _answers(port), 30, 0.2)
        time.sleep(4)  # several election rounds

        def leader_connections() -> int:
            with engine.connect() as conn:
                return conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                        "'pulseboard-leader' AND datname = current_database()"
                    )
                ).scalar_one()

        # The reloader's parent process builds the app too; only its child may elect.
        assert leader_connections() == 1
    finally:
        kill(process)
        engine.dispose()
