"""Log write path on PostgreSQL: ``LogStore.write`` vs raw psycopg COPY of the same rows,
into a table already holding millions of records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import Result, paired_medians, psycopg_dsn
from bench.logs_data import copy_row, copy_rows, log_database, log_entries
from storage.db import make_engine
from storage.logs import LogStore

BATCHES = (1_000, 10_000)
BASELINE_NOTE = (
    "baseline: psycopg COPY of the same rows (attrs already JSON) into the same table, so "
    "both see the same indexes and size; one transaction per batch"
)


def run(quick: bool = False) -> list[Result]:
    """Rows per second of both paths at each batch size; one result row each."""
    rows, repeats = (10_000, 1) if quick else (100_000, 5)
    results = []
    with log_database(quick) as db:
        engine = make_engine(db.url)
        store = LogStore(engine)
        now = datetime.now(UTC)
        entries = list(log_entries(rows, now - timedelta(minutes=10), now, seed=11))
        tuples = [copy_row(e) for e in entries]
        with psycopg.connect(psycopg_dsn(db.url)) as raw:
            for size in BATCHES:

                def ours(size: int = size) -> None:
                    for i in range(0, rows, size):
                        store.write(entries[i : i + size])

                def baseline(size: int = size) -> None:
                    for i in range(0, rows, size):
                        copy_rows(raw, tuples[i : i + size])

                mine, theirs = paired_medians(ours, baseline, repeats)
                results.append(
                    Result(
                        f"log write postgres, batches of {size:,}",
                        rows / mine,
                        rows / theirs,
                        "rows/s",
                        "ratio <= 2 (ours >= 0.5x raw)",
                        f"{rows:,} rows a round onto {db.total:,} records, median of "
                        f"{repeats} alternating rounds; {BASELINE_NOTE}",
                        higher_is_better=True,
                    )
                )
        engine.dispose()
    return results
