"""Metric writes at 10, 100 and 1000 series per collection: ``MetricsStore.write`` of one
collection per transaction vs raw inserts (SQLite executemany, PostgreSQL COPY) of the same
rows into a table shaped and indexed like ``metric_samples``, on both backends."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from bench.common import (
    Result,
    Rounds,
    compared,
    paired_rounds,
    pg_database,
    psycopg_dsn,
    sample_batches,
    sqlite_connect,
    sqlite_database,
)
from bench.write_postgres import BASELINE_TABLE as PG_TABLE
from bench.write_postgres import Rows, SeriesKey, raw_cache, raw_rows, series_ids
from bench.write_sqlite import BASELINE_TABLE as SQLITE_TABLE
from storage.db import make_engine
from storage.metrics import MetricsStore, Sample

SERIES = (10, 100, 1000)
TARGET = "ratio <= 2 (ours >= 0.5x raw)"


@contextmanager
def sqlite_backend() -> Iterator[tuple[MetricsStore, Callable[[Rows], None]]]:
    """A SQLite store and a raw writer of one collection per transaction, same file."""
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        url = sqlite_database(Path(tmp))
        engine = make_engine(url)
        raw: sqlite3.Connection = sqlite_connect(url)
        raw.executescript(SQLITE_TABLE)

        def write(rows: Rows) -> None:
            raw.execute("BEGIN")
            raw.executemany("INSERT INTO raw_samples (series_id, ts, value) VALUES (?, ?, ?)", rows)
            raw.execute("COMMIT")

        yield MetricsStore(engine), write
        raw.close()
        engine.dispose()


@contextmanager
def postgres_backend() -> Iterator[tuple[MetricsStore, Callable[[Rows], None]]]:
    """A PostgreSQL store and a raw COPY of one collection per transaction, same database."""
    with pg_database() as url:
        engine = make_engine(url)
        with psycopg.connect(psycopg_dsn(url)) as raw:
            raw.execute(PG_TABLE)
            raw.commit()

            def write(rows: Rows) -> None:
                with (
                    raw.cursor() as cur,
                    cur.copy("COPY raw_samples (series_id, ts, value) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
                raw.commit()

            yield MetricsStore(engine), write
        engine.dispose()


def per_collection(rounds: Rounds, collections: int) -> Rounds:
    """Round times turned into times per collection."""
    return Rounds(tuple(t / collections for t in rounds.times))


def run(quick: bool = False) -> list[Result]:
    """Time per collection at each width on both backends."""
    collections, repeats = (5, 3) if quick else (100, 7)
    results = []
    for dialect, backend in (("sqlite", sqlite_backend), ("postgresql", postgres_backend)):
        with backend() as (store, raw_write):
            for series in SERIES:
                # Distinct timestamps for every round of both sides, one collection a batch.
                total = series * collections * (repeats + 1)
                batches = sample_batches(total + series, series, series=series)
                store.write(batches[0])  # the series exist, as in a running system
                cache = raw_cache(batches, series_ids(store.engine))
                ours_batches, theirs_batches = iter(batches[1:]), iter(batches[1:])

                def ours(batches: Iterator[list[Sample]] = ours_batches) -> None:
                    for _ in range(collections):
                        store.write(next(batches))

                def baseline(
                    batches: Iterator[list[Sample]] = theirs_batches,
                    cache: dict[SeriesKey, int] = cache,
                ) -> None:
                    for _ in range(collections):
                        raw_write(raw_rows(next(batches), cache))

                mine, theirs = paired_rounds(ours, baseline, repeats)
                raw = "sqlite3 executemany" if dialect == "sqlite" else "psycopg COPY"
                results.append(
                    compared(
                        f"write {dialect}, {series} series per collection",
                        (per_collection(mine, collections), per_collection(theirs, collections)),
                        TARGET,
                        f"ms per collection ({collections} collections a round, median of "
                        f"{repeats} alternating rounds); baseline: {raw} of (series_id, ts, "
                        "value) rows, each sample's series id looked up in a dict, into a "
                        "table shaped and indexed like metric_samples, one transaction per "
                        "collection",
                    )
                )
    return results
