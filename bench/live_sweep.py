"""Live views for many clients: 1 to 200 WebSocket tails of a real ``pulseboard serve``
(PostgreSQL store) while records arrive at 2,000 lines/s through ``POST /api/v1/logs``,
10 of the tails reading slowly, plus metrics streams; baseline: a minimal asyncio
broadcaster in a process of its own that reads the same new rows from the same table,
encodes each once and writes it to the same number of raw WebSocket clients.

Latency is when a fast client received a record minus when its batch was due to be sent
(stamped into ``attrs``): the ingest request, the commit and the fan-out. CPU is the
serving process's (from /proc, through psutil) while records are produced; its growth per
extra client is the slope from 1 client to the largest size. Ours and the baseline take
turns, window by window, with the same writer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import selectors
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import psycopg
import requests

from app.live_sockets import frame
from bench.common import Result, pg_database, psycopg_dsn
from bench.logs_data import add_token, free_port, log_entries, served_app
from bench.logs_tail import (
    BATCH,
    RATE,
    SENDERS,
    Latencies,
    SlowClient,
    Tail,
    poster,
    produce,
    read_fast,
    read_slowly,
)

SIZES, QUICK_SIZES = (1, 20, 100, 200), (1, 20)
SLOW = 10
"""Slow tails among the clients, from 20 clients on."""
MEASURED = 5
"""Fast tails whose every message is decoded and timed; the other fast ones read and drop
the bytes, so that the bench's own decoding does not starve the servers on a small box."""
METRICS_STREAM = "/api/v1/admin/monitoring/stream"
TAIL_STREAM = "/api/v1/admin/logs/stream?backlog=0"
POLL_SECONDS = 0.01
"""How often the baseline looks for new rows (ours is woken by the commit)."""
SLOW_BUFFER = 1 << 20
"""Bytes the baseline lets a client's transport hold before it skips that client."""
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def drain(clients: list[Tail], stop: threading.Event, received: list[int]) -> None:
    """Read every client as fast as data comes and count the bytes (one thread)."""
    with selectors.DefaultSelector() as selector:
        for client in clients:
            selector.register(client.sock, selectors.EVENT_READ)
        while not stop.is_set():
            for key, _ in selector.select(timeout=0.2):
                data = key.fileobj.recv(1 << 16)
                if not data:
                    selector.unregister(key.fileobj)
                received[0] += len(data)


@contextmanager
def clients(
    port: int, token: str, size: int, metrics: int, out: Latencies, slow: SlowClient
) -> Iterator[list[int]]:
    """``size`` tails (10 of them slow from 20 on) and ``metrics`` metrics streams, being
    read; yields the count of bytes the unmeasured fast clients got."""
    slow_count = SLOW if size >= 20 else 0
    fast = [Tail(port, token, path=TAIL_STREAM) for _ in range(size - slow_count)]
    slow_tails = [
        Tail(port, token, receive_buffer=4096, path=TAIL_STREAM) for _ in range(slow_count)
    ]
    streams = [Tail(port, token, path=METRICS_STREAM, until_ready=False) for _ in range(metrics)]
    stop, received = threading.Event(), [0]
    threads = [
        threading.Thread(target=read_fast, args=(fast[:MEASURED], stop, out)),
        threading.Thread(target=drain, args=(fast[MEASURED:] + streams, stop, received)),
        *(threading.Thread(target=read_slowly, args=(t, stop, slow)) for t in slow_tails),
    ]
    for thread in threads:
        thread.start()
    try:
        yield received
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for client in (*fast, *slow_tails, *streams):
            client.close()


async def _broadcast(dsn: str, port: int) -> None:
    """The baseline: new rows every POLL_SECONDS, encoded once, written to every client
    whose transport is not backed up."""
    writers: set[asyncio.StreamWriter] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = re.search(rb"(?i)sec-websocket-key: *(\S+)", head).group(1)
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        writer.write(frame(json.dumps({"type": "ready"})))
        writers.add(writer)
        try:
            while await reader.read(4096):
                pass
        except ConnectionError:
            pass
        finally:
            writers.discard(writer)

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    async with server, await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        last = (
            await (await conn.execute("SELECT coalesce(max(id), 0) FROM log_records")).fetchone()
        )[0]
        print("ready", flush=True)
        while True:
            cursor = await conn.execute(
                "SELECT id, ts, level, source, host, message, attrs FROM log_records "
                "WHERE id > %s ORDER BY id LIMIT 2000",
                (last,),
            )
            rows = await cursor.fetchall()
            if not rows:
                await asyncio.sleep(POLL_SECONDS)
                continue
            last = rows[-1][0]
            data = b"".join(
                frame(
                    json.dumps(
                        {
                            "type": "log",
                            "id": i,
                            "ts": ts.isoformat(),
                            "level": level,
                            "source": source,
                            "host": host,
                            "message": message,
                            "attrs": json.loads(attrs),
                        },
                        separators=(",", ":"),
                    )
                )
                for i, ts, level, source, host, message, attrs in rows
            )
            for writer in writers:
                if writer.transport.get_write_buffer_size() < SLOW_BUFFER:
                    writer.write(data)


