"""Engines: a pooled PostgreSQL connection the server ended is replaced when it is next
checked out, one that stayed up is kept, and migrations run only where some are missing."""

from __future__ import annotations

from sqlalchemy import text

from storage.db import head_revision, is_current, make_engine, upgrade_if_behind
from tests.conftest import wait_until


def backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def session_alive(engine, pid: int) -> bool:
    with engine.connect() as conn:
        query = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        return bool(conn.execute(query, {"pid": pid}).scalar_one())


def test_a_pooled_connection_the_server_ended_is_replaced_on_checkout(pg_url: str):
    engine = make_engine(pg_url, pool_size=2)
    try:
        first = backend_pid(engine)
        other = make_engine(pg_url)
        with other.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar()
        # The session ends once its backend acts on the signal.
        wait_until(lambda: not session_alive(other, first), 10)
        other.dispose()

        second = backend_pid(engine)

        assert second != first
        assert backend_pid(engine) == second  # a live connection is kept
    finally:
        engine.dispose()


def test_upgrade_if_behind_migrates_a_new_database_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert not is_current(url)

    upgrade_if_behind(url)

    assert is_current(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == (
            head_revision()
        )
    engine.dispose()
