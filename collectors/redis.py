"""Redis health from INFO: memory, clients, throughput, hit ratio, persistence, replication.

One collector watches every configured Redis. A target that cannot be reached yields
``redis_up 0`` and its error (shown by the health endpoint); it is tried again at the next
collection, so it recovers by itself.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import redis

from collectors.base import Field, RateTracker, Sample, TargetCollector

TIMEOUT_SECONDS = 2.0

FIELDS: tuple[Field, ...] = tuple(
    Field(name, unit, description, labels=("target",))
    for name, unit, description in (
        ("redis_up", "bool", "1 when the target answers"),
        ("redis_latency_seconds", "seconds", "Round trip of a PING"),
        ("redis_memory_used_bytes", "bytes", "Memory used by Redis"),
        ("redis_memory_max_bytes", "bytes", "maxmemory (0: unlimited)"),
        ("redis_memory_used_ratio", "ratio", "Used memory over maxmemory (when set)"),
        ("redis_memory_fragmentation_ratio", "ratio", "RSS over used memory"),
        ("redis_connected_clients", "clients", "Connected clients"),
        ("redis_blocked_clients", "clients", "Clients blocked in a blocking call"),
        ("redis_commands_per_second", "ops/s", "Commands processed"),
        ("redis_keyspace_hit_ratio", "ratio", "Key lookups that hit, over the interval"),
        ("redis_evicted_keys_per_second", "keys/s", "Keys evicted for maxmemory"),
        ("redis_expired_keys_per_second", "keys/s", "Keys expired"),
        ("redis_rdb_last_save_ok", "bool", "1 when the last RDB save succeeded"),
        ("redis_rdb_changes_since_last_save", "changes", "Writes not yet in an RDB file"),
        ("redis_aof_enabled", "bool", "1 when the append-only file is on"),
        ("redis_is_replica", "bool", "1 on a replica, 0 on a primary"),
        ("redis_connected_replicas", "replicas", "Replicas attached to this primary"),
        ("redis_replication_lag_seconds", "seconds", "Since a replica last heard its primary"),
    )
)


def target_name(url: str) -> str:
    """``host:port/db`` of a Redis URL, never its password."""
    parts = urlsplit(url)
    db = parts.path.lstrip("/") or "0"
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}/{db}"


class RedisCollector(TargetCollector):
    """Samples of each Redis in ``urls``."""

    name = "redis"
    fields = FIELDS

    def __init__(self, host: str, urls: list[str]) -> None:
        self.clients = {
            target_name(url): redis.Redis.from_url(
                url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
            )
            for url in urls
        }
        super().__init__(host, self.clients)
        self._rates = RateTracker()

    def collect(self, now: float) -> list[Sample]:
        """One reading of every target."""
        out: list[Sample] = []
        for target, client in self.clients.items():
            try:
                started = time.perf_counter()
                client.ping()
                latency = time.perf_counter() - started
                info = client.info()
            except (redis.RedisError, OSError) as exc:
                self.target_failed(target, exc)
                out.append(Sample(now, self.host, "redis_up", 0.0, {"target": target}))
                continue
            self.target_answered(target)
            out += self._samples(now, target, latency, info)
        return out

    def _samples(self, now: float, target: str, latency: float, info: dict) -> list[Sample]:
        labels = {"target": target}
        values: dict[str, float | None] = {
            "redis_up": 1.0,
            "redis_latency_seconds": latency,
            "redis_memory_used_bytes": info.get("used_memory"),
            "redis_memory_max_bytes": info.get("maxmemory", 0),
            "redis_memory_fragmentation_ratio": info.get("mem_fragmentation_ratio"),
            "redis_connected_clients": info.get("connected_clients"),
            "redis_blocked_clients": info.get("blocked_clients"),
            "redis_commands_per_second": self._rate(target, now, info, "total_commands_processed"),
            "redis_evicted_keys_per_second": self._rate(target, now, info, "evicted_keys"),
            "redis_expired_keys_per_second": self._rate(target, now, info, "expired_keys"),
            "redis_rdb_last_save_ok": float(info.get("rdb_last_bgsave_status") == "ok"),
            "redis_rdb_changes_since_last_save": info.get("rdb_changes_since_last_save"),
            "redis_aof_enabled": float(bool(info.get("aof_enabled"))),
            "redis_is_replica": float(info.get("role") == "slave"),
            "redis_connected_replicas": info.get("connected_slaves", 0),
        }
        if info.get("maxmemory"):
            values["redis_memory_used_ratio"] = info["used_memory"] / info["maxmemory"]
        hits = self._rate(target, now, info, "keyspace_hits")
        misses = self._rate(target, now, info, "keyspace_misses")
        if hits is not None and misses is not None and hits + misses > 0:
            values["redis_keyspace_hit_ratio"] = hits / (hits + misses)
        if info.get("role") == "slave":
            values["redis_replication_lag_seconds"] = info.get("master_last_io_seconds_ago")
        return [
            Sample(now, self.host, name, float(value), labels)
            for name, value in values.items()
            if value is not None
        ]

    def _rate(self, target: str, now: float, info: dict, key: str) -> float | None:
        if key not in info:
            return None
        return self._rates.rate((target, key), now, float(info[key]))
