"""Fingerprinting at ingest on PostgreSQL: ``LogStore.write`` as it runs (records at
error or above fingerprinted, their groups upserted in the same transaction) vs the same
write with the fingerprint step switched off, on the same batches, in alternating rounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice

from bench.common import Result, compared_rates, paired_rounds, pg_database
from bench.logs_data import log_entries
from storage.db import make_engine
from storage.logs import ERROR_LEVELS, LogEntry, LogStore

BATCH = 1_000
MIXES = {"realistic mix (8% error or above)": None, "error-heavy mix (30%)": 0.30}
"""Each mix: the share of records at error or above (None: as ``log_entries`` makes them)."""


def entries(count: int, error_share: float | None, start: datetime) -> list[LogEntry]:
    """``count`` realistic records; with ``error_share``, chosen from a longer stream so
    that this share of them are errors (their messages, tracebacks included, as made)."""
    stream = log_entries(count * 8, start, start + timedelta(minutes=10), seed=23)
    if error_share is None:
        return list(islice(stream, count))
    errors_wanted = int(count * error_share)
    errors, others = [], []
    for entry in stream:
        wanted = entry.level in ERROR_LEVELS
        kept, cap = (errors, errors_wanted) if wanted else (others, count - errors_wanted)
        if len(kept) < cap:
            kept.append(entry)
    chosen = sorted(errors + others, key=lambda e: e.ts)
    return chosen


def run(quick: bool = False) -> list[Result]:
    """Records per second with and without fingerprinting, for each mix."""
    rows, repeats = (1_000, 3) if quick else (50_000, 7)
    results = []
    with pg_database() as url:
        engine = make_engine(url)
        on, off = LogStore(engine), LogStore(engine, fingerprints=False)
        for name, share in MIXES.items():
            batch = entries(rows, share, datetime.now(UTC) - timedelta(minutes=10))

            def write(store: LogStore, records: list[LogEntry] = batch) -> None:
                for i in range(0, len(records), BATCH):
                    store.write(records[i : i + BATCH])

            results.append(
                compared_rates(
                    f"log ingest with fingerprints, {name}",
                    paired_rounds(lambda: write(on), lambda: write(off), repeats),
                    rows,
                    "rows/s",
                    "ratio <= 1.11 (loses at most 10%)",
                    f"LogStore.write in batches of {BATCH:,}, {rows:,} rows a round, median "
                    f"of {repeats} alternating rounds; baseline: the same write and batches "
                    "with the fingerprint step switched off",
                )
            )
        engine.dispose()
    return results
