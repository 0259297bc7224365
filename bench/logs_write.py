"""Log write path on PostgreSQL: ``LogStore.write`` vs raw psycopg COPY of the same rows,
into a table already holding millions of records, by one and by several clients, with
the trigram search index and without it (``PULSEBOARD_LOG_SEARCH_INDEX=none``)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import Result, Rounds, paired_rounds, psycopg_dsn
from bench.logs_data import copy_row, copy_rows, log_database, log_entries
from storage.db import make_engine
from storage.logs import LogStore

CASES = ((1, 1_000), (1, 10_000), (4, 10_000))
"""Clients writing at once, rows per batch."""
TARGET = "ours >= 0.8x raw (ratio <= 1.25)"
BASELINE_NOTE = (
    "baseline: psycopg COPY of the same entries (attrs encoded to JSON as they are copied, "
    "as ours must) into the same table, so both see the same indexes and size, one "
    "transaction per batch, as many connections writing at once as ours has clients"
)


def _throughput(name: str, rows: int, rounds: tuple[Rounds, Rounds], note: str) -> Result:
    """Rows per second of both sides: medians, and the slowest and fastest rounds."""
    mine, theirs = rounds
    return Result(
        name,
        rows / mine.median,
        rows / theirs.median,
        "rows/s",
        TARGET,
        note,
        higher_is_better=True,
        ours_range=(rows / max(mine.times), rows / min(mine.times)),
        baseline_range=(rows / max(theirs.times), rows / min(theirs.times)),
    )


def run(quick: bool = False) -> list[Result]:
    """Rows per second of both paths for each case, with and without the trigram index."""
    rows, repeats = (4_000, 1) if quick else (80_000, 5)
    results = []
    with log_database(quick) as db:
        engine = make_engine(db.url)
        store = LogStore(engine)
        now = datetime.now(UTC)
        entries = list(log_entries(rows, now - timedelta(minutes=10), now, seed=11))
        clients = max(c for c, _ in CASES)
        raws = [psycopg.connect(psycopg_dsn(db.url)) for _ in range(clients)]
        with ThreadPoolExecutor(clients) as pool:
            for index in ("trigram", "none"):
                store.apply_search_index(index)
                for count, size in CASES:
                    size = min(size, rows // count)
                    # Each client writes every count-th batch: the same rows in all.
                    starts = range(0, rows, size)

                    def ours(count: int = count, size: int = size, starts=starts) -> None:
                        def client(k: int) -> None:
                            for i in starts[k::count]:
                                store.write(entries[i : i + size])

                        list(pool.map(client, range(count)))

                    def baseline(count: int = count, size: int = size, starts=starts) -> None:
                        def client(k: int) -> None:
                            for i in starts[k::count]:
                                copy_rows(raws[k], map(copy_row, entries[i : i + size]))

                        list(pool.map(client, range(count)))

                    name = (
                        f"log write postgres, {count} client{'s' if count > 1 else ''}, "
                        f"batches of {size:,}, search index {index}"
                    )
                    note = (
                        f"{rows:,} rows a round onto {db.total:,}+ records, median of {repeats} "
                        f"alternating rounds; {BASELINE_NOTE}"
                    )
                    results.append(
                        _throughput(name, rows, paired_rounds(ours, baseline, repeats), note)
                    )
        for raw in raws:
            raw.close()
        engine.dispose()
    return results
