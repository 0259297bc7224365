"""HTTP log ingest: NDJSON batches through ``POST /api/v1/logs`` of a real ``pulseboard
serve`` on PostgreSQL, several clients at once; for context, raw COPY of the same lines."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import requests

from bench.common import Result, paired_medians, psycopg_dsn
from bench.logs_data import (
    add_token,
    copy_row,
    copy_rows,
    log_database,
    log_entries,
    ndjson_line,
    served_app,
)

BODIES = 4
"""Distinct request bodies the clients take turns sending."""


def post_batches(session: requests.Session, url: str, bodies: list[bytes], count: int) -> int:
    """POST ``count`` bodies (taking turns), retrying on 429; the number of 429s."""
    busy = 0
    for i in range(count):
        while True:
            response = session.post(url, data=bodies[i % len(bodies)])
            if response.status_code != 429:
                break
            busy += 1
            time.sleep(0.01)
        if response.status_code != 200:
            raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")
    return busy


def run(quick: bool = False) -> list[Result]:
    """Lines per second through the served app and through raw COPY, alternating."""
    batch, clients, per_client, repeats = (1_000, 2, 1, 1) if quick else (5_000, 4, 5, 5)
    lines = clients * per_client * batch
    with log_database(quick) as db:
        token = add_token(db.url, "ingest")
        now = datetime.now(UTC)
        entries = list(log_entries(batch * BODIES, now - timedelta(minutes=5), now, seed=13))
        bodies = [
            b"\n".join(map(ndjson_line, entries[i : i + batch]))
            for i in range(0, len(entries), batch)
        ]
        tuples = [copy_row(e) for e in entries]
        sessions = [requests.Session() for _ in range(clients)]
        for session in sessions:
            session.headers.update(
                {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
            )
        busy = 0
        with (
            served_app(db.url) as served,
            psycopg.connect(psycopg_dsn(db.url)) as raw,
            ThreadPoolExecutor(clients) as pool,
        ):
            url = f"{served.base}/api/v1/logs"

            def ours() -> None:
                nonlocal busy
                sent = [
                    pool.submit(post_batches, s, url, bodies[i:] + bodies[:i], per_client)
                    for i, s in enumerate(sessions)
                ]
                busy += sum(f.result() for f in sent)

            def baseline() -> None:
                for i in range(clients * per_client):
                    start = i % BODIES * batch
                    copy_rows(raw, tuples[start : start + batch])

            mine, theirs = paired_medians(ours, baseline, repeats)
        for session in sessions:
            session.close()
    return [
        Result(
            f"log ingest HTTP, {clients} clients, NDJSON batches of {batch:,}",
            lines / mine,
            lines / theirs,
            "lines/s",
            "ours >= 100,000 lines/s",
            f"{lines:,} lines a round onto {db.total:,} records, median of {repeats} "
            f"alternating rounds; pulseboard serve (gunicorn, 1 worker) on PostgreSQL; "
            f"{busy} answers were 429 (retried); baseline: raw COPY of the same lines on one "
            "connection, one transaction per batch",
            higher_is_better=True,
        )
    ]
