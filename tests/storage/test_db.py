"""Engines: a pooled PostgreSQL connection the server ended is replaced when it is next
checked out, one that stayed up is kept, reads have connections of their own (autocommit,
read-only) and migrations run only where some are missing."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage.db import head_revision, is_current, make_engine, read_engine, upgrade_if_behind
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


def test_reads_on_postgresql_go_through_autocommit_read_only_connections(pg_url: str):
    engine = make_engine(pg_url, pool_size=2)
    try:
        reader = read_engine(engine)
        assert reader is not engine and read_engine(engine) is reader
        with reader.connect() as conn:
            assert conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
            assert conn.connection.driver_connection.autocommit
            with pytest.raises(DBAPIError, match="read-only transaction"):
                conn.execute(text("CREATE TABLE nothing_here (x int)"))
        with engine.connect() as conn:  # writes keep their transactions
            assert conn.execute(text("SHOW transaction_read_only")).scalar_one() == "off"
    finally:
        engine.dispose()


def test_disposing_an_engine_closes_the_connections_of_its_reads(pg_url: str):
    engine = make_engine(pg_url, pool_size=2)
    reader = read_engine(engine)
    pid = backend_pid(reader)
    other = make_engine(pg_url)
    try:
        engine.dispose()

        wait_until(lambda: not session_alive(other, pid), 10)
    finally:
        other.dispose()


def test_reads_on_sqlite_share_the_engine_of_the_writes(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'one.db'}")

    assert read_engine(engine) is engine
    engine.dispose()
