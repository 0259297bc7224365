"""Live views for many clients: 1 to 200 WebSocket tails of a real ``pulseboard serve``
(PostgreSQL store) and a quarter as many metrics streams, while records arrive at 2,000
lines/s through ``POST /api/v1/logs``, 10 of the tails reading far slower than the stream;
baseline: a minimal asyncio broadcaster in a process of its own that reads the same new rows
from the same table, encodes each once and writes it to as many raw WebSocket tails (and a
metrics-sized message each second to as many streams).

Latency is when a timed fast tail received a record minus when its batch was due to be sent
(stamped into ``attrs``): the ingest request, the commit and the fan-out; the ingest's own
share (due to answered, the same path for both sides) is shown beside it. The clients live
in two processes of their own, apart from the producers: the timed tails alone in one, so
that their clock readings wait for no other reader, and the other fast tails, the slow tails
and the metrics streams in the other. Before each full run's window a burst of records takes
the slow tails past their per-client bound, so that the window measures the fast tails while the
slow ones are being dropped from; after it every slow tail is read out to show what it was
told it lost, and every fast one is checked to have had every record without a dropped
notice. CPU is the serving process's while records are produced; its growth per extra
client is the slope from the smallest size to the largest. Ours and the baseline take turns,
window by window, with the same writer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import multiprocessing
import re
import selectors
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import psycopg
import requests

from app.live_sockets import frame
from bench.common import Result, pg_database, psycopg_dsn, series_keys
from bench.logs_data import add_token, free_port, log_entries, served_app
from bench.logs_tail import (
    BATCH,
    RATE,
    SENDERS,
    SETTLE,
    SLOW_READ_BYTES,
    SLOW_READ_INTERVAL,
    Tail,
    poster,
    produce,
)

SIZES, QUICK_SIZES = (1, 20, 100, 200), (1, 200)
SLOW = 10
"""Slow tails among the clients, from 20 clients on."""
MEASURED = 5
"""Fast tails whose every message is decoded and timed; the other fast ones count the
records in the bytes they read without decoding them, so that the bench's own work does
not starve the servers on a small box."""
BURST = 14_000
"""Records sent before a window with slow tails, one request from each sender: more than
their bound (MAX_LAG records, then the transport's and the kernel's buffers) holds."""
BURST_BATCH = BURST // SENDERS
METRICS_STREAM = "/api/v1/admin/monitoring/stream"
TAIL_STREAM = "/api/v1/admin/logs/stream?backlog=0"
POLL_SECONDS = 0.01
"""How often the baseline looks for new rows (ours is woken by the commit)."""
SLOW_BUFFER = 1 << 20
"""Bytes the baseline lets a client's transport hold before it skips that client."""
READ_OUT_QUIET = 0.2
"""Seconds without data after which a slow tail counts as read out."""
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LOG_FRAME = b'{"type":"log",'
DROPPED = re.compile(rb'\{"type": "dropped", "count": (\d+)\}')
NOTICE_TAIL = 64
"""Bytes kept to find a dropped notice that straddles two reads (longer than one)."""


# -- the clients, in processes of their own -------------------------------------------------


class Counter:
    """Counts the records and dropped notices in the bytes one tail reads, without decoding
    a message (a pattern may straddle two reads: the end of the last one is kept)."""

    def __init__(self) -> None:
        self.records = self.notices = self.dropped = self.bytes = 0
        self._log_tail = self._notice_tail = b""

    def add(self, data: bytes) -> None:
        """Count what ``data`` completes."""
        self.bytes += len(data)
        # Shorter than the pattern: nothing counted once can be counted again.
        joined = self._log_tail + data
        self.records += joined.count(LOG_FRAME)
        self._log_tail = joined[1 - len(LOG_FRAME) :]
        joined = self._notice_tail + data
        cut = 0
        for match in DROPPED.finditer(joined):
            self.notices += 1
            self.dropped += int(match.group(1))
            cut = match.end()
        self._notice_tail = joined[cut:][-NOTICE_TAIL:]


