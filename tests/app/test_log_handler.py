"""Pulseboard's own logs into the store: they land, a full queue drops without blocking, a
database that is away never raises into the caller, closing writes what is queued."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app import create_app
from app.log_handler import LogStoreHandler
from storage.db import make_engine
from storage.logs import LogStore
from tests.app.auth_helpers import runtime_of
from tests.conftest import wait_until
from tests.services import TcpProxy


def own_rows(engine, marker: str) -> list[dict]:
    """Stored Pulseboard records whose message contains ``marker``."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT level, source, host, message, attrs FROM log_records "
                "WHERE source = 'pulseboard' AND message LIKE :m ORDER BY id"
            ),
            {"m": f"%{marker}%"},
        ).mappings()
        return [{**row, "attrs": json.loads(row["attrs"])} for row in rows]


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A logger of this test's own that does not propagate to the root."""
    found = logging.getLogger(f"pbtest.{uuid.uuid4().hex[:8]}")
    found.setLevel(logging.DEBUG)
    found.propagate = False
    yield found
    for handler in list(found.handlers):
        found.removeHandler(handler)


def test_the_apps_logs_land_in_the_store(app):
    rt = runtime_of(app)
    assert rt.log_handler is not None and rt.log_handler in logging.getLogger().handlers
    marker = uuid.uuid4().hex
    log = logging.getLogger("pulseboard.test")
    log.info("hello %s", marker)
    log.debug("not at INFO %s", marker)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed %s", marker)
    rows = wait_until(
        lambda: len(own_rows(rt.engine, marker)) == 2 and own_rows(rt.engine, marker), 3
    )
    hello, failed = rows
    assert (hello["level"], hello["host"], hello["message"]) == (
        "info",
        "test-host",
        f"hello {marker}",
    )
    assert hello["attrs"] == {
        "logger": "pulseboard.test",
        "thread": threading.current_thread().name,
    }
    assert failed["level"] == "error"
    assert (
        "Traceback" in failed["attrs"]["exc_info"]
        and "RuntimeError: boom" in failed["attrs"]["exc_info"]
    )
    assert rt.log_handler.dropped == 0


def test_a_failed_statement_is_stored_without_the_values_bound_to_it(app):
    rt = runtime_of(app)
    marker, secret = uuid.uuid4().hex, f"hunter2-{uuid.uuid4().hex}"
    log = logging.getLogger("pulseboard.test")
    try:
        with rt.engine.connect() as conn:
            conn.execute(
                text("SELECT id FROM users WHERE name = :name AND no_such_column = 1"),
                {"name": secret},
            )
    except SQLAlchemyError as exc:
        log.exception("query failed %s: %s", marker, exc)
    [row] = wait_until(lambda: own_rows(rt.engine, marker), 3)
    stored = row["message"] + row["attrs"]["exc_info"]
    assert secret not in stored
    assert "Traceback" in row["attrs"]["exc_info"]
    assert "no_such_column = 1]" in row["attrs"]["exc_info"]  # the statement is kept
    assert "[SQL parameters hidden]" in row["message"]


def test_a_full_queue_drops_and_counts_without_blocking(database_url, logger):
    engine = make_engine(database_url)
    blocker = make_engine(database_url)
    handler = LogStoreHandler(
        LogStore(engine), "h", queue_size=10, batch_size=10, flush_interval=0.1
    )
    logger.addHandler(handler)
    conn = blocker.connect()
    # Hold the table so the writer thread is stuck in its first write.
    if blocker.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN EXCLUSIVE")
    else:
        conn.begin()
        conn.execute(text("LOCK TABLE log_records IN ACCESS EXCLUSIVE MODE"))
    try:
        logger.info("first")
        wait_until(lambda: handler.queued == 0, 3)  # taken by the writer, which now waits
        time.sleep(0.2)
        started = time.monotonic()
        for i in range(1000):
            logger.info("burst %d", i)
        elapsed = time.monotonic() - started
        assert elapsed < 1.0, f"emit blocked: {elapsed:.2f}s for 1000 records"
        assert handler.queued == 10
        assert handler.dropped == 990
    finally:
        conn.rollback()
        conn.close()
        blocker.dispose()
    handler.close()
    assert handler.written == 11 and handler.dropped == 990
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM log_records WHERE host = 'h'")).scalar() == 11
    engine.dispose()


def test_the_database_away_never_raises_and_the_writer_does_not_recurse(pg_url, logger):
    url = make_url(pg_url)
    proxy = TcpProxy(url.port or 5432)
    proxy.start()
    engine = make_engine(url.set(port=proxy.port).render_as_string(hide_password=False))
    handler = LogStoreHandler(LogStore(engine), "away-host", flush_interval=0.1)
    root = logging.getLogger()
    root.addHandler(handler)  # the writer's own warnings reach it too: they must be ignored
    logger.addHandler(handler)
    marker = uuid.uuid4().hex
    try:
        proxy.cut()
        started = time.monotonic()
        for i in range(5):
            logger.error("while away %s %d", marker, i)
        assert time.monotonic() - started < 0.5
        wait_until(lambda: handler.dropped == 5, 10)
        assert handler.failed_writes >= 3
        proxy.restore()
        logger.warning("back %s", marker)
        wait_until(lambda: own_rows(engine, marker), 10)
        handler.flush()
        time.sleep(0.3)
        rows = own_rows(engine, marker)
        assert [r["message"] for r in rows] == [f"back {marker}"]
        with engine.connect() as conn:
            recursed = conn.execute(
                text("SELECT count(*) FROM log_records WHERE message LIKE 'log handler:%'")
            ).scalar()
        assert recursed == 0
        assert handler.dropped == 5
    finally:
        root.removeHandler(handler)
        handler.close()
        proxy.cut()
        engine.dispose()


def test_closing_the_runtime_writes_what_is_queued(make_settings, database_url):
    app = create_app(make_settings(database_url=database_url))
    rt = runtime_of(app)
    handler = rt.log_handler
    marker = uuid.uuid4().hex
    for i in range(50):
        logging.getLogger("pulseboard.close").warning("closing %s %d", marker, i)
    rt.close()
    assert rt.log_handler is None and handler not in logging.getLogger().handlers
    engine = make_engine(database_url)
    try:
        assert len(own_rows(engine, marker)) == 50
    finally:
        engine.dispose()
