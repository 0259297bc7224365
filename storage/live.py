"""Live bus: publish/subscribe and latest snapshots, in-process or through Redis.

Subscribers always read from a local fan-out, so they never see Redis errors: with Redis
the fan-out is fed by one listener thread; without it (or while Redis is away) publishers
deliver to the fan-out directly.

Every Redis key and channel carries the deployment's prefix: pub/sub channels are global to
a Redis server (database numbers do not separate them), so two deployments sharing one
Redis would otherwise receive each other's messages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import deque
from typing import Protocol

import redis
from redis.connection import parse_url
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# -- the channels Pulseboard's processes talk on (every name is used through these) --------

METRICS_CHANNEL = "metrics"
"""Each collection's samples, ``{"type": "metrics", "ts", "samples": [...]}``, published by
the scheduler leader after they are stored; its latest message is the newest snapshot."""
SCHEDULER_CHANNEL = "scheduler"
"""The leader's scheduler snapshot (jobs, collectors, buffer) after each collection."""
LOGS_CHANNEL = "logs"
"""``{"type": "logs", "count": n}`` after every committed log write: wakes the live tails."""
AUTH_CHANNEL = "auth"
"""``{"type": "auth-changed"}`` when a token or user changed: cached token answers go."""
ALERTS_CHANNEL = "alerts"
"""``{"type": "alert", "event", "alert": {...}}`` after every committed alert transition or
human action (acknowledged, silenced, closed, …): the alerts stream and the console's toasts."""


class Subscription:
    """A bounded queue of messages for one subscriber; the oldest are dropped when full."""

    def __init__(self, channel: str, maxsize: int, on_close) -> None:
        self.channel = channel
        self._queue: deque[dict] = deque(maxlen=maxsize)
        self._ready = threading.Condition()
        self._dropped = 0
        self._on_close = on_close
        self.closed = False

    def put(self, message: dict) -> None:
        """Queue ``message``; if the queue is full the oldest message is dropped and counted."""
        with self._ready:
            if len(self._queue) == self._queue.maxlen:
                self._dropped += 1
            self._queue.append(message)
            self._ready.notify()

    def get(self, timeout: float | None = None) -> dict | None:
        """Next message, or None if none arrives within ``timeout`` seconds."""
        with self._ready:
            if not self._queue and not self.closed:
                self._ready.wait(timeout)
            return self._queue.popleft() if self._queue else None

    def take_dropped(self) -> int:
        """How many messages were dropped since the last call."""
        with self._ready:
            dropped, self._dropped = self._dropped, 0
            return dropped

    def close(self) -> None:
        """Stop receiving messages and wake a waiting reader."""
        with self._ready:
            self.closed = True
            self._ready.notify_all()
        self._on_close(self)


class LiveBus(Protocol):
    """What the app needs from a live bus, whatever carries it."""

    def publish(self, channel: str, message: dict) -> None: ...

    def subscribe(self, channel: str, maxsize: int = 1000) -> Subscription: ...

    def latest(self, channel: str) -> dict | None: ...

    def status(self) -> dict: ...

    def close(self) -> None: ...


