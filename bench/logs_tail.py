"""Live tail latency: records sent through ``POST /api/v1/logs`` of a real ``pulseboard
serve`` at a steady rate, received by WebSocket clients on ``/api/v1/admin/logs/stream``,
one of which reads very slowly; baseline: raw PostgreSQL LISTEN/NOTIFY.

A record's latency is when a client received it minus the time its batch was due to be
sent (stamped into ``attrs``), so it includes the ingest request, the commit and any lag
of the producers behind the rate. The raw baseline stamps its batches the same way, COPYs
them and NOTIFYs in the same commit, and each of its listeners then SELECTs the new rows
by id: the floor of "commit, then a reader has it".
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import socket
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta

import psutil
import psycopg
import requests

from bench.common import Result, pg_database, psycopg_dsn
from bench.logs_data import (
    add_token,
    copy_row,
    copy_rows,
    log_database,
    log_entries,
    ndjson_line,
    served_app,
)
from storage.logs import LogEntry

CLIENTS = 20
"""Readers on each side; on ours the last one is the slow one."""
RATE = 2_000
"""Lines per second."""
BATCH = 50
"""Lines per ingest request (40 requests a second)."""
SLOW_READ_INTERVAL, SLOW_READ_BYTES = 0.05, 512
"""The slow client reads this many bytes (a message or two) every this many seconds."""
SENDERS = 4
"""Producer threads, each with a connection of its own."""
SETTLE = 3.0
"""After a window, records in flight are awaited until none came for this many seconds."""
STREAM = "/api/v1/admin/logs/stream"
MISSED_NOTIFY_SECONDS = 0.25
"""How long a raw reader waits for a notification before it looks for new rows anyway."""
CHANNEL = "bench_tail"
RAW_TABLE = "raw_log_records"


class Latencies:
    """Latency samples (seconds) by round, added by the reading threads."""

    def __init__(self) -> None:
        self.samples: dict[int, list[float]] = defaultdict(list)
        self.skipped = 0
        """Records the server said it skipped (``dropped`` notices)."""
        self.lock = threading.Lock()

    def record(self, attrs: dict, now: float) -> None:
        """Count the record whose ``attrs`` these are, if a producer of ours stamped it."""
        if "bench_sent" in attrs:
            with self.lock:
                self.samples[attrs["bench_round"]].append(now - attrs["bench_sent"])

    def percentile(self, rounds: int, fraction: float) -> float:
        """The median over rounds of each round's ``fraction`` quantile, in ms."""
        values = []
        for r in range(rounds):
            ordered = sorted(self.samples[r])
            values.append(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000)
        return statistics.median(values)

    def count(self) -> int:
        """Samples in all rounds."""
        return sum(map(len, self.samples.values()))

    def wait_for(self, count: int) -> None:
        """Wait until ``count`` samples are in, or SETTLE seconds pass without a new one."""
        seen, quiet_since = -1, time.monotonic()
        while (now := self.count()) < count and time.monotonic() - quiet_since < SETTLE:
            if now != seen:
                seen, quiet_since = now, time.monotonic()
            time.sleep(0.05)


class SlowClient:
    """What the slow reader saw."""

    def __init__(self) -> None:
        self.messages = self.notices = self.skipped = 0


class Tail:
    """The client end of one live tail, from now on (no backlog), past its ``ready`` (or
    of another stream at ``path``, from its first message).

        A bare WebSocket reader rather than websocket-client, which costs tens of microseconds
        of Python a message: 19 clients at 2,000 lines/s would take most of a core from the
        server under test on a small machine. It reads unfragmented text frames (what the
        server sends), answers pings in stream order like any client, and stops on a close.
    """

    def __init__(
        self,
        port: int,
        token: str,
        receive_buffer: int | None = None,
        path: str = f"{STREAM}?backlog=0",
        until_ready: bool = True,
    ) -> None:
        self.sock = socket.socket()
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv(4096)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"the tail was refused: {head.decode(errors='replace')}")
        messages = self._frames()  # "ready" may have come with the handshake
        while until_ready and not any(json.loads(m)["type"] == "ready" for m in messages):
            messages = self.read()

    def _recv(self, size: int) -> bytes:
        data = self.sock.recv(size)
        if not data:
            raise ConnectionError("the server closed the tail")
        return data

    def read(self, size: int = 1 << 16) -> list[bytes]:
        """The text messages completed by one receive of at most ``size`` bytes."""
        self.buffer += self._recv(size)
        return self._frames()

    def _frames(self) -> list[bytes]:
        buf, messages, pos = self.buffer, [], 0
        while len(buf) - pos >= 2:
            first, length, start = buf[pos], buf[pos + 1] & 0x7F, pos + 2
            if length >= 126:
                width = 2 if length == 126 else 8
                if len(buf) < start + width:
                    break
                length, start = int.from_bytes(buf[start : start + width]), start + width
            if len(buf) < start + length:
                break
            payload, pos = buf[start : start + length], start + length
            opcode = first & 0x0F
            if opcode == 0x1 and first & 0x80:
                messages.append(payload)
            elif opcode == 0x9:  # ping: a pong, masked as a client must
                mask = os.urandom(4)
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                self.sock.sendall(bytes((0x8A, 0x80 | len(payload))) + mask + masked)
            elif opcode == 0x8:
                raise ConnectionError("the server closed the tail")
            else:
                raise RuntimeError(f"unexpected WebSocket frame {first:#x}")
        self.buffer = buf[pos:]
        return messages

    def close(self) -> None:
        """Drop the connection."""
        self.sock.close()


