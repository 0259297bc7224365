"""Metrics write path on PostgreSQL: ``MetricsStore.write`` vs raw psycopg COPY."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import psycopg
from sqlalchemy import Engine, text

from bench.common import Result, pg_database, psycopg_dsn, sample_batches
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
    "baseline: COPY (series_id, ts, value) of pre-resolved tuples into a table shaped like "
    "metric_samples (bigserial id, FK, (series_id, ts) index), one transaction per batch"
)


def sizes(quick: bool) -> tuple[int, int, list[tuple[str, int]]]:
    """Total rows, rounds and the (label, rows per batch) configurations to run."""
    total, rounds = (5_000, 1) if quick else (200_000, 2)
    return total, rounds, [("collection", COLLECTION_ROWS), ("large", LARGE_ROWS)]


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


def prepared_rows(
    batches: Sequence[Sequence[Sample]], ids: dict[tuple[str, str, str], int]
) -> list[list[tuple[int, float, float]]]:
    """The batches as (series_id, ts, value) tuples, ids resolved up front."""
    return [
        [(ids[(s.name, s.host, labels_key(s.labels))], s.ts, s.value) for s in batch]
        for batch in batches
    ]


def rows_per_second(total: int, run: Callable[[], None]) -> float:
    """Rows per second of ``run`` writing ``total`` rows."""
    started = time.perf_counter()
    run()
    return total / (time.perf_counter() - started)


def best_rates(
    total: int,
    rounds: int,
    reset: Callable[[], None],
    ours: Callable[[], None],
    baseline: Callable[[], None],
) -> tuple[float, float]:
    """Best (ours, baseline) rows/s over ``rounds`` alternating rounds on emptied tables."""
    ours_best = base_best = 0.0
    for _ in range(rounds):
        reset()
        base_best = max(base_best, rows_per_second(total, baseline))
        ours_best = max(ours_best, rows_per_second(total, ours))
    return ours_best, base_best


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
                tuples = prepared_rows(batches, ids)

                def ours(batches: list[list[Sample]] = batches) -> None:
                    for batch in batches:
                        store.write(batch)

                def baseline(tuples: list[list[tuple[int, float, float]]] = tuples) -> None:
                    with raw.cursor() as cur:
                        for batch in tuples:
                            with cur.copy(
                                "COPY raw_samples (series_id, ts, value) FROM STDIN"
                            ) as copy:
                                for row in batch:
                                    copy.write_row(row)
                            raw.commit()

                def reset() -> None:
                    reset_store(engine)
                    raw.execute("TRUNCATE raw_samples")
                    raw.commit()

                ours_rate, base_rate = best_rates(total, rounds, reset, ours, baseline)
                results.append(
                    Result(
                        f"write postgres, {label} batches ({batch_rows} rows)",
                        ours_rate,
                        base_rate,
                        "rows/s",
                        "ratio <= 2 (ours >= 0.5x raw)",
                        f"{total} rows, {SERIES} series, best of {rounds}; {BASELINE_NOTE}",
                        higher_is_better=True,
                    )
                )
        engine.dispose()
    return results