class InProcessBus:
    """A live bus inside one process: the embedded default and the Redis fallback."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}
        self._latest: dict[str, dict] = {}
        self._lock = threading.Lock()

    def publish(self, channel: str, message: dict) -> None:
        """Deliver ``message`` to every subscriber of ``channel`` and keep it as latest."""
        with self._lock:
            self._latest[channel] = message
            subscribers = list(self._subscribers.get(channel, ()))
        for sub in subscribers:
            sub.put(message)

    def subscribe(self, channel: str, maxsize: int = 1000) -> Subscription:
        """A new subscription to ``channel`` holding at most ``maxsize`` messages."""
        sub = Subscription(channel, maxsize, self._unsubscribe)
        with self._lock:
            self._subscribers.setdefault(channel, set()).add(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.get(sub.channel, set()).discard(sub)

    def latest(self, channel: str) -> dict | None:
        """The last message published on ``channel`` in this process."""
        with self._lock:
            return self._latest.get(channel)

    def subscriber_count(self) -> int:
        """How many subscriptions are open."""
        with self._lock:
            return sum(len(s) for s in self._subscribers.values())

    def status(self) -> dict:
        """Always healthy: nothing outside the process can fail."""
        return {"backend": "memory", "ok": True, "error": None}

    def close(self) -> None:
        """Close every subscription."""
        with self._lock:
            subs = [s for group in self._subscribers.values() for s in group]
        for sub in subs:
            sub.close()


class RedisBus:
    """A live bus shared by every process through Redis pub/sub and snapshot keys."""

    def __init__(self, url: str, *, prefix: str, retry_delay: float = 1.0) -> None:
        self.prefix = prefix
        """Starts every key and channel name of this deployment (see ``deployment_prefix``)."""
        self._local = InProcessBus()
        # Short timeouts: a dead Redis must cost a publisher milliseconds, not seconds.
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._retry_delay = retry_delay
        self._error: str | None = None
        self._listening = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._listen, name="pulseboard-redis-bus", daemon=True
        )
        self._thread.start()

    def publish(self, channel: str, message: dict) -> None:
        """Publish through Redis; while Redis is away, deliver to this process directly."""
        data = json.dumps(message, separators=(",", ":"))
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.set(self.prefix + "latest:" + channel, data)
            pipe.publish(self.prefix + "bus:" + channel, data)
            pipe.execute()
        except redis.RedisError as exc:
            self._set_error(exc)
            self._local.publish(channel, message)
            return
        if not self._listening.is_set():
            # The listener is reconnecting and would miss this message.
            self._local.publish(channel, message)

    def subscribe(self, channel: str, maxsize: int = 1000) -> Subscription:
        """A new local subscription to ``channel``."""
        return self._local.subscribe(channel, maxsize)

    def latest(self, channel: str) -> dict | None:
        """The last message on ``channel`` from any process (from this one if Redis is away)."""
        try:
            data = self._client.get(self.prefix + "latest:" + channel)
        except redis.RedisError as exc:
            self._set_error(exc)
            return self._local.latest(channel)
        decoded = _decode(data) if data else None
        return decoded if decoded is not None else self._local.latest(channel)

    def status(self) -> dict:
        """Whether Redis answers; ``ok`` is False while the bus runs on its local fallback."""
        try:
            self._client.ping()
        except redis.RedisError as exc:
            self._set_error(exc)
        else:
            self._error = None
        return {"backend": "redis", "ok": self._error is None, "error": self._error}

    def close(self) -> None:
        """Stop the listener and close every subscription."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._local.close()
        self._client.close()

    def _deliver(self, raw_channel: bytes, data: bytes) -> None:
        """Hand a message from Redis to local subscribers; skip one that is not ours."""
        message = _decode(data)
        if message is None:
            log.warning("ignoring a malformed live bus message on %r", raw_channel)
            return
        channel = raw_channel.decode(errors="replace").removeprefix(self.prefix + "bus:")
        self._local.publish(channel, message)

    def _set_error(self, exc: Exception) -> None:
        if self._error is None:
            log.warning("Redis live bus unavailable, using in-process delivery: %s", exc)
        self._error = f"{type(exc).__name__}: {exc}"

    def _listen(self) -> None:
        while not self._stop.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.psubscribe(_glob_escape(self.prefix + "bus:") + "*")
                self._listening.set()
                if self._error is not None:
                    log.info("Redis live bus connected again")
                    self._error = None
                while not self._stop.is_set():
                    # A short poll lets close() return promptly.
                    message = pubsub.get_message(timeout=0.2)
                    if message and message["type"] == "pmessage":
                        self._deliver(message["channel"], message["data"])
            except (redis.RedisError, OSError) as exc:
                self._listening.clear()
                self._set_error(exc)
                self._stop.wait(self._retry_delay)
            except Exception:  # a bug must not end live delivery for good: log, reconnect
                self._listening.clear()
                log.exception("live bus listener failed; reconnecting")
                self._stop.wait(self._retry_delay)
            finally:
                self._listening.clear()
                try:
                    pubsub.close()
                except (redis.RedisError, OSError):
                    log.debug("closing a broken pub/sub connection failed", exc_info=True)


def _glob_escape(text: str) -> str:
    """``text`` matching only itself in a Redis glob pattern (a configured prefix may hold
    ``*``, ``?`` or brackets, which would otherwise match other deployments' channels)."""
    return re.sub(r"([\\*?\[\]])", r"\\\1", text)


def _decode(data: bytes) -> dict | None:
    """A message as published by ``RedisBus.publish``, or None for anything else."""
    try:
        message = json.loads(data)
    except ValueError:  # includes bytes that are not UTF-8
        return None
    return message if isinstance(message, dict) else None


def deployment_prefix(database_url: str, redis_url: str | None) -> str:
    """The default prefix of one deployment's Redis keys and channels, ``pulseboard:<8 hex>:``:
    the same for every process on the same database (whatever its password) and Redis
    database number, different for another deployment on the same Redis."""
    database = make_url(database_url).render_as_string(hide_password=True)  # '***'
    redis_db = parse_url(redis_url).get("db", 0) if redis_url else 0
    digest = hashlib.sha256(f"{database}\n{redis_db}".encode()).hexdigest()
    return f"pulseboard:{digest[:8]}:"


def make_bus(redis_url: str | None, prefix: str) -> LiveBus:
    """The Redis bus (its keys and channels under ``prefix``) when a URL is configured, else
    the in-process one."""
    return RedisBus(redis_url, prefix=prefix) if redis_url else InProcessBus()
