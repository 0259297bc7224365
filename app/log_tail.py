"""The live tail's fan-out: one reader per process reads each new record once, encodes it
once (its JSON and its WebSocket frame), and hands it to every tail client whose query it
matches: queued while the client still catches up, written by the socket loop after."""

from __future__ import annotations

import json
import logging
import threading
from collections import deque

from app.live_sockets import GOING_AWAY, Peer, SocketLoop, frame
from storage.live import LOGS_CHANNEL, LiveBus
from storage.logquery import Query
from storage.logs import LogRecord, LogStore

log = logging.getLogger(__name__)

READ_BATCH = 2000
MAX_LAG = 10_000
"""Records a client may have queued before the oldest are skipped with a dropped notice."""
EVERYTHING = Query(())
POLL_SECONDS = 0.5
"""How often the reader looks for new records when no commit announcement wakes it."""


def encode(record: LogRecord) -> str:
    """The tail's ``{"type": "log", ...}`` frame for ``record``."""
    return json.dumps({"type": "log", **record.to_dict()}, separators=(",", ":"))


class TailClient:
    """One connected tail: its query and a bounded queue of encoded records, until it is
    attached to its socket (then the hub hands records to the socket loop instead)."""

    def __init__(self, query: Query, after: int = 0, max_lag: int = MAX_LAG) -> None:
        self.query = query
        self.after = after
        """Ids up to this one were sent before the client joined the hub."""
        self._queue: deque[tuple[int, str]] = deque()
        self._max_lag = max_lag
        self._dropped = 0
        self._ready = threading.Condition()
        self.peer: Peer | None = None

    def offer(self, items: list[tuple[int, str]]) -> None:
        """Queue ``items``; past the bound the oldest go and are counted as dropped."""
        with self._ready:
            self._queue.extend(items)
            excess = len(self._queue) - self._max_lag
            for _ in range(max(excess, 0)):
                self._queue.popleft()
            self._dropped += max(excess, 0)
            self._ready.notify()

    def take(self, timeout: float) -> tuple[list[tuple[int, str]], int]:
        """Everything queued (waiting up to ``timeout`` for something) and how many were
        dropped since the last call."""
        with self._ready:
            if not self._queue and not self._dropped:
                self._ready.wait(timeout)
            items, dropped = list(self._queue), self._dropped
            self._queue.clear()
            self._dropped = 0
            return items, dropped


class TailHub:
    """Reads new records for all the tails of this process, woken by commit announcements
    on the bus (from any process) or a short poll."""

    def __init__(self, logs: LogStore, bus: LiveBus) -> None:
        self._logs = logs
        self._bus = bus
        self._lock = threading.Lock()
        self._clients: set[TailClient] = set()
        self._last_id = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._loop: SocketLoop | None = None

    def join(self, query: Query) -> tuple[TailClient, int]:
        """Register a tail; returns it and the id after which the hub delivers to it (the
        caller sends what matches up to that id itself)."""
        with self._lock:
            # Under the lock the reader cannot move on: everything up to ``start`` is the
            # caller's to send, everything after it will reach the client's queue.
            start = self._logs.latest_id()
            client = TailClient(query, after=start)
            if not self._clients:  # nothing was read while nobody watched
                self._last_id = start
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="log-tail", daemon=True)
                self._thread.start()
            self._clients.add(client)
            return client, start

    def attach(self, client: TailClient, peer: Peer, loop: SocketLoop) -> None:
        """From now on hand ``client``'s records to ``peer`` through ``loop``, after what was
        queued for it (and a dropped notice if some of that was lost)."""
        with self._lock:  # the reader cannot deliver in between: nothing is reordered
            items, dropped = client.take(0)
            deliveries = []
            if dropped:
                notice = json.dumps({"type": "dropped", "count": dropped})
                deliveries.append((peer, 1, frame(notice)))
            if items:
                deliveries.append((peer, len(items), b"".join(frame(t) for _, t in items)))
            loop.send(deliveries)
            client.peer = peer
            self._loop = loop

    def leave(self, client: TailClient) -> None:
        """Forget a tail that disconnected."""
        with self._lock:
            self._clients.discard(client)

    def close(self) -> None:
        """Stop the reader and close the tails' sockets."""
        self._stop.set()
        with self._lock:
            peers = [c.peer for c in self._clients if c.peer is not None]
        for peer in peers:
            self._loop.call(peer.close, GOING_AWAY, "server stopping")
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        subscription = self._bus.subscribe(LOGS_CHANNEL, maxsize=10)
        try:
            while not self._stop.is_set():
                try:
                    more = self._deliver()
                except Exception:  # the database may be away: keep the tails, retry
                    log.exception("live tail: reading new records failed")
                    more = False
                if not more:
                    subscription.get(timeout=POLL_SECONDS)
                    subscription.take_dropped()
        finally:
            subscription.close()

    def _deliver(self) -> bool:
        """Hand the next batch of new records to the tails; True when more are waiting."""
        with self._lock:
            if not self._clients:
                return False
            after = self._last_id
        records = self._logs.after(after, EVERYTHING, READ_BATCH)
        if not records:
            return False
        encoded = [(r.id, r.to_dict(), encode(r)) for r in records]
        texts = {i: text for i, _, text in encoded}
        frames = {i: frame(text) for i, text in texts.items()}
        with self._lock:
            # A tail that joined meanwhile may have moved the start on: never resend.
            fresh = [item for item in encoded if item[0] > self._last_id]
            deliveries = []
            joined: dict[tuple[Query, int], tuple[int, bytes]] = {}
            for client in self._clients:
                # Attached tails with the same query (and start) share one buffer of frames.
                key = (client.query, min(client.after, fresh[0][0])) if fresh else None
                if client.peer is not None and key in joined:
                    deliveries.append((client.peer, *joined[key]))
                    continue
                wanted = [
                    i for i, data, _ in fresh if i > client.after and client.query.matches(data)
                ]
                if not wanted:
                    continue
                if client.peer is None:
                    client.offer([(i, texts[i]) for i in wanted])
                    continue
                joined[key] = (len(wanted), b"".join(frames[i] for i in wanted))
                deliveries.append((client.peer, *joined[key]))
            if deliveries:
                self._loop.send(deliveries)
            self._last_id = max(self._last_id, records[-1].id)
        return len(records) == READ_BATCH
