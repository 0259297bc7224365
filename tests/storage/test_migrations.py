"""Alembic migrations on SQLite and PostgreSQL: every table, agreement with the models, WAL."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from storage.db import alembic_config, make_engine, upgrade
from storage.models import Base
from tests.services import pg_admin_url, unavailable

TABLES = set(Base.metadata.tables)


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database of this test's own, dropped afterwards."""
    admin = create_engine(
        pg_admin_url(), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    name = f"pulseboard_mig_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure means: no server to test on
        admin.dispose()
        unavailable("PostgreSQL", exc)
    yield make_url(pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request, tmp_path: Path) -> str:
    """An empty database on each backend in turn: a new SQLite file or a new PG database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("empty_pg_url")


def table_names(url: str) -> set[str]:
    """The tables that exist in the database at ``url``."""
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_models_declare_every_table_of_the_design():
    assert {
        "metric_samples",
        "metric_series",
        "metric_rollups",
        "log_records",
        "users",
        "api_tokens",
        "audit_log",
    } <= TABLES


def test_upgrade_on_an_empty_database_creates_every_table(empty_url: str):
    assert table_names(empty_url) == set()

    upgrade(empty_url)

    assert table_names(empty_url) == TABLES | {"alembic_version"}


def test_the_migrated_schema_matches_the_models(empty_url: str):
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()

    assert differences == []


def test_upgrade_is_idempotent_and_downgrade_removes_every_table(empty_url: str):
    upgrade(empty_url)
    upgrade(empty_url)
    assert table_names(empty_url) == TABLES | {"alembic_version"}

    command.downgrade(alembic_config(empty_url), "base")
    assert table_names(empty_url) <= {"alembic_version"}

    upgrade(empty_url)
    assert table_names(empty_url) == TABLES | {"alembic_version"}


def test_sqlite_databases_run_in_wal_mode_with_a_busy_timeout(tmp_path: Path):
    path = tmp_path / "pulseboard.db"
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
    # WAL is a property of the file: a plain connection that sets nothing still sees it.
    with sqlite3.connect(path) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    plain.close()
