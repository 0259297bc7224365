"""The Postgres collector against the real server: stats, locks, outages, timeouts."""

from __future__ import annotations

import threading
import time

import psycopg
from sqlalchemy.engine import make_url

from collectors.base import TargetCollector
from collectors.postgres import FIELDS, PostgresCollector, target_name
from tests.services import TcpProxy


def by_name(samples) -> dict[str, float]:
    return {s.name: s.value for s in samples if s.name != "pg_connections"}


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_target_names_never_show_passwords():
    assert target_name("postgresql+psycopg://u:pw@db:6543/app") == "db:6543/app"


def test_a_live_database_yields_connections_transactions_and_cache(pg_url):
    collector = PostgresCollector("h", [pg_url])
    first = collector.collect(100.0)
    values = by_name(first)
    assert values["pg_up"] == 1.0
    assert values["pg_max_connections"] >= 10
    assert values["pg_database_size_bytes"] > 0
    assert values["pg_is_replica"] == 0.0
    states = {s.labels["state"]: s.value for s in first if s.name == "pg_connections"}
    assert states.get("active", 0) >= 1  # the collector's own query
    with psycopg.connect(dsn(pg_url), autocommit=True) as conn:
        for _ in range(20):
            conn.execute("SELECT 1")
    second = by_name(collector.collect(110.0))
    assert second["pg_commits_per_second"] > 0
    assert 0 <= second["pg_cache_hit_ratio"] <= 1
    fields = {f.name: f for f in FIELDS}
    for sample in collector.collect(120.0):
        assert tuple(sample.labels) == fields[sample.name].labels, sample


def test_a_locked_table_neither_hangs_the_collector_nor_goes_unnoticed(pg_url):
    with psycopg.connect(dsn(pg_url)) as holder:
        holder.execute("CREATE TABLE IF NOT EXISTS pb_lock_probe (id int)")
        holder.commit()
        holder.execute("LOCK TABLE pb_lock_probe IN ACCESS EXCLUSIVE MODE")
        waiter_conn = psycopg.connect(dsn(pg_url), autocommit=True)
        waiter = threading.Thread(
            target=lambda: waiter_conn.execute(
                "SET lock_timeout = '5s'; SELECT * FROM pb_lock_probe"
            ),
            daemon=True,
        )
        try:
            waiter.start()
            time.sleep(0.5)  # the waiter is queued behind the lock
            started = time.monotonic()
            values = by_name(PostgresCollector("h", [pg_url]).collect(1.0))
            assert time.monotonic() - started < 3
            assert values["pg_up"] == 1.0
            assert values["pg_waiting_locks"] >= 1
            assert values["pg_longest_query_seconds"] >= 0.4
        finally:
            holder.rollback()
            waiter.join(timeout=10)
            waiter_conn.close()


def test_every_collector_query_runs_under_short_timeouts(pg_url):
    collector = PostgresCollector("h", [pg_url])
    collector.collect(1.0)
    conn = next(iter(collector._connections.values()))
    assert conn.execute("SHOW statement_timeout").fetchone()[0] == "2s"
    assert conn.execute("SHOW lock_timeout").fetchone()[0] == "1s"


def test_a_database_that_goes_away_is_reported_down_and_recovers(pg_url):
    url = make_url(pg_url)
    proxy = TcpProxy(url.port or 5432)
    proxy.start()
    proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
    collector = PostgresCollector("h", [proxied])
    target = target_name(proxied)
    assert isinstance(collector, TargetCollector)
    try:
        assert by_name(collector.collect(1.0))["pg_up"] == 1.0
        proxy.cut()
        assert by_name(collector.collect(2.0)) == {"pg_up": 0.0}
        assert collector.targets[target]
        proxy.restore()
        assert by_name(collector.collect(3.0))["pg_up"] == 1.0
        assert collector.targets[target] is None
    finally:
        proxy.cut()


def test_pg_stat_statements_installed_but_not_preloaded_leaves_the_target_up(pg_url):
    with psycopg.connect(dsn(pg_url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        preloaded = (
            "pg_stat_statements" in conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        )
    try:
        collector = PostgresCollector("h", [pg_url])
        collector.collect(1.0)
        values = by_name(collector.collect(2.0))
        assert values["pg_up"] == 1.0
        assert collector.targets[target_name(pg_url)] is None
        if not preloaded:
            assert collector.top_statements[target_name(pg_url)] == []
    finally:
        with psycopg.connect(dsn(pg_url), autocommit=True) as conn:
            conn.execute("DROP EXTENSION IF EXISTS pg_stat_statements")
