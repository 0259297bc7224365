"""CSV export of a million log records: ``POST /api/v1/admin/logs/export`` of a real
``pulseboard serve``, the download streamed to nowhere, vs ``psql -c "\\copy (query) to
stdout with csv header"`` into /dev/null; and how far the app process's memory grows."""

from __future__ import annotations

import csv
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import psutil
import psycopg
import requests

from bench.common import Result, compared_rates, paired_rounds, psycopg_dsn
from bench.logs_data import SPAN, add_token, log_database, served_app

SHARE = 0.2
"""Of the loaded records, the share in the exported time range: 1 million of 5 million."""
MB = 1024 * 1024
HAND_SQL = (
    "SELECT id, ts, level, source, host, message, attrs FROM log_records "
    "WHERE ts >= '{start}' AND ts < '{end}' ORDER BY ts, id"
)


@contextmanager
def peak_rss(process: psutil.Process) -> Iterator[list[int]]:
    """Sample ``process``'s resident memory every 5 ms; yields [at start, peak so far]."""
    memory = [process.memory_info().rss] * 2
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            memory[1] = max(memory[1], process.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield memory
    finally:
        stop.set()
        sampler.join()
        memory[1] = max(memory[1], process.memory_info().rss)


def csv_records(path: Path) -> int:
    """Records in a CSV file with a header line (messages may span lines)."""
    with open(path, newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def run(quick: bool = False) -> list[Result]:
    """Rows per second of both, alternating, and the app's peak memory growth."""
    repeats = 3 if quick else 5
    with log_database(quick) as db:
        token = add_token(db.url, "analyst")
        start = db.start + timedelta(days=1)
        end = start + SPAN * SHARE
        dsn = psycopg_dsn(db.url)
        with psycopg.connect(dsn) as conn:
            (rows,) = conn.execute(
                "SELECT count(*) FROM log_records WHERE ts >= %s AND ts < %s", (start, end)
            ).fetchone()
        copy = f"\\copy ({HAND_SQL.format(start=start, end=end)}) to stdout with csv header"
        body = {"from": start.timestamp(), "to": end.timestamp(), "format": "csv"}
        memories: list[tuple[int, int]] = []
        with served_app(db.url) as served, requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            worker = served.worker()

            def download(sink: BinaryIO) -> None:
                with (
                    peak_rss(worker) as memory,
                    session.post(
                        f"{served.base}/api/v1/admin/logs/export", json=body, stream=True
                    ) as response,
                ):
                    if response.status_code != 200:
                        raise RuntimeError(f"export answered {response.status_code}")
                    for chunk in response.iter_content(MB):
                        sink.write(chunk)
                memories.append((memory[0], memory[1]))

            def psql(sink: BinaryIO) -> None:
                subprocess.run(["psql", dsn, "-X", "-q", "-c", copy], stdout=sink, check=True)

            with tempfile.TemporaryDirectory(prefix="bench_export_") as tmp:
                for name, export in (("ours", download), ("psql", psql)):
                    path = Path(tmp) / f"{name}.csv"
                    with open(path, "wb") as sink:
                        export(sink)
                    if csv_records(path) != rows:
                        raise RuntimeError(f"{name} exported {csv_records(path)} of {rows} rows")
            with open("/dev/null", "wb") as null:
                rounds = paired_rounds(lambda: download(null), lambda: psql(null), repeats)
    before, peak = max(memories, key=lambda m: m[1] - m[0])
    note = (
        f"{rows:,} of {db.total:,} records ({SPAN * SHARE / timedelta(hours=1):g} h), median "
        f"of {repeats} alternating; ours: the export endpoint of pulseboard serve on "
        "PostgreSQL, download read in 1 MB chunks and dropped; baseline: psql \\copy of the "
        "hand-written SELECT to /dev/null; worker RSS sampled every 5 ms, the export that "
        f"grew it most of {len(memories)}"
    )
    return [
        compared_rates(
            f"log export CSV, {rows:,} rows",
            rounds,
            rows,
            "rows/s",
            "ratio <= 1.43 (ours >= 0.7x)",
            note,
        ),
        Result(
            "log export CSV, app worker RSS: peak vs before",
            peak / MB,
            before / MB,
            "MB",
            "peak - before < 100 MB",
            note,
        ),
    ]
