"""Alembic migrations on SQLite and PostgreSQL: every table, agreement with the models, the
message search indexes, the 5-minute rollups' backfill, WAL."""

from __future__ import annotations

import math
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, insert, inspect, text
from sqlalchemy.engine import make_url

from storage.db import (
    alembic_config,
    head_revision,
    is_current,
    make_engine,
    upgrade,
    upgrade_apart,
)
from storage.logquery import parse
from storage.logs import LogEntry, LogStore
from storage.metrics import MetricsStore, Sample
from storage.models import LOG_SEARCH_FTS, Base, schema_filters
from storage.models import LogRecord as LogRow
from tests.services import pg_admin_url, unavailable

TABLES = set(Base.metadata.tables)
ADDED_AFTER_0001 = {
    ("add_table", "login_counters"),
    ("add_index", "ix_login_counters_expires_at"),
    ("add_table", "leader_terms"),
    ("add_table", "alert_rules"),
    ("add_table", "alert_instances"),
    ("add_index", "ix_alert_instances_state"),
    ("add_table", "alert_history"),
    ("add_index", "ix_alert_history_instance_ts"),
    ("add_index", "ix_alert_history_ts"),
    ("add_table", "notification_channels"),
    ("add_table", "alert_silences"),
    ("add_table", "notification_outbox"),
    ("add_index", "ix_notification_outbox_due"),
    ("add_index", "ix_notification_outbox_created"),
    ("add_index", "ix_notification_outbox_group"),
    ("add_index", "ix_notification_outbox_instance"),
    ("add_table", "statement_samples"),
    ("add_index", "ix_statement_samples_target_ts"),
    ("add_index", "ix_statement_samples_query_ts"),
    ("add_table", "statement_texts"),
    ("add_table", "activity_samples"),
    ("add_index", "ix_activity_samples_target_ts"),
    ("add_table", "redis_slowlog"),
    ("add_index", "ix_redis_slowlog_ts"),
    ("add_table", "endpoint_histograms"),
    ("add_index", "ix_endpoint_histograms_step_ts"),
    ("add_table", "slow_requests"),
    ("add_index", "ix_slow_requests_ts"),
    ("add_table", "error_groups"),
    ("add_index", "ix_error_groups_last_seen"),
    ("add_table", "dependency_checks"),
    ("add_table", "annotations"),
    ("add_index", "ix_annotations_ts"),
    ("add_table", "diagnostic_jobs"),
    ("add_column", "fingerprint"),
    ("add_index", "ix_log_records_fingerprint_ts"),
}
"""What migrations after 0001 add, as Alembic names it when comparing a 0001 database."""
LATER_TABLES = {name for kind, name in ADDED_AFTER_0001 if kind == "add_table"}
FTS5_TABLES = {LOG_SEARCH_FTS} | {
    f"{LOG_SEARCH_FTS}_{shadow}" for shadow in ("data", "idx", "docsize", "config")
}
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


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


def write_0001(engine, *entries: LogEntry) -> None:
    """Store records in a log table as migration 0001 made it (today's store writes
    columns added since)."""
    with engine.begin() as conn:
        conn.execute(
            insert(LogRow),
            [
                {
                    "ts": e.ts,
                    "level": e.level,
                    "source": e.source,
                    "host": e.host,
                    "message": e.message,
                    "attrs": "{}",
                }
                for e in entries
            ],
        )


def _named(diff: tuple) -> tuple[str, str]:
    """An Alembic difference as (kind, name): a column's is its fourth member."""
    return (diff[0], diff[3].name) if diff[0] == "add_column" else (diff[0], diff[1].name)


def table_names(url: str) -> set[str]:
    """Every table that exists in the database at ``url``, SQLite's FTS5 tables included."""
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def model_tables(url: str) -> set[str]:
    """The tables at ``url`` that the comparison with the models looks at."""
    include = schema_filters(make_url(url).get_backend_name())["include_name"]
    return {name for name in table_names(url) if include(name, "table", {})}


