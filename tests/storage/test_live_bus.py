"""The live bus, in-process and through Redis: fan-out, snapshots, slow readers, outages."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from storage.live import InProcessBus, LiveBus, RedisBus, Subscription, deployment_prefix
from tests.conftest import wait_until
from tests.services import ThrowawayRedis

WAIT = 5.0
"""Seconds a message may take to arrive (Redis round trip and listener thread)."""


def receive(sub: Subscription, count: int) -> list[dict]:
    """The next ``count`` messages of ``sub``; fails if one does not arrive in time."""
    messages = []
    for _ in range(count):
        message = sub.get(timeout=WAIT)
        assert message is not None, f"only {len(messages)} of {count} messages arrived"
        messages.append(message)
    return messages


def assert_nothing_more(sub: Subscription) -> None:
    """``sub`` holds no further message, now or shortly after."""
    assert sub.get(timeout=0.3) is None


def wait_for_dropped(sub: Subscription, expected: int) -> int:
    """Sum ``take_dropped`` until it reaches ``expected``; return the total (at least that)."""
    total = 0

    def reached() -> bool:
        nonlocal total
        total += sub.take_dropped()
        return total >= expected

    wait_until(reached, WAIT)
    return total


def redis_bus(url: str, prefix: str) -> RedisBus:
    """A Redis bus on ``url`` whose listener is subscribed, with a quick reconnect."""
    bus = RedisBus(url, prefix=prefix, retry_delay=0.1)
    wait_until(bus._listening.is_set, WAIT)
    return bus


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own."""
    return f"pbtest-{uuid.uuid4().hex[:8]}:"


# -- both kinds of bus ---------------------------------------------------------------------


def test_a_subscriber_receives_messages_in_publish_order(bus: LiveBus):
    sub = bus.subscribe("metrics")
    sent = [{"seq": i, "value": i * 1.5} for i in range(50)]

    for message in sent:
        bus.publish("metrics", message)

    assert receive(sub, 50) == sent
    assert_nothing_more(sub)


def test_a_subscriber_only_receives_its_own_channel(bus: LiveBus):
    metrics = bus.subscribe("metrics")
    logs = bus.subscribe("logs")

    bus.publish("logs", {"line": "hello"})
    bus.publish("metrics", {"cpu": 1})

    assert receive(metrics, 1) == [{"cpu": 1}]
    assert receive(logs, 1) == [{"line": "hello"}]
    assert_nothing_more(metrics)
    assert_nothing_more(logs)


def test_latest_is_the_last_message_published_on_a_channel(bus: LiveBus):
    assert bus.latest("metrics") is None

    bus.publish("metrics", {"seq": 1})
    bus.publish("metrics", {"seq": 2})
    bus.publish("logs", {"seq": 3})

    assert bus.latest("metrics") == {"seq": 2}
    assert bus.latest("logs") == {"seq": 3}
    assert bus.latest("alerts") is None


def test_every_subscriber_of_a_channel_receives_every_message(bus: LiveBus):
    subs = [bus.subscribe("metrics") for _ in range(3)]
    sent = [{"seq": i} for i in range(10)]

    for message in sent:
        bus.publish("metrics", message)

    for sub in subs:
        assert receive(sub, 10) == sent
        assert_nothing_more(sub)


def test_a_full_queue_drops_the_oldest_messages_and_counts_them(bus: LiveBus):
    slow = bus.subscribe("metrics", maxsize=5)
    fast = bus.subscribe("metrics", maxsize=100)
    sent = [{"seq": i} for i in range(20)]

    for message in sent:
        bus.publish("metrics", message)

    assert wait_for_dropped(slow, 15) == 15
    assert receive(slow, 5) == sent[-5:]
    assert_nothing_more(slow)
    assert slow.take_dropped() == 0
    # The other subscriber is not affected by the slow one.
    assert receive(fast, 20) == sent
    assert fast.take_dropped() == 0