class Timed:
    """The timed fast tails: every message decoded, each stamped record's latency kept."""

    def __init__(self) -> None:
        self._tails: list[Tail] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._received: list[tuple[float, float]] = []
        self._stamped: list[int] = []
        self._records = 0
        self._notices = 0

    def open(self, port: int, token: str, count: int) -> None:
        """Connect ``count`` tails and read them from now on."""
        self._tails = [Tail(port, token, path=TAIL_STREAM) for _ in range(count)]
        self._stamped = [0] * count
        self._received, self._records, self._notices = [], 0, 0
        self._stop.clear()
        self._thread = threading.Thread(target=self._read)
        self._thread.start()

    def _read(self) -> None:
        with selectors.DefaultSelector() as selector:
            for index, tail in enumerate(self._tails):
                selector.register(tail.sock, selectors.EVENT_READ, index)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.1):
                    messages = self._tails[key.data].read()
                    now = time.time()
                    with self._lock:
                        for message in map(json.loads, messages):
                            if message["type"] == "dropped":
                                self._notices += 1
                            elif message["type"] == "log":
                                self._records += 1
                                if "bench_sent" in message["attrs"]:
                                    self._stamped[key.data] += 1
                                    self._received.append((message["attrs"]["bench_sent"], now))

    def progress(self) -> tuple[int, int]:
        """Records in all and stamped records received so far, over every tail."""
        with self._lock:
            return self._records, sum(self._stamped)

    def close(self) -> dict:
        """Stop reading and disconnect; what was received."""
        self._stop.set()
        self._thread.join()
        for tail in self._tails:
            tail.close()
        return {
            "received": self._received,
            "stamped": self._stamped,
            "notices": self._notices,
        }


class Load:
    """The other clients: fast tails read as data comes, slow tails that read
    SLOW_READ_BYTES every SLOW_READ_INTERVAL, metrics streams read as data comes."""

    def __init__(self) -> None:
        self._fast: list[Tail] = []
        self._slow: list[Tail] = []
        self._streams: list[Tail] = []
        self._counts: dict[int, Counter] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._slow_since = self._fast_since = 0.0

    def open_slow(self, port: int, token: str, count: int) -> None:
        """Connect ``count`` slow tails (a tiny receive buffer) and start reading them."""
        self._stop.clear()
        self._slow_since = time.monotonic()
        self._slow = [
            Tail(port, token, receive_buffer=4096, path=TAIL_STREAM) for _ in range(count)
        ]
        for tail in self._slow:
            tail.sock.setblocking(False)
            self._counts[id(tail)] = Counter()
        self._start(self._read_slowly)

    def open_fast(self, port: int, token: str, count: int, streams: int) -> None:
        """Connect ``count`` fast tails and ``streams`` metrics streams and read them."""
        self._stop.clear()
        self._fast_since = time.monotonic()
        self._fast = [Tail(port, token, path=TAIL_STREAM) for _ in range(count)]
        self._streams = [
            Tail(port, token, path=METRICS_STREAM, until_ready=False) for _ in range(streams)
        ]
        for tail in (*self._fast, *self._streams):
            self._counts[id(tail)] = Counter()
        self._start(self._drain)

    def _start(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target)
        thread.start()
        self._threads.append(thread)

    def _count(self, tail: Tail, data: bytes) -> None:
        with self._lock:
            self._counts[id(tail)].add(data)

    def _drain(self) -> None:
        with selectors.DefaultSelector() as selector:
            for tail in (*self._fast, *self._streams):
                # What came with the handshake (after ``ready``) counts too.
                self._count(tail, _rebuild(tail))
                selector.register(tail.sock, selectors.EVENT_READ, tail)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.1):
                    data = key.data.sock.recv(1 << 18)
                    if not data:
                        selector.unregister(key.fileobj)
                    self._count(key.data, data)

    def _read_slowly(self) -> None:
        for tail in self._slow:
            self._count(tail, _rebuild(tail))
        while not self._stop.wait(SLOW_READ_INTERVAL):
            for tail in self._slow:
                with suppress(BlockingIOError):
                    self._count(tail, tail.sock.recv(SLOW_READ_BYTES))

    def fast_records(self) -> list[int]:
        """Records each fast tail has counted so far."""
        with self._lock:
            return [self._counts[id(t)].records for t in self._fast]

    def close(self, expected: int) -> dict:
        """Wait (a while) until every fast tail has ``expected`` records, stop, read each
        slow tail out to its end, disconnect; what each kind of client got."""
        seen, quiet_since = None, time.monotonic()
        while (now := self.fast_records()) and min(now) < expected:
            if now != seen:
                seen, quiet_since = now, time.monotonic()
            if time.monotonic() - quiet_since > SETTLE:
                break
            time.sleep(0.05)
        now = time.monotonic()
        slow_rates = [self._counts[id(t)].bytes / (now - self._slow_since) for t in self._slow]
        fast_rates = [self._counts[id(t)].bytes / (now - self._fast_since) for t in self._fast]
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._threads = []
        self._read_out(self._slow)
        fast = [self._counts[id(t)] for t in self._fast]
        slow = [self._counts[id(t)] for t in self._slow]
        for tail in (*self._fast, *self._slow, *self._streams):
            tail.close()
        self._fast, self._slow, self._streams, self._counts = [], [], [], {}
        return {
            "fast_records": [c.records for c in fast],
            "fast_notices": sum(c.notices for c in fast),
            "slow_rates": slow_rates,
            "fast_rates": fast_rates,
            "slow_records": [c.records for c in slow],
            "slow_notices": [c.notices for c in slow],
            "slow_dropped": [c.dropped for c in slow],
        }

    def _read_out(self, tails: list[Tail]) -> None:
        """Read ``tails`` until each has been quiet for a moment (the server has written
        all it still held for them)."""
        with selectors.DefaultSelector() as selector:
            for tail in tails:
                selector.register(tail.sock, selectors.EVENT_READ, tail)
            while selector.get_map() and (ready := selector.select(timeout=READ_OUT_QUIET)):
                for key, _ in ready:
                    try:
                        data = key.data.sock.recv(1 << 18)
                    except BlockingIOError:
                        continue
                    if not data:
                        selector.unregister(key.fileobj)
                    self._count(key.data, data)


