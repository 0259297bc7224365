"""7-day range query of one 5-second series: ``MetricsStore.query`` vs the best hand-written
SQL over the same rollup table (and over the raw samples), same buckets, same points."""

from __future__ import annotations

import math
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import psycopg

from bench.common import (
    HOST,
    Result,
    compared,
    paired_rounds,
    pg_database,
    psycopg_dsn,
    sqlite_connect,
    sqlite_database,
)
from storage.db import make_engine
from storage.metrics import MetricsStore, QueryPlan, Sample, plan_query

METRIC = "system_cpu_usage_percent"
INTERVAL = 5
DAY = 86_400
MAX_POINTS = 1000
START = 1_700_000_100.0  # 5-minute aligned, so every sample falls in a complete period
TARGET = "ratio <= 1.3"

Point = tuple[float, float, float, float]
Execute = Callable[[str, tuple], list]

# The bucketed GROUP BY one would write by hand for one named series; {bucket} is the
# dialect's floor() and {p} its placeholder.
_SERIES = "series_id = (SELECT id FROM metric_series WHERE name = {p} AND host = {p})"
RAW_SQL = (
    "SELECT {bucket} AS b, SUM(value) / COUNT(*), MIN(value), MAX(value) FROM metric_samples "
    f"WHERE {_SERIES} AND ts >= {{p}} AND ts < {{p}} GROUP BY b ORDER BY b"
)
ROLLUP_SQL = (
    "SELECT {bucket} AS b, SUM(sum) / SUM(count), MIN(min), MAX(max) FROM metric_rollups "
    f"WHERE {_SERIES} AND step = {{p}} AND ts >= {{p}} AND ts < {{p}} GROUP BY b ORDER BY b"
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


def hand_written(execute: Execute, dialect: str, plan: QueryPlan, table: str) -> Callable:
    """A callable running the hand-written query over ``table`` (``raw`` or ``rollup``) in
    the buckets of ``plan``, returning the points as ``MetricsStore.query`` does."""
    bucket, p = BUCKETS[dialect]
    if table == "raw":
        sql, params = RAW_SQL, (plan.base, plan.step, METRIC, HOST, plan.start, plan.end)
    else:
        sql = ROLLUP_SQL
        params = (plan.base, plan.step, METRIC, HOST, plan.tier, plan.base, plan.end)
    sql = sql.format(bucket=bucket, p=p)
    base, step = plan.base, plan.step

    def run() -> list[Point]:
        return [(base + b * step, avg, lo, hi) for b, avg, lo, hi in execute(sql, params)]

    return run


def check_same(ours: list[Point], theirs: list[Point], label: str) -> None:
    """Raise unless both sides return the same buckets with the same figures."""
    same = len(ours) == len(theirs) and all(
        a[0] == b[0] and a[2:] == b[2:] and math.isclose(a[1], b[1], rel_tol=1e-9)
        for a, b in zip(ours, theirs, strict=True)
    )
    if not same:
        raise RuntimeError(f"the hand-written SQL over {label} returns other points than ours")


@contextmanager
def postgres(days: float) -> Iterator[tuple[MetricsStore, Execute]]:
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
def sqlite(days: float) -> Iterator[tuple[MetricsStore, Execute]]:
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


BACKENDS = (("postgresql", postgres), ("sqlite", sqlite))


def run(quick: bool = False) -> list[Result]:
    """Query times on both backends, against both hand-written baselines."""
    days = 2.0 if quick else 7.0  # both long enough to read a rollup tier
    repeats = 5 if quick else 201
    results = []
    for dialect, backend in BACKENDS:
        with backend(days) as (store, execute):
            start, end = START, START + days * DAY
            plan = plan_query(start, end, MAX_POINTS)
            query = partial(store.query, [METRIC], start, end, host=HOST, max_points=MAX_POINTS)

            def ours(query: Callable = query) -> list[Point]:
                return query()[0].points

            answer = query()[0]
            for table, label in (("rollup", "the same rollup table"), ("raw", "raw samples")):
                baseline = hand_written(execute, dialect, plan, table)
                check_same(ours(), baseline(), label)
                results.append(
                    compared(
                        f"query {days:g}d, {MAX_POINTS} points on {dialect} vs SQL over {label}",
                        paired_rounds(ours, baseline, repeats),
                        TARGET if table == "rollup" else "-",
                        f"{int(days * DAY / INTERVAL)} samples -> {len(answer.points)} points "
                        f"({answer.source}, step {answer.step}s); baseline: one GROUP BY of the "
                        "named series in the same buckets, checked equal; median of "
                        f"{repeats} alternating rounds",
                    )
                )
    return results
