"""Live sessions, signals and the activity history against a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import create_engine

from collectors import pg_activity
from collectors.postgres import target_name
from storage.db import upgrade
from storage.diagnostics.activity import ActivityStore
from tests.pg_locks import fresh_database, libpq, lock_scene
from tests.services import pg_admin_url


@pytest.fixture(scope="module")
def watched() -> Iterator[str]:
    """A monitored database of this module's own."""
    with fresh_database(pg_admin_url()) as url:
        yield url


def test_waiters_name_the_holder_as_their_blocker_and_the_reader_is_left_out(watched):
    with lock_scene(watched) as scene, pg_activity.connect(libpq(watched)) as conn:
        by_pid = {s.pid: s for s in pg_activity.sessions(conn)}
        own_pid = conn.info.backend_pid
    assert own_pid not in by_pid
    for waiter in scene.waiters:
        session = by_pid[waiter.pid]
        assert session.blocked_by == [scene.holder_pid]
        assert session.state == "active" and session.wait_event_type == "Lock"
        assert session.query == waiter.query
    holder = by_pid[scene.holder_pid]
    assert holder.state == "idle in transaction" and holder.xact_s is not None
    assert holder.blocked_by == [] and holder.backend_type == "client backend"


def test_pulseboards_own_and_server_backends_are_refused_and_a_gone_pid_is_unknown(watched):
    dsn = libpq(watched)
    with (
        psycopg.connect(dsn, application_name="pulseboard-collector") as collector,
        pg_activity.connect(dsn) as conn,
    ):
        with pytest.raises(pg_activity.Refused, match="Pulseboard's own"):
            pg_activity.signal(conn, collector.info.backend_pid, "terminate")
        with pytest.raises(pg_activity.Refused, match="Pulseboard's own"):
            pg_activity.signal(conn, conn.info.backend_pid, "cancel")
        server = next(s for s in pg_activity.sessions(conn) if s.backend_type == "checkpointer")
        with pytest.raises(pg_activity.Refused, match="checkpointer process"):
            pg_activity.signal(conn, server.pid, "terminate")
        with pytest.raises(pg_activity.NoSuchBackend):
            pg_activity.signal(conn, pg_activity.MAX_PID, "cancel")
        assert collector.execute("SELECT 1").fetchone() == (1,)


def test_the_history_keeps_blocked_and_blocking_sessions_only_and_trims(watched, tmp_path):
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(store_url)
    engine = create_engine(store_url)
    store = ActivityStore(engine)
    target = target_name(watched)
    history = pg_activity.ActivityHistory({target: libpq(watched)}, store, retention=60)
    try:
        with psycopg.connect(libpq(watched)) as idle, lock_scene(watched) as scene:
            idle.execute("SELECT 1")
            idle_pid = idle.info.backend_pid
            assert history.run(now=1000.0) >= 3
        rows = store.read(target, 0, 2000)
        pids = {row["pid"] for row in rows}
        assert {scene.holder_pid, *(w.pid for w in scene.waiters)} <= pids
        assert idle_pid not in pids
        waiter = next(r for r in rows if r["pid"] == scene.waiters[0].pid)
        assert waiter["blocked_by"] == [scene.holder_pid] and waiter["ts"] == 1000.0
        history.run(now=1000.0 + 3600)  # trims what is older than the retention
        assert store.read(target, 0, 2000) == []
    finally:
        history.close()
        engine.dispose()