def _rebuild(tail: Tail) -> bytes:
    """The bytes a tail had buffered past its handshake, as the wire carried them."""
    data, tail.buffer = tail.buffer, b""
    return data


def _serve(conn, kind: type) -> None:
    """Run the methods the bench asks of a ``kind`` in this process, until told to stop."""
    target = kind()
    while (call := conn.recv()) is not None:
        method, args = call
        try:
            conn.send((True, getattr(target, method)(*args)))
        except Exception as exc:  # the bench reports it in its own process
            conn.send((False, f"{type(exc).__name__}: {exc}"))


class Remote:
    """An object of ``kind`` in a process of its own, its methods called through a pipe."""

    def __init__(self, kind: type) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, kind), daemon=True)
        self._process.start()
        self.pid = self._process.pid

    def call(self, method: str, *args):
        """``method(*args)`` in the other process."""
        self._conn.send((method, args))
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"{method} failed in the client process: {value}")
        return value

    def close(self) -> None:
        """Stop the process."""
        self._conn.send(None)
        self._process.join(timeout=10)


# -- the baseline broadcaster --------------------------------------------------------------


async def _broadcast(dsn: str, port: int) -> None:
    """The baseline: new rows every POLL_SECONDS, encoded once, written to every tail whose
    transport is not backed up; a metrics-sized message each second to every stream."""
    tails: set[asyncio.StreamWriter] = set()
    streams: set[asyncio.StreamWriter] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = re.search(rb"(?i)sec-websocket-key: *(\S+)", head).group(1)
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        joined = streams if METRICS_STREAM.encode() in head.split(b"\r\n", 1)[0] else tails
        if joined is tails:
            writer.write(frame(json.dumps({"type": "ready"})))
        joined.add(writer)
        try:
            while await reader.read(4096):
                pass
        except ConnectionError:
            pass
        finally:
            joined.discard(writer)

    samples = [
        {"ts": 0.0, "host": "bench-host", "name": name, "labels": labels, "value": 1.0}
        for name, labels in series_keys(100)
    ]
    next_metrics = time.monotonic()

    def push_metrics() -> None:
        nonlocal next_metrics
        if time.monotonic() >= next_metrics:
            next_metrics += 1.0
            data = frame(json.dumps({"type": "metrics", "ts": time.time(), "samples": samples}))
            for writer in streams:
                writer.write(data)

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    async with server, await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        last = (
            await (await conn.execute("SELECT coalesce(max(id), 0) FROM log_records")).fetchone()
        )[0]
        print("ready", flush=True)
        while True:
            push_metrics()
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
            if not tails:
                continue  # ours' windows: nobody to send to
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
            for writer in tails:
                if writer.transport.get_write_buffer_size() < SLOW_BUFFER:
                    writer.write(data)


