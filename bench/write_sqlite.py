"""Metrics write path on SQLite: ``MetricsStore.write`` vs raw sqlite3 executemany."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import Result, compared_rates, sample_batches, sqlite_connect, sqlite_database
from bench.write_postgres import (
    SERIES,
    SeriesKey,
    raw_cache,
    raw_rows,
    reset_store,
    series_ids,
    write_rounds,
)
from bench.write_postgres import sizes as write_sizes
from storage.db import make_engine
from storage.metrics import MetricsStore, Sample

BASELINE_TABLE = """
CREATE TABLE raw_samples (
    id INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL REFERENCES metric_series (id),
    ts FLOAT NOT NULL,
    value FLOAT NOT NULL
);
CREATE INDEX ix_raw_samples_series_ts ON raw_samples (series_id, ts);
"""
BASELINE_NOTE = (
    "baseline: sqlite3 executemany of (series_id, ts, value) rows, each sample's series id "
    "looked up in a dict, into a table shaped like metric_samples in the same file and "
    "pragmas, one transaction per batch"
)


def run(quick: bool = False) -> list[Result]:
    """Measure both batch sizes; one result row each."""
    total, rounds, configs = write_sizes(quick)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_sqlite_") as tmp:
        url = sqlite_database(Path(tmp))
        engine = make_engine(url)
        store = MetricsStore(engine)
        store.write(sample_batches(SERIES, SERIES, series=SERIES)[0])  # create the series
        ids = series_ids(engine)
        raw = sqlite_connect(url)
        raw.executescript(BASELINE_TABLE)
        for label, batch_rows in configs:
            batches = sample_batches(total, batch_rows, series=SERIES)
            cache = raw_cache(batches, ids)

            def ours(batches: list[list[Sample]] = batches) -> None:
                for batch in batches:
                    store.write(batch)

            def baseline(
                batches: list[list[Sample]] = batches, cache: dict[SeriesKey, int] = cache
            ) -> None:
                for batch in batches:
                    raw.execute("BEGIN")
                    raw.executemany(
                        "INSERT INTO raw_samples (series_id, ts, value) VALUES (?, ?, ?)",
                        raw_rows(batch, cache),
                    )
                    raw.execute("COMMIT")

            def reset() -> None:
                reset_store(engine)
                raw.execute("DELETE FROM raw_samples")

            results.append(
                compared_rates(
                    f"write sqlite, {label} batches ({batch_rows} rows)",
                    write_rounds(rounds, reset, ours, baseline),
                    total,
                    "rows/s",
                    "ratio <= 2 (ours >= 0.5x raw)",
                    f"{total} rows, {SERIES} series, median of {rounds} alternating rounds; "
                    f"{BASELINE_NOTE}",
                )
            )
        raw.close()
        engine.dispose()
    return results