def read_fast(tails: list[Tail], stop: threading.Event, out: Latencies) -> None:
    """Read every tail as messages come (one thread: no GIL hand-offs between readers),
    recording the latency of each stamped record."""
    with selectors.DefaultSelector() as selector:
        for tail in tails:
            selector.register(tail.sock, selectors.EVENT_READ, tail)
        while not stop.is_set():
            for key, _ in selector.select(timeout=0.2):
                messages = key.data.read()
                now = time.time()
                for message in map(json.loads, messages):
                    if message["type"] == "log":
                        out.record(message["attrs"], now)
                    elif message["type"] == "dropped":
                        out.skipped += message["count"]


def read_slowly(tail: Tail, stop: threading.Event, seen: SlowClient) -> None:
    """Read a little now and then, counting the messages and dropped notices."""
    tail.sock.settimeout(0.5)
    while not stop.wait(SLOW_READ_INTERVAL):
        try:
            messages = tail.read(SLOW_READ_BYTES)
        except TimeoutError:
            continue
        for message in map(json.loads, messages):
            seen.messages += 1
            if message["type"] == "dropped":
                seen.notices += 1
                seen.skipped += message["count"]


@contextmanager
def tails(port: int, token: str, out: Latencies, slow: SlowClient) -> Iterator[None]:
    """CLIENTS - 1 fast tails and one slow one (tiny receive buffer), being read."""
    stop = threading.Event()
    fast = [Tail(port, token) for _ in range(CLIENTS - 1)]
    slow_tail = Tail(port, token, receive_buffer=4096)
    threads = [
        threading.Thread(target=read_fast, args=(fast, stop, out)),
        threading.Thread(target=read_slowly, args=(slow_tail, stop, slow)),
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for tail in (*fast, slow_tail):
            tail.close()


def listen(dsn: str, stop: threading.Event, ready: threading.Barrier, out: Latencies) -> None:
    """Raw baseline reader: on each NOTIFY (or after MISSED_NOTIFY_SECONDS without one),
    SELECT the rows after the last one seen."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        last_id = conn.execute(f"SELECT coalesce(max(id), 0) FROM {RAW_TABLE}").fetchone()[0]
        ready.wait()
        while not stop.is_set():
            # The generator holds the connection: leave it before querying. A notification
            # that comes during the SELECT can be missed: look again after a quiet spell.
            list(conn.notifies(timeout=MISSED_NOTIFY_SECONDS, stop_after=1))
            rows = conn.execute(
                f"SELECT id, attrs FROM {RAW_TABLE} WHERE id > %s ORDER BY id", (last_id,)
            ).fetchall()
            now = time.time()
            for row_id, attrs in rows:
                out.record(json.loads(attrs), now)
                last_id = row_id


@contextmanager
def listeners(dsn: str, out: Latencies) -> Iterator[None]:
    """CLIENTS raw LISTEN readers in threads, listening when this enters."""
    stop, ready = threading.Event(), threading.Barrier(CLIENTS + 1)
    threads = [
        threading.Thread(target=listen, args=(dsn, stop, ready, out)) for _ in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    ready.wait()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def produce(
    seconds: float,
    senders: list[Callable[[list[LogEntry]], None]],
    entries: list[LogEntry],
    round_: int,
) -> float:
    """Send a batch of ``entries`` every BATCH / RATE seconds for ``seconds``, batch i by
    ``senders[i % len(senders)]`` in a thread of its own, so that a slow answer does not
    hold the rate back. Each batch is stamped with the time it was due: lateness counts as
    latency. Returns the lines per second achieved."""
    interval, count = BATCH / RATE, int(seconds * RATE / BATCH)
    started = time.time()

    def paced(k: int) -> None:
        for i in range(k, count, len(senders)):
            due = started + i * interval
            time.sleep(max(0.0, due - time.time()))
            senders[k](stamp(entries, round_, due))

    with ThreadPoolExecutor(len(senders)) as pool:
        list(pool.map(paced, range(len(senders))))
    return count * BATCH / (time.time() - started)


def stamp(entries: list[LogEntry], round_: int, at: float) -> list[LogEntry]:
    """``entries`` timed ``at``, their attrs stamped with that time and the round."""
    ts = datetime.fromtimestamp(at, UTC)
    marks = {"bench_sent": at, "bench_round": round_}
    return [
        LogEntry(ts, e.level, e.source, e.host, e.message, {**e.attrs, **marks}) for e in entries
    ]


def poster(session: requests.Session, url: str, trips: list[tuple[float, float, float]]):
    """A sender that POSTs a batch as NDJSON to ``url``, noting when each stamped batch was
    due, sent and answered."""

    def post(batch: list[LogEntry]) -> None:
        started = time.time()
        response = session.post(url, data=b"\n".join(map(ndjson_line, batch)))
        if response.status_code != 200:
            raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:200]}")
        if "bench_sent" in batch[0].attrs:
            trips.append((batch[0].attrs["bench_sent"], started, time.time()))

    return post


def notifier(conn: psycopg.Connection):
    """A sender that COPYs a batch into the raw table and NOTIFYs in the same commit."""

    def notify(batch: list[LogEntry]) -> None:
        conn.execute(f"NOTIFY {CHANNEL}")  # delivered when the COPY commits
        copy_rows(conn, map(copy_row, batch), RAW_TABLE)

    return notify


@contextmanager
def tail_database(quick: bool) -> Iterator[str]:
    """The URL of the database the tails run on: the log benchmarks' 5 million records
    (whose indexes every ingest maintains), or for a quick run an empty one, which takes a
    second to make where loading even the small set takes longer than the run."""
    if quick:
        with pg_database() as url:
            yield url
    else:
        with log_database(quick) as db:
            yield db.url


def run(quick: bool = False) -> list[Result]:
    """p50 and p99 latency of ours and the raw baseline, in alternating windows."""
    seconds, rounds = (1.0, 1) if quick else (10.0, 3)
    lines = int(seconds * RATE / BATCH) * BATCH
    ours, theirs, slow, trips, rates = Latencies(), Latencies(), SlowClient(), [], []
    with tail_database(quick) as url, ExitStack() as stack:
        pool = stack.enter_context(ThreadPoolExecutor(2))
        tokens = [pool.submit(add_token, url, role) for role in ("analyst", "ingest")]
        now = datetime.now(UTC)  # the records' times are those they are sent at
        entries = list(log_entries(BATCH, now - timedelta(hours=1), now, seed=17))
        dsn = psycopg_dsn(url)
        conns = [stack.enter_context(psycopg.connect(dsn)) for _ in range(SENDERS)]
        conns[0].execute(f"CREATE TABLE {RAW_TABLE} (LIKE log_records INCLUDING ALL)")
        conns[0].commit()
        served = stack.enter_context(served_app(url))
        reader, writer = (token.result() for token in tokens)  # made while it started
        posts = []
        for _ in range(SENDERS):
            session = stack.enter_context(requests.Session())
            session.headers.update(
                {"Authorization": f"Bearer {writer}", "Content-Type": "application/x-ndjson"}
            )
            posts.append(poster(session, f"{served.base}/api/v1/logs", trips))
        notifies = [notifier(conn) for conn in conns]
        worker, cpu, server_cpu = served.worker(), 0.0, 0.0
        with tails(served.port, reader, ours, slow), listeners(dsn, theirs):
            for round_ in range(rounds):
                started, server_started = time.process_time(), _cpu(worker)
                rates.append(produce(seconds, posts, entries, round_))
                cpu += time.process_time() - started
                server_cpu += _cpu(worker) - server_started
                ours.wait_for(lines * (round_ + 1) * (CLIENTS - 1))
                produce(seconds, notifies, entries, round_)
                theirs.wait_for(lines * (round_ + 1) * CLIENTS)
    expected = lines * rounds * (CLIENTS - 1)
    post_ms = statistics.median(answered - sent for _, sent, answered in trips) * 1000
    missing = expected - ours.count()
    note = (
        f"{RATE:,} lines/s in batches of {BATCH} from {SENDERS} senders for {seconds:g} s "
        f"(ours achieved at least {min(rates):,.0f} lines/s), {CLIENTS} readers each side, "
        f"median of {rounds} windows alternating; ours: {CLIENTS - 1} WebSocket clients "
        f"measured ({missing:,} of {expected:,} deliveries never came, {ours.skipped:,} "
        "announced as dropped), the slow one "
        f"read {slow.messages} messages and got {slow.notices} dropped notices "
        f"({slow.skipped:,} records skipped); counted from when the batch was due to be sent "
        f"(median ingest POST {post_ms:.1f} ms); CPU while producing: "
        f"server {server_cpu / (seconds * rounds):.0%} of a core, bench clients "
        f"{cpu / (seconds * rounds):.0%}; baseline: COPY + NOTIFY, {CLIENTS} psycopg LISTEN "
        "readers SELECT the new rows"
    )
    return [
        Result(
            f"log tail latency p{int(q * 100)}, {CLIENTS} clients (1 slow), {RATE:,} lines/s",
            ours.percentile(rounds, q),
            theirs.percentile(rounds, q),
            "ms",
            target,
            note,
        )
        for q, target in ((0.5, "for scale"), (0.99, "ours p99 < 100 ms"))
    ]


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system
