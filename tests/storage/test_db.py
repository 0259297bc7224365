"""Engines: a pooled PostgreSQL connection the server ended is replaced when it is next
checked out, and one that stayed up is kept."""

from __future__ import annotations

from sqlalchemy import text

from storage.db import make_engine


def backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_pooled_connection_the_server_ended_is_replaced_on_checkout(pg_url: str):
    engine = make_engine(pg_url, pool_size=2)
    try:
        first = backend_pid(engine)
        other = make_engine(pg_url)
        with other.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar()
        other.dispose()

        second = backend_pid(engine)

        assert second != first
        assert backend_pid(engine) == second  # a live connection is kept
    finally:
        engine.dispose()
