"""Metrics write path on PostgreSQL: ``MetricsStore.write`` vs raw psycopg COPY."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import psycopg
from sqlalchemy import Engine, text

from bench.common import (
    Result,
    Rounds,
    compared_rates,
    pg_database,
    psycopg_dsn,
    sample_batches,
)
from storage.db import make_engine
from storage.metrics import MetricsStore, Sample, labels_key

SERIES = 100
COLLECTION_ROWS = SERIES
"""One collection of every series: the batch the scheduler writes each interval."""
LARGE_ROWS = 10_000

BASELINE_TABLE = """
CREATE TABLE raw_samples (
    id BIGSERIAL PRIMARY KEY,
    series_id INTEGER NOT NULL REFERENCES metric_series (id),
    ts DOUBLE PRECISION NOT NULL,
    value DOUBLE PRECISION NOT NULL
);
CREATE INDEX ix_raw_samples_series_ts ON raw_samples (series_id, ts);
"""
BASELINE_NOTE = (
    "baseline: COPY (series_id, ts, value), each sample's series id looked up in a dict as it "
    "is copied, into a table shaped like metric_samples (bigserial id, FK, (series_id, ts) "
    "index), one transaction per batch"
)
Rows = list[tuple[int, float, float]]
SeriesKey = tuple[str, str, tuple[tuple[str, str], ...]]


def sizes(quick: bool) -> tuple[int, int, list[tuple[str, int]]]:
    """Total rows, rounds and the (label, rows per batch) configurations to run."""
    total, rounds = (3_000, 3) if quick else (200_000, 3)
    return total, rounds, [("collection", COLLECTION_ROWS), ("large", min(LARGE_ROWS, total))]


def reset_store(engine: Engine) -> None:
    """Empty the samples and rollups (the series stay, as in a running system)."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM metric_rollups"))
        conn.execute(text("DELETE FROM metric_samples"))


def series_ids(engine: Engine) -> dict[tuple[str, str, str], int]:
    """Ids of the stored series by (name, host, canonical labels)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, name, host, labels FROM metric_series"))
        return {(name, host, labels): sid for sid, name, host, labels in rows}


def raw_cache(
    batches: Sequence[Sequence[Sample]], ids: dict[tuple[str, str, str], int]
) -> dict[SeriesKey, int]:
    """What a raw writer keeps, as ``MetricsStore`` does: each series as given (name, host,
    label items) to its id."""
    return {
        (s.name, s.host, tuple(s.labels.items())): ids[(s.name, s.host, labels_key(s.labels))]
        for batch in batches
        for s in batch
    }


def raw_rows(batch: Sequence[Sample], cache: dict[SeriesKey, int]) -> Rows:
    """``batch`` as the (series_id, ts, value) rows a raw writer copies."""
    return [(cache[(s.name, s.host, tuple(s.labels.items()))], s.ts, s.value) for s in batch]


def write_rounds(
    rounds: int,
    reset: Callable[[], None],
    ours: Callable[[], None],
    baseline: Callable[[], None],
) -> tuple[Rounds, Rounds]:
    """Wall times of ``rounds`` rounds of the baseline then ours, on tables emptied before
    each round (not timed)."""
    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(rounds):
        reset()
        for run, times in ((baseline, theirs), (ours, mine)):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
    return Rounds(tuple(mine)), Rounds(tuple(theirs))


def run(quick: bool = False) -> list[Result]:
    """Measure both batch sizes; one result row each."""
    total, rounds, configs = sizes(quick)
    results = []
    with pg_database() as url:
        engine = make_engine(url)
        store = MetricsStore(engine)
        store.write(sample_batches(SERIES, SERIES, series=SERIES)[0])  # create the series
        ids = series_ids(engine)
        with psycopg.connect(psycopg_dsn(url)) as raw:
            raw.execute(BASELINE_TABLE)
            raw.commit()
            for label, batch_rows in configs:
                batches = sample_batches(total, batch_rows, series=SERIES)
                cache = raw_cache(batches, ids)

                def ours(batches: list[list[Sample]] = batches) -> None:
                    for batch in batches:
                        store.write(batch)

                def baseline(
                    batches: list[list[Sample]] = batches, cache: dict[SeriesKey, int] = cache
                ) -> None:
                    with raw.cursor() as cur:
                        for batch in batches:
                            with cur.copy(
                                "COPY raw_samples (series_id, ts, value) FROM STDIN"
                            ) as copy:
                                for row in raw_rows(batch, cache):
                                    copy.write_row(row)
                            raw.commit()

                def reset() -> None:
                    reset_store(engine)
                    raw.execute("TRUNCATE raw_samples")
                    raw.commit()

                results.append(
                    compared_rates(
                        f"write postgres, {label} batches ({batch_rows} rows)",
                        write_rounds(rounds, reset, ours, baseline),
                        total,
                        "rows/s",
                        "ratio <= 2 (ours >= 0.5x raw)",
                        f"{total} rows, {SERIES} series, median of {rounds} alternating rounds; "
                        f"{BASELINE_NOTE}",
                    )
                )
        engine.dispose()
    return results