def test_a_closed_subscription_receives_nothing_while_others_still_do(bus: LiveBus):
    leaving = bus.subscribe("metrics")
    staying = bus.subscribe("metrics")

    leaving.close()
    bus.publish("metrics", {"seq": 1})

    assert receive(staying, 1) == [{"seq": 1}]
    assert leaving.closed
    assert_nothing_more(leaving)


def test_closing_a_subscription_wakes_a_waiting_reader(bus: LiveBus):
    sub = bus.subscribe("metrics")
    results: list[dict | None] = []
    reader = threading.Thread(target=lambda: results.append(sub.get(timeout=30)))
    reader.start()
    time.sleep(0.1)

    sub.close()
    reader.join(timeout=WAIT)

    assert not reader.is_alive()
    assert results == [None]


def test_closing_the_bus_closes_every_subscription(bus: LiveBus):
    subs = [bus.subscribe(channel) for channel in ("metrics", "logs", "logs")]

    bus.close()

    assert all(sub.closed for sub in subs)
    for sub in subs:
        assert sub.get(timeout=0.1) is None


def test_status_is_ok_while_the_bus_works(bus: LiveBus):
    status = bus.status()

    assert status["ok"] is True
    assert status["error"] is None
    assert status["backend"] == ("memory" if isinstance(bus, InProcessBus) else "redis")


# -- Redis across processes and outages ----------------------------------------------------


@pytest.fixture
def two_buses(shared_redis_url: str, prefix: str) -> Iterator[tuple[RedisBus, RedisBus]]:
    """Two Redis buses on one server and prefix, as two Pulseboard processes would have."""
    first, second = redis_bus(shared_redis_url, prefix), redis_bus(shared_redis_url, prefix)
    yield first, second
    first.close()
    second.close()


def test_two_redis_buses_see_each_others_messages_and_snapshots(
    two_buses: tuple[RedisBus, RedisBus],
):
    first, second = two_buses
    on_first, on_second = first.subscribe("metrics"), second.subscribe("metrics")

    first.publish("metrics", {"from": "first"})
    second.publish("metrics", {"from": "second"})

    expected = [{"from": "first"}, {"from": "second"}]
    assert receive(on_first, 2) == expected
    assert receive(on_second, 2) == expected
    assert_nothing_more(on_first)
    assert_nothing_more(on_second)
    assert first.latest("metrics") == second.latest("metrics") == {"from": "second"}


def test_redis_buses_with_other_prefixes_do_not_hear_each_other(shared_redis_url: str):
    first = redis_bus(shared_redis_url, f"pbtest-{uuid.uuid4().hex[:8]}:")
    second = redis_bus(shared_redis_url, f"pbtest-{uuid.uuid4().hex[:8]}:")
    try:
        on_second = second.subscribe("metrics")
        first.publish("metrics", {"seq": 1})

        assert_nothing_more(on_second)
        assert second.latest("metrics") is None
    finally:
        first.close()
        second.close()


def test_a_prefix_with_glob_characters_listens_to_its_own_channels_only(shared_redis_url: str):
    tag = uuid.uuid4().hex[:8]
    starred = redis_bus(shared_redis_url, f"pbtest-{tag}*:")
    outsider = redis.Redis.from_url(shared_redis_url, socket_timeout=2)
    try:
        # PUBLISH answers how many listeners got the message: unescaped, the pattern
        # "pbtest-<tag>*:bus:*" would take in another deployment's channel too.
        assert outsider.publish(f"pbtest-{tag}-b:bus:metrics", "{}") == 0
        assert outsider.publish(f"pbtest-{tag}*:bus:metrics", "{}") == 1
    finally:
        outsider.close()
        starred.close()


PG = "postgresql+psycopg://pulseboard:secret@db.example:5432/pulseboard"


def test_the_deployment_prefix_is_the_same_for_every_process_of_one_deployment():
    prefix = deployment_prefix(PG, "redis://cache.example:6379/2")

    assert re.fullmatch(r"pulseboard:[0-9a-f]{8}:", prefix)
    assert deployment_prefix(PG, "redis://cache.example:6379/2") == prefix
    # Another password (rotated) or another route to the same Redis database: still one.
    assert deployment_prefix(PG.replace("secret", "rotated"), "redis://10.0.0.7/2") == prefix
    assert deployment_prefix(PG, "redis://cache.example/?db=2") == prefix


