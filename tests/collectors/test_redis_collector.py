"""The Redis collector against real servers, including one that goes away and comes back."""

from __future__ import annotations

import uuid

import redis

from collectors.base import TargetCollector
from collectors.redis import FIELDS, RedisCollector, target_name


def by_name(samples) -> dict[str, float]:
    return {s.name: s.value for s in samples}


def test_target_names_never_show_passwords():
    assert target_name("redis://:s3cret@cache.internal:6380/2") == "cache.internal:6380/2"
    assert target_name("redis://localhost") == "localhost:6379/0"


def test_a_live_redis_yields_every_gauge_and_rates_from_the_second_reading(shared_redis_url):
    collector = RedisCollector("h", [shared_redis_url])
    first = by_name(collector.collect(1000.0))
    assert first["redis_up"] == 1.0
    assert first["redis_memory_used_bytes"] > 0
    assert first["redis_connected_clients"] >= 1
    assert 0 < first["redis_latency_seconds"] < 1
    assert "redis_commands_per_second" not in first  # a rate needs two readings

    client = redis.Redis.from_url(shared_redis_url)
    key = f"pbtest-{uuid.uuid4().hex}"
    client.set(key, "1", ex=60)
    for _ in range(30):
        client.get(key)  # hits
    for _ in range(10):
        client.get(key + "-missing")  # misses
    second = by_name(collector.collect(1010.0))
    assert second["redis_commands_per_second"] >= 4.1
    assert 0 < second["redis_keyspace_hit_ratio"] < 1
    assert second["redis_is_replica"] == 0.0
    fields = {f.name: f for f in FIELDS}
    for sample in collector.collect(1020.0):
        assert tuple(sample.labels) == fields[sample.name].labels


def test_a_redis_that_goes_away_is_reported_down_and_recovers(throwaway_redis):
    collector = RedisCollector("h", [throwaway_redis.url])
    target = target_name(throwaway_redis.url)
    assert isinstance(collector, TargetCollector)
    assert by_name(collector.collect(1.0))["redis_up"] == 1.0
    assert collector.targets[target] is None

    throwaway_redis.stop()
    down = collector.collect(2.0)
    assert by_name(down) == {"redis_up": 0.0}
    assert "ConnectionError" in collector.targets[target]

    throwaway_redis.start()
    assert by_name(collector.collect(3.0))["redis_up"] == 1.0
    assert collector.targets[target] is None
