"""The test session's PostgreSQL with pg_stat_statements preloaded really records."""

from sqlalchemy import create_engine, text


def test_the_statements_server_records_statements(statements_pg_url: str):
    engine = create_engine(statements_pg_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_statements_reset()"))
            conn.execute(text("SELECT pg_sleep(0.05)"))
            calls = conn.execute(
                text("SELECT calls FROM pg_stat_statements WHERE query LIKE 'SELECT pg_sleep%'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert calls == 1
