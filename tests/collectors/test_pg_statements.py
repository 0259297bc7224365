"""The statement collector against a real server with pg_stat_statements: per-interval
deltas of the top statements, resets, what to change when the extension cannot be read,
and EXPLAIN in a rolled-back read-only transaction."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from collectors import pg_explain, pg_statements
from collectors.pg_connection import libpq_url, target_name
from collectors.pg_statements import StatementCollector
from collectors.postgres import PostgresCollector
from storage.db import make_engine, upgrade
from storage.diagnostics.statements import StatementStore

SLOW = "SELECT pg_sleep(0.2)"


def run(url: str, *statements: str) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture
def store(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield StatementStore(engine)
    engine.dispose()


def ranked(store: StatementStore, url: str, start: float, end: float, order="total_time"):
    return store.rank(start, end, [target_name(url)], order, 50)


def calls_of(items, query: str) -> int | None:
    return next((i.calls for i in items if i.query == query), None)


def test_a_slow_statement_tops_the_interval_that_holds_it_and_no_other(statements_pg_url, store):
    collector = StatementCollector([statements_pg_url], store)
    assert collector.collect(1000.0) == 0  # the first snapshot is only the baseline
    run(statements_pg_url, *["SELECT 1"] * 30, SLOW, SLOW)
    assert collector.collect(1060.0) > 0
    run(statements_pg_url, *["SELECT 1"] * 20)
    collector.collect(1120.0)
    collector.close()

    holding = ranked(store, statements_pg_url, 1000, 1100)
    assert "pg_sleep" in holding[0].query
    assert holding[0].calls == 2
    assert holding[0].total_time_ms >= 400
    assert 0 < holding[0].share_of_total <= 1
    later = ranked(store, statements_pg_url, 1100, 1200)
    assert calls_of(later, "SELECT pg_sleep($1)") is None
    # Deltas, not totals: the second interval counts only its own 20 calls.
    assert calls_of(later, "SELECT $1") == 20
    assert calls_of(holding, "SELECT $1") == 30
    assert calls_of(ranked(store, statements_pg_url, 1000, 1200, "calls"), "SELECT $1") == 50


def test_a_reset_counts_what_ran_since_it_and_never_goes_negative(statements_pg_url, store):
    collector = StatementCollector([statements_pg_url], store)
    run(statements_pg_url, *["SELECT 2 + 2"] * 10)
    collector.collect(1000.0)
    run(
        statements_pg_url,
        "SELECT pg_stat_statements_reset(0, "
        "(SELECT oid FROM pg_database WHERE datname = current_database()), 0)",
        *["SELECT 2 + 2"] * 3,
    )
    collector.collect(1060.0)
    collector.close()
    items = ranked(store, statements_pg_url, 1000, 1100, "calls")
    assert calls_of(items, "SELECT $1 + $2") == 3
    assert all(i.calls >= 0 and i.total_time_ms >= 0 for i in items)


def test_an_interval_whose_write_failed_is_counted_with_the_next(
    statements_pg_url, throwaway_postgres
):
    """Pulseboard's own database away for one collection: nothing that ran is lost."""
    upgrade(throwaway_postgres.url)
    engine = make_engine(throwaway_postgres.url)
    store = StatementStore(engine)
    collector = StatementCollector([statements_pg_url], store)
    collector.collect(1000.0)
    run(statements_pg_url, *["SELECT 3 * 3"] * 7)
    throwaway_postgres.stop()
    with pytest.raises(Exception, match=r"connect|terminat|closed"):
        collector.collect(1060.0)
    throwaway_postgres.start()
    run(statements_pg_url, *["SELECT 3 * 3"] * 5)
    collector.collect(1120.0)
    collector.close()
    items = ranked(store, statements_pg_url, 1000, 1200, "calls")
    engine.dispose()
    assert calls_of(items, "SELECT $1 * $2") == 12


def test_without_the_extension_the_collector_says_what_to_change(pg_url, store):
    collector = StatementCollector([pg_url], store)
    assert collector.collect(1000.0) == 0
    reason = collector.unavailable[target_name(pg_url)]
    assert "shared_preload_libraries = 'pg_stat_statements'" in reason
    assert "CREATE EXTENSION" in reason and target_name(pg_url).split("/")[1] in reason
    assert pg_statements.check(libpq_url(pg_url)) == reason


def test_preloaded_but_not_created_asks_only_for_create_extension(statements_pg_url):
    run(statements_pg_url, "DROP EXTENSION pg_stat_statements")
    reason = pg_statements.check(libpq_url(statements_pg_url))
    assert reason.startswith("pg_stat_statements is loaded but not created")
    assert "CREATE EXTENSION pg_stat_statements;" in reason


def test_the_health_collector_still_reports_statement_time(statements_pg_url):
    collector = PostgresCollector("h", [statements_pg_url])
    run(statements_pg_url, SLOW)  # known to the first reading, so the second has a rate
    collector.collect(1000.0)
    run(statements_pg_url, SLOW)
    samples = collector.collect(1010.0)
    rates = [s.value for s in samples if s.name == "pg_statement_seconds_per_second"]
    assert rates and max(rates) > 0
    top = collector.top_statements[target_name(statements_pg_url)]
    assert "pg_sleep" in top[0][2]


def test_explain_gives_json_and_text_plans_and_leaves_nothing_behind(statements_pg_url):
    run(statements_pg_url, "CREATE TABLE t (id int)")
    conninfo = libpq_url(statements_pg_url)
    plain = pg_explain.explain(conninfo, "SELECT * FROM t WHERE id = 1", analyze=False)
    assert plain.plan[0]["Plan"]["Node Type"] == "Seq Scan"
    assert "Seq Scan on t" in plain.text and not plain.analyze
    dml = pg_explain.explain(conninfo, "INSERT INTO t VALUES (1)", analyze=False)
    assert dml.plan[0]["Plan"]["Node Type"] == "ModifyTable"
    analyzed = pg_explain.explain(conninfo, "SELECT count(*) FROM t", analyze=True)
    assert "Actual Rows" in analyzed.plan[0]["Plan"] and "actual time" in analyzed.text
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("query", "analyze", "says"),
    [
        ("SELECT 1; DROP TABLE t", False, "more than one statement"),
        ("DROP TABLE t", False, "must be a SELECT"),
        ("VACUUM t", False, "must be a SELECT"),
        ("   ", False, "is empty"),
        ("DELETE FROM t", True, "EXPLAIN ANALYZE runs the statement"),
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", True, "writes data"),
    ],
)
def test_explain_refuses_what_it_does_not_explain(query, analyze, says):
    with pytest.raises(pg_explain.Refused, match=says):
        pg_explain.inspect(query, analyze)


def test_semicolons_inside_strings_and_comments_are_not_statements():
    assert pg_explain.inspect("SELECT ';' -- ; DROP\n, $$;$$ /* ; */;", analyze=True) is False
    assert pg_explain.inspect("SELECT * FROM t WHERE id = $1", analyze=False) is True


def test_placeholders_on_postgresql_15_ask_for_values(statements_pg_url):
    run(statements_pg_url, "CREATE TABLE t (id int)")
    conninfo = libpq_url(statements_pg_url)
    with psycopg.connect(conninfo) as conn:
        version = conn.info.server_version
    if version >= pg_explain.GENERIC_PLAN_VERSION:
        plan = pg_explain.explain(conninfo, "SELECT * FROM t WHERE id = $1", analyze=False)
        assert plan.generic
        return
    with pytest.raises(pg_explain.Refused, match="paste it with values"):
        pg_explain.explain(conninfo, "SELECT * FROM t WHERE id = $1", analyze=False)