def differences(url: str) -> list:
    """What Alembic finds different between the database at ``url`` and the models."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    **schema_filters(conn.dialect.name),
                },
            )
            return compare_metadata(context, Base.metadata)
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

    assert model_tables(empty_url) == TABLES | {"alembic_version"}
    extra = FTS5_TABLES if empty_url.startswith("sqlite") else set()
    assert table_names(empty_url) - model_tables(empty_url) == extra


def test_the_head_revision_read_from_the_file_names_is_alembics_head():
    from alembic.script import ScriptDirectory

    assert (
        head_revision()
        == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    )


def test_a_database_is_current_only_once_every_migration_is_applied(empty_url: str):
    assert not is_current(empty_url)
    upgrade(empty_url, "0007_diagnostics")
    assert not is_current(empty_url)

    upgrade_apart(empty_url)

    assert is_current(empty_url)
    assert model_tables(empty_url) == TABLES | {"alembic_version"}


def test_the_migrated_schema_matches_the_models(empty_url: str):
    upgrade(empty_url)

    assert differences(empty_url) == []


def test_the_comparison_skips_only_the_full_text_tables(empty_url: str):
    upgrade(empty_url)
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_log_records_ts"))
        conn.execute(text("CREATE TABLE log_records_stray (id INTEGER PRIMARY KEY)"))
    engine.dispose()

    found = {_named(diff) for diff in differences(empty_url)}

    assert found == {("add_index", "ix_log_records_ts"), ("remove_table", "log_records_stray")}


def test_substring_search_indexes_exist_on_each_backend(empty_url: str):
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                definition = conn.execute(
                    text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
                    {"name": "ix_log_records_message_trgm"},
                ).scalar_one()
                assert "USING gin (message gin_trgm_ops)" in definition
            else:
                schema = dict(conn.execute(text("SELECT name, sql FROM sqlite_master")).all())
                assert "tokenize='trigram'" in schema[LOG_SEARCH_FTS]
                assert "content='log_records'" in schema[LOG_SEARCH_FTS]
                assert {"insert", "delete", "update"} == {
                    name.removeprefix(f"{LOG_SEARCH_FTS}_")
                    for name, sql in schema.items()
                    if sql and sql.startswith("CREATE TRIGGER")
                }
    finally:
        engine.dispose()


def test_upgrading_a_database_with_records_makes_them_searchable(empty_url: str):
    upgrade(empty_url, "0001")
    engine = make_engine(empty_url)
    try:
        write_0001(
            engine,
            LogEntry(T0, "error", "api", "web-1", "Query TIMEOUT after 30 s"),
            LogEntry(T0, "info", "api", "web-1", "login ok"),
        )
        upgrade(empty_url)
        found = LogStore(engine).search(parse("timeout"))
        assert [r.message for r in found.records] == ["Query TIMEOUT after 30 s"]
        assert LogStore(engine).count(parse("-timeout")) == (1, True)

        command.downgrade(alembic_config(empty_url), "0001")
        assert table_names(empty_url) == (TABLES - LATER_TABLES) | {"alembic_version"}
        missing = {_named(diff) for diff in differences(empty_url)}
        postgres = engine.dialect.name == "postgresql"
        assert missing == ADDED_AFTER_0001 | (
            {("add_index", "ix_log_records_message_trgm")} if postgres else set()
        )
        write_0001(engine, LogEntry(T0, "info", "api", "web-1", "no trigger left behind"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM log_records")).scalar_one() == 3
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_and_downgrade_removes_every_table(empty_url: str):
    upgrade(empty_url)
    upgrade(empty_url)
    assert model_tables(empty_url) == TABLES | {"alembic_version"}

    command.downgrade(alembic_config(empty_url), "base")
    assert table_names(empty_url) <= {"alembic_version"}

    upgrade(empty_url)
    assert model_tables(empty_url) == TABLES | {"alembic_version"}


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


def test_upgrading_a_database_with_minute_rollups_backfills_the_five_minute_tier(
    empty_url: str,
):
    upgrade(empty_url, "0007_diagnostics")
    engine = make_engine(empty_url)
    try:
        start = 1_699_999_200.0
        samples = [
            Sample(start + i * 7.0, host, "cpu", float((i * 37) % 101), {})
            for i in range(900)
            for host in ("web-1", "web-2")
        ]
        store = MetricsStore(engine)
        store.write(samples)
        now = samples[-1].ts + 1
        store.rollup(now)
        with engine.begin() as conn:  # what rollups before the 5-minute tier left
            conn.execute(text("DELETE FROM metric_rollups WHERE step = :s"), {"s": 300})
        rolled_until = math.floor(now / 60) * 60
        complete = math.floor(rolled_until / 300) * 300

        upgrade(empty_url)

        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT s.host, r.ts, r.count, r.sum, r.min, r.max FROM metric_rollups r "
                    "JOIN metric_series s ON s.id = r.series_id WHERE r.step = 300 "
                    "ORDER BY s.host, r.ts"
                )
            ).all()
        groups: dict[tuple[str, float], list[float]] = {}
        for s in samples:
            if s.ts < complete:
                groups.setdefault((s.host, math.floor(s.ts / 300) * 300.0), []).append(s.value)
        assert [(h, ts, c) for h, ts, c, *_ in rows] == [
            (h, ts, len(vs)) for (h, ts), vs in sorted(groups.items())
        ]
        for (_h, _ts, _c, total, low, high), vs in zip(
            rows, [vs for _, vs in sorted(groups.items())], strict=True
        ):
            assert total == pytest.approx(sum(vs)) and (low, high) == (min(vs), max(vs))

        command.downgrade(alembic_config(empty_url), "0007_diagnostics")
        with engine.connect() as conn:
            steps = set(conn.execute(text("SELECT DISTINCT step FROM metric_rollups")).scalars())
        assert steps == {60, 3600}  # the minutes and hours stay
    finally:
        engine.dispose()
