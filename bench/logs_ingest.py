"""HTTP log ingest: NDJSON batches through ``POST /api/v1/logs`` of a real ``pulseboard
serve`` on PostgreSQL, several clients at once, vs raw COPY of the same lines by as many
connections at once, with and without the trigram search index."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import requests

from bench.common import Result, Rounds, paired_rounds, psycopg_dsn
from bench.logs_data import (
    COPY_SQL,
    add_token,
    log_database,
    log_entries,
    ndjson_line,
    served_app,
)

BODIES = 4
"""Distinct request bodies the clients take turns sending."""


def copy_lines(conn: psycopg.Connection, body: bytes) -> None:
    """COPY the records of an NDJSON ``body`` and commit: each line decoded, its attrs
    encoded again, the least a raw ingest does."""
    with conn.cursor() as cur, cur.copy(COPY_SQL.format(table="log_records")) as copy:
        for line in body.split(b"\n"):
            r = json.loads(line)
            attrs = json.dumps(r["attrs"], separators=(",", ":"))
            copy.write_row((r["ts"], r["level"], r["source"], r["host"], r["message"], attrs))
    conn.commit()


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
    """Lines per second through the served app and through raw COPY, alternating, with
    the trigram search index and without it (``PULSEBOARD_LOG_SEARCH_INDEX=none``)."""
    batch, clients, per_client, repeats = (1_000, 2, 1, 1) if quick else (5_000, 4, 5, 5)
    lines = clients * per_client * batch
    results = []
    with log_database(quick) as db:
        token = add_token(db.url, "ingest")
        now = datetime.now(UTC)
        entries = list(log_entries(batch * BODIES, now - timedelta(minutes=5), now, seed=13))
        bodies = [
            b"\n".join(map(ndjson_line, entries[i : i + batch]))
            for i in range(0, len(entries), batch)
        ]
        # A quick run starts one server: without the index, the case furthest from raw COPY.
        for index in ("none",) if quick else ("trigram", "none"):
            rounds, busy = _compare(db.url, index, token, bodies, clients, per_client, repeats)
            mine, theirs = rounds
            results.append(
                Result(
                    f"log ingest HTTP, {clients} clients, NDJSON batches of {batch:,}, "
                    f"search index {index}",
                    lines / mine.median,
                    lines / theirs.median,
                    "lines/s",
                    "ours >= 0.8x raw (ratio <= 1.25)",
                    f"{lines:,} lines a round onto {db.total:,}+ records, median of {repeats} "
                    "alternating rounds; pulseboard serve (gunicorn, 1 worker) on PostgreSQL "
                    f"with PULSEBOARD_LOG_SEARCH_INDEX={index}; {busy} answers were 429 "
                    f"(retried); baseline: raw COPY of the same lines on {clients} connections "
                    "at once, each line decoded and copied, one transaction per batch",
                    higher_is_better=True,
                    ours_range=(lines / max(mine.times), lines / min(mine.times)),
                    baseline_range=(lines / max(theirs.times), lines / min(theirs.times)),
                )
            )
    return results


def _compare(
    url: str,
    index: str,
    token: str,
    bodies: list[bytes],
    clients: int,
    per_client: int,
    repeats: int,
) -> tuple[tuple[Rounds, Rounds], int]:
    """Rounds of ``clients`` posting ``per_client`` bodies each to a served app with the
    search index ``index``, and of as many connections COPYing the same lines; and how
    many answers were 429."""
    sessions = [requests.Session() for _ in range(clients)]
    for session in sessions:
        session.headers.update(
            {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
        )
    busy = 0
    raws = [psycopg.connect(psycopg_dsn(url)) for _ in range(clients)]
    with (
        served_app(url, PULSEBOARD_LOG_SEARCH_INDEX=index) as served,
        ThreadPoolExecutor(clients) as pool,
    ):
        endpoint = f"{served.base}/api/v1/logs"

        def ours() -> None:
            nonlocal busy
            sent = [
                pool.submit(post_batches, s, endpoint, bodies[i:] + bodies[:i], per_client)
                for i, s in enumerate(sessions)
            ]
            busy += sum(f.result() for f in sent)

        def copier(k: int) -> None:
            for i in range(per_client):
                copy_lines(raws[k], bodies[(k + i) % len(bodies)])

        def baseline() -> None:
            list(pool.map(copier, range(clients)))

        rounds = paired_rounds(ours, baseline, repeats)
    for session in sessions:
        session.close()
    for raw in raws:
        raw.close()
    return rounds, busy
