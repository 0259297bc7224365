"""Redis diagnostics against a real server of the test's own: SLOWLOG with secrets kept out,
LATENCY after a DEBUG SLEEP, the INFO figures, the big-keys scan and the slowlog copy."""

from __future__ import annotations

import pytest
import redis

from collectors import redis_inspect
from collectors.redis import target_name
from collectors.redis_inspect import ScanLimits, SlowlogRecorder, format_command
from storage.diagnostics.redis import RedisSlowlogStore
from tests.services import ThrowawayRedis


@pytest.fixture
def server(diagnostic_redis: ThrowawayRedis) -> ThrowawayRedis:
    return diagnostic_redis


@pytest.fixture
def client(server: ThrowawayRedis) -> redis.Redis:
    return redis.Redis.from_url(server.url)


def test_a_debug_sleep_shows_in_the_slowlog_and_as_a_latency_event(server, client):
    client.execute_command("DEBUG", "SLEEP", "0.2")

    entries = redis_inspect.slowlog(client, target_name(server.url))
    sleep = next(e for e in entries if e.command == "DEBUG SLEEP 0.2")
    assert sleep.duration_us >= 200_000
    assert sleep.target == target_name(server.url)
    assert sleep.client.startswith("127.0.0.1:")
    assert [e.entry_id for e in entries] == sorted((e.entry_id for e in entries), reverse=True)

    latency = redis_inspect.latency(client)
    assert latency.enabled and latency.threshold_ms == 10 and latency.how_to_enable is None
    (command,) = [e for e in latency.events if e.event == "command"]
    assert command.latest_ms >= 200 and command.max_ms >= 200
    assert "command" in latency.doctor


def test_with_the_latency_monitor_off_it_says_how_to_turn_it_on(client):
    client.config_set("latency-monitor-threshold", 0)
    latency = redis_inspect.latency(client)
    assert not latency.enabled
    assert latency.events == []
    assert "CONFIG SET latency-monitor-threshold 100" in latency.how_to_enable


def test_passwords_never_show_in_slow_commands(server, client):
    client.config_set("requirepass", "s3cret-pass")
    client.execute_command("AUTH", "s3cret-pass")
    shown = " | ".join(e.command for e in redis_inspect.slowlog(client, "t"))
    assert "s3cret-pass" not in shown
    assert "CONFIG SET requirepass (redacted)" in shown
    # Older servers log the arguments as sent: they are redacted here too.
    assert format_command([b"AUTH", b"user", b"pw"]) == "AUTH (redacted) (redacted)"
    assert format_command(["HELLO", "3", "AUTH", "me", "pw"]) == "HELLO 3 AUTH me (redacted)"
    assert format_command(["CONFIG", "SET", "maxmemory", "1mb", "masterauth", "pw"]) == (
        "CONFIG SET maxmemory 1mb masterauth (redacted)"
    )
    assert "pw" not in format_command(["MIGRATE", "h", "1", "", "0", "5", "AUTH2", "u", "pw"])
    assert "pw" not in format_command(["ACL", "SETUSER", "bob", "on", ">pw"])


def test_long_commands_are_cut_short_with_a_count_of_what_is_left_out():
    line = format_command(["MSET", *(f"k{i}" for i in range(40)), "x" * 100])
    assert "… (26 more arguments)" in line
    assert format_command(["SET", "k", "v" * 100]).endswith("… (36 more chars)")


def test_memory_figures_count_hits_misses_and_keys(client):
    client.set("present", "1")
    client.get("present")
    client.get("absent")
    figures = redis_inspect.memory(client)
    assert figures.used_memory_bytes > 0
    assert figures.keyspace_hits == 1 and figures.keyspace_misses == 1
    assert figures.hit_ratio == 0.5
    assert figures.keys == 1
    assert figures.maxmemory_policy == "noeviction"
    assert figures.fragmentation_ratio is not None


def test_the_big_keys_scan_finds_the_big_key_page_by_page(client):
    client.mset({f"small:{i}": "x" for i in range(1000)})
    client.set("big", "x" * 1_000_000)
    client.rpush("list", *range(1000))
    pauses: list[float] = []

    steps = list(
        redis_inspect.scan_big_keys(
            client, ScanLimits(page=100, pause=0.01, top=3), sleep=pauses.append
        )
    )

    done = [s.done for s in steps]
    # Never shrinks, and grows page by page; SCAN's COUNT is only a hint, so a page (the
    # last one too) may come back empty and repeat the count before it.
    assert done == sorted(done) and len(set(done)) > 5
    assert steps[-1].finished and steps[-1].fraction == 1.0
    assert steps[-1].done == steps[-1].total == 1002
    assert pauses == [0.01] * (len(steps) - 1)  # a pause between pages, none after the last
    top = steps[-1].top
    assert [(k.key, k.type, k.db) for k in top[:2]] == [("big", "string", 0), ("list", "list", 0)]
    assert top[0].bytes > 1_000_000
    assert len(top) == 3


def test_the_scan_stops_at_its_bound_and_when_the_caller_stops_asking(client):
    client.mset({f"k:{i}": "x" for i in range(500)})
    bounded = list(redis_inspect.scan_big_keys(client, ScanLimits(page=50, max_keys=120)))
    assert bounded[-1].done == 120 and bounded[-1].total == 120 and bounded[-1].finished

    scan = redis_inspect.scan_big_keys(client, ScanLimits(page=50, pause=0))
    first = next(scan)
    scan.close()
    assert not first.finished and 0 < first.done < 500 and 0 < first.fraction < 1


def test_the_recorder_copies_each_new_entry_once(server, client, engine):
    store = RedisSlowlogStore(engine)
    target = target_name(server.url)
    recorder = SlowlogRecorder({target: client}, store, retention=3600)
    client.execute_command("DEBUG", "SLEEP", "0.2")

    first = recorder.run()
    again = recorder.run()  # the SLOWLOG GET of the first run is new by now
    client.config_set("slowlog-max-len", 0)
    client.slowlog_reset()  # the server forgets; the store does not

    assert first >= 1 and again >= 1
    stored = store.read(target, None, None)
    assert any(e.command == "DEBUG SLEEP 0.2" for e in stored)
    assert len({e.entry_id for e in stored}) == len(stored) == first + again
    assert recorder.run() == 0
