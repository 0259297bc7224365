"""Redis diagnostics on demand: SLOWLOG, LATENCY LATEST and DOCTOR, memory and keyspace
figures from INFO, and a bounded, throttled big-keys scan; plus the leader's copy of each
server's SLOWLOG into the store, so the history outlives the server's short list.

Nothing here changes a watched server: every command reads, and the scan pauses between
pages so a busy server is never held up by it.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import redis

from storage.diagnostics.redis import RedisSlowlogStore, SlowEntry

log = logging.getLogger(__name__)

SLOWLOG_FETCH = 1024
"""Entries asked of SLOWLOG GET at most (the server keeps 128 unless configured)."""
MAX_ARGS = 16
"""Arguments of a slow command shown; the rest are counted."""
MAX_ARG_CHARS = 64
"""Characters of one argument shown; the rest are counted."""
REDACTED = "(redacted)"
SECRET_CONFIG = frozenset(
    {"requirepass", "masterauth", "masteruser", "tls-key-file-pass", "tls-client-key-file-pass"}
)
"""CONFIG SET parameters whose values are secrets."""
ENABLE_LATENCY = "CONFIG SET latency-monitor-threshold 100"
"""The command that turns the latency monitor on (events of 100 ms and longer)."""


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)


def _redacted(args: list[str]) -> list[str]:
    """``args`` with the values of passwords replaced (Redis 7 does so itself, older
    servers do not)."""
    name = args[0].upper() if args else ""
    out = list(args)

    def hide(start: int, count: int) -> None:
        out[start : start + count] = [REDACTED] * len(out[start : start + count])

    if name == "AUTH":
        hide(1, len(args))
    elif name == "HELLO" and "AUTH" in (a.upper() for a in args):
        hide([a.upper() for a in args].index("AUTH") + 2, 1)  # AUTH <user> <password>
    elif name == "CONFIG" and len(args) > 1 and args[1].upper() == "SET":
        for i in range(2, len(args) - 1, 2):
            if args[i].lower() in SECRET_CONFIG:
                hide(i + 1, 1)
    elif name == "MIGRATE":
        for i, arg in enumerate(args):
            hide(i + 1, {"AUTH": 1, "AUTH2": 2}.get(arg.upper(), 0))
    elif name == "ACL" and len(args) > 1 and args[1].upper() == "SETUSER":
        hide(3, len(args))  # rules hold passwords (>pass) and their hashes (#hash)
    return out


def format_command(raw_args: list) -> str:
    """A slow command as one line: secrets redacted, long arguments and long argument lists
    cut short with a count of what is left out."""
    args = _redacted([_text(a) for a in raw_args])
    shown = []
    for arg in args[:MAX_ARGS]:
        if len(arg) > MAX_ARG_CHARS:
            arg = f"{arg[:MAX_ARG_CHARS]}… ({len(arg) - MAX_ARG_CHARS} more chars)"
        shown.append(arg)
    if len(args) > MAX_ARGS:
        shown.append(f"… ({len(args) - MAX_ARGS} more arguments)")
    return " ".join(shown)


def slowlog(client: redis.Redis, target: str, count: int = SLOWLOG_FETCH) -> list[SlowEntry]:
    """The server's SLOWLOG, newest first."""
    entries = []
    for item in client.execute_command("SLOWLOG", "GET", count):
        # Redis Enterprise puts a complexity figure before the arguments.
        args_at = 3 if isinstance(item[3], list) else 4
        rest = item[args_at + 1 :]
        entries.append(
            SlowEntry(
                target=target,
                entry_id=int(item[0]),
                ts=float(item[1]),
                duration_us=int(item[2]),
                command=format_command(item[args_at]),
                client=_text(rest[0]) if rest else "",
            )
        )
    return entries


@dataclass(frozen=True)
class LatencyEvent:
    """One event of LATENCY LATEST: when it last crossed the threshold, and how long."""

    event: str
    ts: float
    latest_ms: int
    max_ms: int


@dataclass(frozen=True)
class Latency:
    """The latency monitor: its threshold (None when CONFIG is refused), its latest events
    and the doctor's report, or how to turn it on."""

    threshold_ms: int | None
    events: list[LatencyEvent]
    doctor: str

    @property
    def enabled(self) -> bool:
        """Whether the monitor records (an unknown threshold counts as on)."""
        return self.threshold_ms != 0

    @property
    def how_to_enable(self) -> str | None:
        """What to run to turn the monitor on, when it is off."""
        if self.enabled:
            return None
        return (
            "The latency monitor is off (latency-monitor-threshold is 0). Turn it on with "
            f"`{ENABLE_LATENCY}` (milliseconds; add it to redis.conf to keep it)."
        )


def latency(client: redis.Redis) -> Latency:
    """LATENCY LATEST and LATENCY DOCTOR, with the monitor's threshold."""
    try:
        config = client.config_get("latency-monitor-threshold")
        threshold: int | None = int(config.get("latency-monitor-threshold", 0))
    except redis.ResponseError:
        threshold = None  # CONFIG renamed or refused (managed servers do so)
    events = [
        LatencyEvent(_text(row[0]), float(row[1]), int(row[2]), int(row[3]))
        for row in client.execute_command("LATENCY", "LATEST")
    ]
    doctor = _text(client.execute_command("LATENCY", "DOCTOR"))
    return Latency(threshold, events, doctor)


