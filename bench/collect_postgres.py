"""One Postgres collection: ``PostgresCollector.collect`` vs the same statements sent by
hand on a bare psycopg connection."""

from __future__ import annotations

import time

import psycopg

from bench.common import Result, compared, paired_rounds, pg_database, psycopg_dsn
from collectors import pg_statements
from collectors.postgres import PostgresCollector

TARGET = "report (no target)"


def run(quick: bool = False) -> list[Result]:
    """Median wall time of a collection, and how many statements one collection sends."""
    repeats = 5 if quick else 31
    with pg_database() as url:
        collector = PostgresCollector("bench", [url])
        now = [time.time()]

        def collect() -> None:
            now[0] += 5
            collector.collect(now[0])

        collect()
        conn = next(iter(collector._connections.values()))
        sent: list[tuple] = []
        original = conn.execute

        def recording(query, params=None, *args, **kwargs):
            sent.append((query, params))
            return original(query, params, *args, **kwargs)

        conn.execute = recording
        collect()
        conn.execute = original
        with psycopg.connect(psycopg_dsn(url), autocommit=True) as bare:

            def by_hand() -> None:
                for query, params in sent:
                    bare.execute(query, params).fetchall()

            rounds = paired_rounds(collect, by_hand, repeats)
        readable = pg_statements.check(psycopg_dsn(url)) is None
    return [
        compared(
            "one Postgres collection vs its statements by hand",
            rounds,
            TARGET,
            f"{len(sent)} statements per collection (pg_stat_statements "
            f"{'on' if readable else 'off'}); baseline: the same statements "
            f"and parameters on a bare psycopg connection, every row fetched; median of "
            f"{repeats} alternating rounds",
        )
    ]