@contextmanager
def baseline_server(dsn: str) -> Iterator[tuple[int, psutil.Process]]:
    """The baseline broadcaster in a process of its own: its port and process."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.live_sweep", dsn, str(port)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("the baseline broadcaster did not start")
        yield port, psutil.Process(process.pid)
    finally:
        process.kill()
        process.wait(timeout=10)


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def run(quick: bool = False) -> list[Result]:
    """p50/p99 latency at each size and CPU per extra client, ours and the baseline."""
    sizes, seconds, rounds = (QUICK_SIZES, 1.0, 1) if quick else (SIZES, 4.0, 3)
    lines = int(seconds * RATE / BATCH) * BATCH
    latency: dict[tuple[str, int], Latencies] = {}
    cpu: dict[tuple[str, int], list[float]] = {}
    slow: dict[tuple[str, int], SlowClient] = {}
    with pg_database() as url, ExitStack() as stack:
        reader, writer = add_token(url, "analyst"), add_token(url, "ingest")
        served = stack.enter_context(served_app(url, PULSEBOARD_COLLECT_INTERVAL="1"))
        base_port, base_process = stack.enter_context(baseline_server(psycopg_dsn(url)))
        now = datetime.now(UTC)
        entries = list(log_entries(BATCH, now - timedelta(hours=1), now, seed=5))
        posts, trips = [], []
        for _ in range(SENDERS):
            session = stack.enter_context(requests.Session())
            session.headers.update(
                {"Authorization": f"Bearer {writer}", "Content-Type": "application/x-ndjson"}
            )
            posts.append(poster(session, f"{served.base}/api/v1/logs", trips))
        sides = {
            "ours": (served.port, served.worker(), lambda n: n // 4),
            "baseline": (base_port, base_process, lambda n: 0),
        }
        for size in sizes:
            for name in sides:
                latency[name, size], slow[name, size] = Latencies(), SlowClient()
                cpu[name, size] = []
            for round_ in range(rounds):
                for name, (port, process, metrics) in sides.items():
                    out = latency[name, size]
                    with clients(port, reader, size, metrics(size), out, slow[name, size]):
                        started = _cpu(process)
                        produce(seconds, posts, entries, round_)
                        cpu[name, size].append((_cpu(process) - started) / seconds)
                        out.wait_for(lines * (round_ + 1) * min(MEASURED, size))
    return _results(sizes, rounds, seconds, latency, cpu, slow, trips)


def _results(sizes, rounds, seconds, latency, cpu, slow, trips) -> list[Result]:
    results = []
    for size in sizes:
        ours, theirs = latency["ours", size], latency["baseline", size]
        seen = slow["ours", size]
        note = (
            f"{RATE:,} lines/s in batches of {BATCH} via HTTP ingest for {seconds:g} s, "
            f"{size} tails ({SLOW if size >= 20 else 0} slow; {min(MEASURED, size)} fast "
            f"ones timed, the rest drained) + {size // 4} metrics streams on ours only; "
            f"median of {rounds} alternating windows; ours: {ours.skipped:,} dropped on "
            f"timed tails, slow tails read {seen.messages} messages, {seen.notices} dropped "
            f"notices; baseline polls every {POLL_SECONDS * 1000:g} ms; median ingest POST "
            f"{statistics.median(trips) * 1000:.1f} ms"
        )
        for q, target in ((0.5, "for scale"), (0.99, "ours p99 < 250 ms")):
            results.append(
                Result(
                    f"live sweep p{int(q * 100)}, {size} clients, {RATE:,} lines/s",
                    ours.percentile(rounds, q),
                    theirs.percentile(rounds, q),
                    "ms",
                    target,
                    note,
                )
            )
        ours_cpu, their_cpu = cpu["ours", size], cpu["baseline", size]
        results.append(
            Result(
                f"live sweep server CPU, {size} clients",
                statistics.median(ours_cpu) * 100,
                statistics.median(their_cpu) * 100,
                "% core",
                "200 clients fit in one core",
                "ours includes the HTTP ingest and the store's writes; the baseline only reads "
                "and fans out",
                ours_range=(min(ours_cpu) * 100, max(ours_cpu) * 100),
                baseline_range=(min(their_cpu) * 100, max(their_cpu) * 100),
            )
        )
    low, high = sizes[0], sizes[-1]
    slopes = [
        (statistics.median(cpu[side, high]) - statistics.median(cpu[side, low]))
        / (high - low)
        * 100
        for side in ("ours", "baseline")
    ]
    results.append(
        Result(
            f"live sweep CPU per extra client, {low} to {high} clients",
            slopes[0],
            slopes[1],
            "% core",
            "< 0.5 % core per client",
            "slope of the median server CPU between the smallest and the largest size",
        )
    )
    return results


if __name__ == "__main__":  # the baseline broadcaster's process
    asyncio.run(_broadcast(sys.argv[1], int(sys.argv[2])))