@contextmanager
def baseline_server(dsn: str) -> Iterator[tuple[int, Callable[[], psutil.Process]]]:
    """The baseline broadcaster in a process of its own, starting: its port and a function
    that waits until it is ready and returns its process."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.live_sweep", dsn, str(port)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        text=True,
    )

    def ready() -> psutil.Process:
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("the baseline broadcaster did not start")
        return psutil.Process(process.pid)

    try:
        yield port, ready
    finally:
        process.kill()
        process.wait(timeout=10)


# -- the sweep -----------------------------------------------------------------------------


@dataclass
class Side:
    """What one side (ours or the baseline) showed at one size, over its rounds."""

    latency: dict[int, list[float]] = field(default_factory=dict)
    """Seconds from due to received, by round."""
    cpu: list[float] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    """Fast tails that missed records or were told of drops."""
    slow: list[dict] = field(default_factory=list)
    """What the slow tails got, by round."""
    ingest: list[float] = field(default_factory=list)
    """Seconds from due to answered of the ingest requests in this side's windows."""
    fan_out: list[float] = field(default_factory=list)
    """Seconds from a record's ingest answer to a timed tail receiving it (negative when
    the tail had it before the producer had its answer)."""

    def percentile(self, fraction: float) -> float:
        """The median over rounds of each round's ``fraction`` quantile, in ms."""
        return statistics.median(_quantile(v, fraction) * 1000 for v in self.latency.values())