@dataclass(frozen=True)
class Memory:
    """Memory, eviction and keyspace figures of INFO (counters since the server started)."""

    used_memory_bytes: int
    used_memory_rss_bytes: int | None
    maxmemory_bytes: int
    maxmemory_policy: str
    fragmentation_ratio: float | None
    evicted_keys: int
    expired_keys: int
    keyspace_hits: int
    keyspace_misses: int
    keys: int
    """Keys in every database."""

    @property
    def hit_ratio(self) -> float | None:
        """Lookups that found their key, over all lookups (None before the first)."""
        lookups = self.keyspace_hits + self.keyspace_misses
        return self.keyspace_hits / lookups if lookups else None


def memory(client: redis.Redis) -> Memory:
    """The memory, stats and keyspace figures of INFO."""
    info = client.info()
    keys = sum(
        int(value.get("keys", 0))
        for name, value in info.items()
        if name.startswith("db") and isinstance(value, Mapping)
    )
    return Memory(
        used_memory_bytes=int(info.get("used_memory", 0)),
        used_memory_rss_bytes=info.get("used_memory_rss"),
        maxmemory_bytes=int(info.get("maxmemory", 0)),
        maxmemory_policy=_text(info.get("maxmemory_policy", "")),
        fragmentation_ratio=info.get("mem_fragmentation_ratio"),
        evicted_keys=int(info.get("evicted_keys", 0)),
        expired_keys=int(info.get("expired_keys", 0)),
        keyspace_hits=int(info.get("keyspace_hits", 0)),
        keyspace_misses=int(info.get("keyspace_misses", 0)),
        keys=keys,
    )


# -- big keys --------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanLimits:
    """How a big-keys scan goes: keys per SCAN page, the pause between pages, the most
    keys it looks at and how many of the biggest it keeps."""

    page: int = 500
    pause: float = 0.05
    max_keys: int = 100_000
    top: int = 50


@dataclass(frozen=True)
class BigKey:
    """A key and what it costs."""

    key: str
    type: str
    bytes: int
    db: int


@dataclass(frozen=True)
class ScanProgress:
    """Where a scan stands: keys looked at, of how many, and the biggest so far."""

    done: int = 0
    total: int = 0
    finished: bool = False
    top: list[BigKey] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        """Done over total, 1.0 once finished."""
        if self.finished:
            return 1.0
        return min(self.done / self.total, 1.0) if self.total else 0.0


MAX_KEY_CHARS = 200


class _Biggest:
    """The ``top`` biggest keys offered, each once (SCAN may return a key twice while the
    server rehashes)."""

    def __init__(self, top: int) -> None:
        self.top = top
        self.heap: list[tuple[int, str, str]] = []
        self.kept: set[str] = set()

    def offer(self, size: int, key: str, kind: str) -> None:
        """Keep the key if it is among the biggest so far."""
        if key in self.kept:
            return
        entry = (size, key, kind)
        if len(self.heap) < self.top:
            heapq.heappush(self.heap, entry)
        elif entry > self.heap[0]:
            self.kept.discard(heapq.heapreplace(self.heap, entry)[1])
        else:
            return
        self.kept.add(key)

    def keys(self, db: int) -> list[BigKey]:
        """The keys kept, biggest first."""
        return [BigKey(k, t, b, db) for b, k, t in sorted(self.heap, reverse=True)]


def scan_big_keys(
    client: redis.Redis,
    limits: ScanLimits = ScanLimits(),
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[ScanProgress]:
    """Scan the client's database for its biggest keys (``MEMORY USAGE``), one SCAN page at
    a time, yielding the progress after each page; the caller stops the scan by no longer
    asking for the next page. The last progress yielded has ``finished`` set."""
    db = int(client.connection_pool.connection_kwargs.get("db", 0))
    total = min(int(client.dbsize()), limits.max_keys)
    biggest = _Biggest(limits.top)
    cursor, done = 0, 0
    while True:
        cursor, keys = client.scan(cursor=cursor, count=limits.page)
        keys = keys[: limits.max_keys - done]
        if keys:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.execute_command("MEMORY", "USAGE", key)
                pipe.type(key)
            answers = pipe.execute(raise_on_error=False)
            for key, size, kind in zip(keys, answers[::2], answers[1::2], strict=True):
                if not isinstance(size, int):
                    continue  # gone since SCAN saw it
                biggest.offer(size, _text(key)[:MAX_KEY_CHARS], _text(kind))
            done += len(keys)
        total = max(total, done)  # keys written meanwhile
        finished = cursor == 0 or done >= limits.max_keys
        yield ScanProgress(done, total, finished, biggest.keys(db))
        if finished:
            return
        sleep(limits.pause)


# -- slowlog history ---------------------------------------------------------------------


class SlowlogRecorder:
    """Copies the new entries of each watched server's SLOWLOG into the store (the
    leader runs it), and trims the store to its retention."""

    def __init__(
        self,
        clients: Mapping[str, redis.Redis],
        store: RedisSlowlogStore,
        retention: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clients = clients
        self.store = store
        self.retention = retention
        self.clock = clock

    def run(self) -> int:
        """Copy what is new on every server; the number of entries stored."""
        stored = 0
        for target, client in self.clients.items():
            try:
                entries = slowlog(client, target)
            except (redis.RedisError, OSError) as exc:
                # The Redis collector reports the target as down; try again next time.
                log.debug("slowlog of %s not read: %s", target, exc)
                continue
            latest = self.store.latest_entry_id(target)
            stored += self.store.write(
                [e for e in entries if latest is None or e.entry_id > latest]
            )
        self.store.trim(self.clock() - self.retention)
        return stored