def test_the_deployment_prefix_differs_for_another_database_or_redis_database():
    prefix = deployment_prefix(PG, "redis://cache.example:6379/2")

    assert deployment_prefix(PG + "_staging", "redis://cache.example:6379/2") != prefix
    assert (
        deployment_prefix(PG.replace("db.example", "db2.example"), "redis://cache.example/2")
        != prefix
    )
    assert deployment_prefix(PG, "redis://cache.example:6379/3") != prefix
    assert deployment_prefix(PG, "redis://cache.example:6379") != prefix


def test_a_redis_bus_keeps_delivering_in_process_while_redis_is_down_and_recovers(
    throwaway_redis: ThrowawayRedis, prefix: str
):
    bus = redis_bus(throwaway_redis.url, prefix)
    outsider = redis.Redis.from_url(throwaway_redis.url, socket_timeout=2)
    try:
        sub = bus.subscribe("metrics")
        bus.publish("metrics", {"seq": 1})
        assert receive(sub, 1) == [{"seq": 1}]

        throwaway_redis.stop()
        for seq in (2, 3, 4):
            bus.publish("metrics", {"seq": seq})  # must neither raise nor lose the message

        assert receive(sub, 3) == [{"seq": 2}, {"seq": 3}, {"seq": 4}]
        assert_nothing_more(sub)
        status = bus.status()
        assert status["ok"] is False
        assert status["backend"] == "redis"
        assert "ConnectionError" in status["error"]
        assert bus.latest("metrics") == {"seq": 4}

        throwaway_redis.start()
        wait_until(lambda: bus.status()["ok"], WAIT)
        wait_until(bus._listening.is_set, WAIT)
        # A message published by another process reaches us only through Redis.
        assert outsider.publish(prefix + "bus:metrics", '{"seq": 5}') == 1
        assert receive(sub, 1) == [{"seq": 5}]
        bus.publish("metrics", {"seq": 6})
        assert receive(sub, 1) == [{"seq": 6}]
        assert_nothing_more(sub)
        assert outsider.get(prefix + "latest:metrics") == b'{"seq":6}'
        assert bus.status() == {"backend": "redis", "ok": True, "error": None}
    finally:
        outsider.close()
        bus.close()


def test_a_redis_bus_started_while_redis_is_down_connects_when_it_comes_up(
    throwaway_redis: ThrowawayRedis, prefix: str
):
    throwaway_redis.stop()
    bus = RedisBus(throwaway_redis.url, prefix=prefix, retry_delay=0.1)
    try:
        sub = bus.subscribe("metrics")
        bus.publish("metrics", {"seq": 1})
        assert receive(sub, 1) == [{"seq": 1}]
        assert bus.status()["ok"] is False

        throwaway_redis.start()
        wait_until(bus._listening.is_set, WAIT)

        other = redis_bus(throwaway_redis.url, prefix)
        try:
            other.publish("metrics", {"seq": 2})
            assert receive(sub, 1) == [{"seq": 2}]
        finally:
            other.close()
        assert bus.status()["ok"] is True
    finally:
        bus.close()


def test_malformed_messages_on_redis_are_skipped_without_stopping_delivery(
    shared_redis_url: str, prefix: str
):
    bus = redis_bus(shared_redis_url, prefix)
    outsider = redis.Redis.from_url(shared_redis_url, socket_timeout=2)
    try:
        sub = bus.subscribe("metrics")
        for junk in (b"\xffnot json", b"[1, 2]", b"{truncated"):
            assert outsider.publish(prefix + "bus:metrics", junk) == 1

        bus.publish("metrics", {"seq": 1})

        assert receive(sub, 1) == [{"seq": 1}]
        assert_nothing_more(sub)
        assert bus.status()["ok"] is True
        # A malformed snapshot falls back to the last message this process saw.
        outsider.set(prefix + "latest:metrics", b"\xffnot json")
        assert bus.latest("metrics") == {"seq": 1}
    finally:
        outsider.close()
        bus.close()
