"""7-day range query of one 5-second series: ``MetricsStore.query`` vs hand-written SQL."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import psycopg
from sqlalchemy import text

from bench.common import (
    HOST,
    Result,
    paired_medians,
    pg_database,
    psycopg_dsn,
    sqlite_connect,
    sqlite_database,
)
from storage.db import make_engine
from storage.metrics import MetricsStore, Sample, plan_query

METRIC = "system_cpu_usage_percent"
INTERVAL = 5
DAY = 86_400
MAX_POINTS = 1000
START = 1_700_000_040.0  # minute-aligned, so every sample falls in a complete minute
TARGET = "ratio <= 1.3"

# The bucketed GROUP BY one would write by hand; {bucket} is the dialect's floor().
RAW_SQL = (
    "SELECT {bucket} AS b, SUM(value) / COUNT(*), MIN(value), MAX(value) FROM metric_samples "
    "WHERE series_id = {p} AND ts >= {p} AND ts < {p} GROUP BY b ORDER BY b"
)
ROLLUP_SQL = (
    "SELECT {bucket} AS b, SUM(sum) / SUM(count), MIN(min), MAX(max) FROM metric_rollups "
    "WHERE series_id = {p} AND step = 60 AND ts >= {p} AND ts < {p} GROUP BY b ORDER BY b"
)
BUCKETS = {
    "postgresql": ("floor((ts - %s) / %s)::bigint", "%s"),
    "sqlite": ("CAST((ts - ?) / ? AS INTEGER)", "?"),
}


def load(store: MetricsStore, days: float) -> tuple[float, float]:
    """Write ``days`` of one series every 5 s, roll it up; return the (start, end) range."""
    end = START + days * DAY
    count = int(days * DAY / INTERVAL)
    for offset in range(0, count, 10_000):
        store.write(
            [
                Sample(START + i * INTERVAL, HOST, METRIC, float(i % 997) / 10.0, {})
                for i in range(offset, min(offset + 10_000, count))
            ]
        )
    store.rollup(end)
    return START, end


def hand_written(
    execute: Callable[[str, tuple], list], dialect: str, series_id: int, start: float, end: float
) -> dict[str, Callable[[], list]]:
    """Callables running the hand-written raw-sample and rollup queries."""
    plan = plan_query(start, end, MAX_POINTS)
    bucket, p = BUCKETS[dialect]
    params = (plan.base, plan.step, series_id, start, end)

    def as_points(rows: list) -> list[tuple[float, float, float, float]]:
        return [(plan.base + b * plan.step, avg, lo, hi) for b, avg, lo, hi in rows]

    raw_sql = RAW_SQL.format(bucket=bucket, p=p)
    rollup_sql = ROLLUP_SQL.format(bucket=bucket, p=p)
    return {
        "raw samples": lambda: as_points(execute(raw_sql, params)),
        "rollup table": lambda: as_points(execute(rollup_sql, params)),
    }


@contextmanager
def postgres(days: float) -> Iterator[tuple[MetricsStore, Callable[[str, tuple], list]]]:
    """A loaded Postgres store and a raw psycopg executor on the same database."""
    with pg_database() as url:
        engine = make_engine(url)
        store = MetricsStore(engine)
        load(store, days)
        with psycopg.connect(psycopg_dsn(url), autocommit=True) as raw:
            raw.execute("VACUUM ANALYZE")

            def execute(sql: str, params: tuple) -> list:
                return raw.execute(sql, params).fetchall()

            yield store, execute
        engine.dispose()


@contextmanager
def sqlite(days: float) -> Iterator[tuple[MetricsStore, Callable[[str, tuple], list]]]:
    """A loaded SQLite store and a raw sqlite3 executor on the same file."""
    with tempfile.TemporaryDirectory(prefix="bench_sqlite_") as tmp:
        url = sqlite_database(Path(tmp))
        engine = make_engine(url)
        store = MetricsStore(engine)
        load(store, days)
        raw: sqlite3.Connection = sqlite_connect(url)
        raw.execute("ANALYZE")

        def execute(sql: str, params: tuple) -> list:
            return raw.execute(sql, params).fetchall()

        yield store, execute
        raw.close()
        engine.dispose()


def run(quick: bool = False) -> list[Result]:
    """Median query times on both backends, against both hand-written baselines."""
    days = 2.0 if quick else 7.0  # both long enough for the rollup tier
    repeats = 3 if quick else 41
    results = []
    for dialect, backend in (("postgresql", postgres), ("sqlite", sqlite)):
        with backend(days) as (store, execute):
            start, end = START, START + days * DAY
            with store.engine.connect() as conn:
                series_id = conn.execute(
                    text("SELECT id FROM metric_series WHERE name = :n AND host = :h"),
                    {"n": METRIC, "h": HOST},
                ).scalar_one()
            ours_points = store.query([METRIC], start, end, host=HOST, max_points=MAX_POINTS)
            npoints = len(ours_points[0].points)
            query = partial(store.query, [METRIC], start, end, host=HOST, max_points=MAX_POINTS)
            for label, baseline in hand_written(execute, dialect, series_id, start, end).items():
                # Raw samples give exactly our buckets; the rollup table only on a rollup plan.
                if label == "raw samples" and len(baseline()) != npoints:
                    raise RuntimeError(f"{label} baseline returns a different number of points")
                ours, theirs = paired_medians(query, baseline, repeats)
                results.append(
                    Result(
                        f"query {days:g}d on {dialect}, vs SQL over {label}",
                        ours * 1000,
                        theirs * 1000,
                        "ms",
                        TARGET,
                        f"{int(days * DAY / INTERVAL)} samples -> {npoints} points "
                        f"({ours_points[0].source}, step {ours_points[0].step}s); "
                        f"median of {repeats}, ours and baseline alternating",
                    )
                )
    return results
