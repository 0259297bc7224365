"""One Postgres collection: wall time and queries issued, against a bare SELECT 1."""

from __future__ import annotations

import time

import psycopg

from bench.common import Result, paired_medians, pg_database, psycopg_dsn
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
        sent: list[str] = []
        original = conn.execute

        def counting(query, *args, **kwargs):
            sent.append(str(query)[:40])
            return original(query, *args, **kwargs)

        conn.execute = counting
        collect()
        statements = len(sent)
        conn.execute = original
        with psycopg.connect(psycopg_dsn(url), autocommit=True) as bare:
            ours, baseline = paired_medians(collect, lambda: bare.execute("SELECT 1"), repeats)
    return [
        Result(
            "one Postgres collection vs one SELECT 1",
            ours * 1000,
            baseline * 1000,
            "ms",
            TARGET,
            f"{statements} statements per collection (pg_stat_statements "
            f"{'on' if collector.top_statements else 'off'}); median of {repeats}",
        )
    ]