def _quantile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _burst(posts: list[Callable], entries: list) -> None:
    """BURST unstamped records through the ingest, BURST_BATCH a request, from every
    sender at once."""
    batches = [entries] * (BURST // BURST_BATCH)
    with ThreadPoolExecutor(len(posts)) as pool:
        list(pool.map(lambda k: posts[k % len(posts)](batches[k]), range(len(batches))))


def _wait(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def run(quick: bool = False) -> list[Result]:
    """p50/p99 latency at each size and CPU per extra client, ours and the baseline."""
    sizes, seconds, rounds = (QUICK_SIZES, 1.0, 1) if quick else (SIZES, 4.0, 3)
    burst = not quick  # a second or two each side: quick runs show slow tails, not drops
    lines = int(seconds * RATE / BATCH) * BATCH
    sides = {name: {size: Side() for size in sizes} for name in ("ours", "baseline")}
    trips: list[tuple[float, float, float]] = []
    """Each stamped ingest request: when it was due, sent and answered."""
    with pg_database() as url, ExitStack() as stack:
        pool = stack.enter_context(ThreadPoolExecutor(2))
        tokens = [pool.submit(add_token, url, role) for role in ("analyst", "ingest")]
        timed, load = Remote(Timed), Remote(Load)
        stack.callback(timed.close)
        stack.callback(load.close)
        base_port, base_ready = stack.enter_context(baseline_server(psycopg_dsn(url)))
        served = stack.enter_context(served_app(url, PULSEBOARD_COLLECT_INTERVAL="1"))
        reader, writer = (token.result() for token in tokens)  # made while it started
        servers = {"ours": (served.port, served.worker()), "baseline": (base_port, base_ready())}
        now = datetime.now(UTC)
        entries = list(log_entries(BATCH, now - timedelta(hours=1), now, seed=5))
        burst_entries = list(log_entries(BURST_BATCH, now - timedelta(hours=1), now, seed=6))
        posts = []
        for _ in range(SENDERS):
            session = stack.enter_context(requests.Session())
            session.headers.update(
                {"Authorization": f"Bearer {writer}", "Content-Type": "application/x-ndjson"}
            )
            posts.append(poster(session, f"{served.base}/api/v1/logs", trips))
        for size in sizes:
            for round_ in range(rounds):
                for name, (port, process) in servers.items():
                    side = sides[name][size]
                    slow = SLOW if size >= 20 else 0
                    measured = min(MEASURED, size)
                    if slow:
                        load.call("open_slow", port, reader, slow)
                    timed.call("open", port, reader, measured)
                    if slow and burst:
                        _burst(posts, burst_entries)
                        _wait(lambda m=measured: timed.call("progress")[0] >= BURST * m, 30)
                    load.call("open_fast", port, reader, size - slow - measured, size // 4)
                    started, first = _cpu(process), len(trips)
                    produce(seconds, posts, entries, round_)
                    side.cpu.append((_cpu(process) - started) / seconds)
                    _wait(lambda m=measured: timed.call("progress")[1] >= lines * m, SETTLE)
                    got, others = timed.call("close"), load.call("close", lines)
                    side.latency[round_] = [received - sent for sent, received in got["received"]]
                    answered = {due: at for due, _, at in trips[first:]}
                    side.ingest += [at - due for due, at in answered.items()]
                    side.fan_out += [r - answered[s] for s, r in got["received"] if s in answered]
                    side.gaps += _gaps(got, others, lines)
                    if slow:
                        side.slow.append(others)
    return _results(sizes, rounds, seconds, sides)


def _gaps(timed: dict, load: dict, lines: int) -> list[str]:
    """What fast tails missed in one window, in words (nothing when none missed any)."""
    gaps = []
    short = [n for n in timed["stamped"] if n < lines]
    if short:
        gaps.append(f"{len(short)} timed tails had fewer than {lines} records")
    short = [n for n in load["fast_records"] if n < lines]
    if short:
        gaps.append(f"{len(short)} fast tails had fewer than {lines} records")
    notices = timed["notices"] + load["fast_notices"]
    if notices:
        gaps.append(f"fast tails were told of drops {notices} times")
    return gaps


def _slow_note(side: Side) -> str:
    """What the slow tails read in their windows and were told they lost."""
    if not side.slow:
        return "no slow tails"
    rounds = side.slow
    tails = [n for r in rounds for n in r["slow_notices"]]
    told = sum(1 for n in tails if n)
    slow = statistics.median(b for r in rounds for b in r["slow_rates"])
    fast = statistics.median(b for r in rounds for b in r["fast_rates"])
    dropped = sum(sum(r["slow_dropped"]) for r in rounds)
    records = sum(sum(r["slow_records"]) for r in rounds)
    return (
        f"{told} of {len(tails)} slow tails told of drops ({dropped:,} records dropped, "
        f"{records:,} delivered), each reading {slow / 1024:.0f} KiB/s while a fast tail "
        f"got {fast / 1024:.0f} KiB/s"
    )


def _spread(seconds: list[float]) -> str:
    return f"{_quantile(seconds, 0.5) * 1000:.0f}/{_quantile(seconds, 0.99) * 1000:.0f}"


def _results(sizes, rounds, seconds, sides) -> list[Result]:
    results = []
    for size in sizes:
        ours, theirs = sides["ours"][size], sides["baseline"][size]
        gaps = "; ".join(ours.gaps + [f"baseline: {g}" for g in theirs.gaps]) or "none"
        note = (
            f"{RATE:,} lines/s in batches of {BATCH} via HTTP ingest for {seconds:g} s, "
            f"{size} tails ({SLOW if size >= 20 else 0} slow; {min(MEASURED, size)} fast "
            f"ones timed, in a process of their own) + {size // 4} metrics streams each side; "
            f"median of {rounds} alternating windows; fast tails' gaps: {gaps}; ours: "
            f"{_slow_note(ours)}; baseline: {_slow_note(theirs)} (it skips a tail past "
            f"{SLOW_BUFFER >> 20} MiB buffered, without notice); baseline polls every "
            f"{POLL_SECONDS * 1000:g} ms; p50/p99 ms of the ingest (due to answered, the same "
            f"path) in ours' windows {_spread(ours.ingest)}, in the baseline's "
            f"{_spread(theirs.ingest)}; of the delivery after the answer, ours "
            f"{_spread(ours.fan_out)}, baseline {_spread(theirs.fan_out)}"
        )
        for q, target in ((0.5, "for scale"), (0.99, "ours p99 < 250 ms")):
            results.append(
                Result(
                    f"live sweep p{int(q * 100)}, {size} clients, {RATE:,} lines/s",
                    ours.percentile(q),
                    theirs.percentile(q),
                    "ms",
                    target,
                    note,
                )
            )
        results.append(
            Result(
                f"live sweep server CPU, {size} clients",
                statistics.median(ours.cpu) * 100,
                statistics.median(theirs.cpu) * 100,
                "% core",
                "200 clients fit in one core",
                "ours includes the HTTP ingest and the store's writes; the baseline only reads "
                "and fans out",
                ours_range=(min(ours.cpu) * 100, max(ours.cpu) * 100),
                baseline_range=(min(theirs.cpu) * 100, max(theirs.cpu) * 100),
            )
        )
    low, high = sizes[0], sizes[-1]
    slopes = [
        (statistics.median(sides[side][high].cpu) - statistics.median(sides[side][low].cpu))
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
