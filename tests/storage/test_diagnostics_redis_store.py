"""The Redis slowlog history and the diagnostic jobs on both backends."""

from __future__ import annotations

import pytest

from storage.diagnostics.jobs import CANCELLED, DONE, FAILED, RUNNER_GONE, RUNNING, JobStore
from storage.diagnostics.redis import RedisSlowlogStore, SlowEntry


def entry(target: str, entry_id: int, ts: float) -> SlowEntry:
    return SlowEntry(target, entry_id, ts, 1000 + entry_id, f"GET k{entry_id}", "127.0.0.1:1")


def test_slow_entries_are_stored_once_read_by_range_and_trimmed(engine):
    store = RedisSlowlogStore(engine)
    assert store.write([]) == 0
    assert store.write([entry("a", i, 100.0 + i) for i in range(5)]) == 5
    assert store.write([entry("a", i, 100.0 + i) for i in range(3, 8)]) == 3
    assert store.write([entry("b", 1, 150.0)]) == 1

    assert store.latest_entry_id("a") == 7 and store.latest_entry_id("none") is None
    assert [e.entry_id for e in store.read("a", 102.0, 105.0)] == [5, 4, 3, 2]
    assert store.read("a", None, None, limit=2) == [entry("a", 7, 107.0), entry("a", 6, 106.0)]
    assert store.trim(104.0) == 4
    assert [e.entry_id for e in store.read("a", None, None)] == [7, 6, 5, 4]
    assert [e.target for e in store.read("b", None, None)] == ["b"]


def test_a_job_moves_from_running_to_an_end_and_any_reader_sees_it(engine):
    jobs = JobStore(engine)
    job = jobs.create("redis_bigkeys", "h:6379/0", "admin", now=1000.0)
    assert (job.state, job.progress, job.done, job.total, job.result) == (RUNNING, 0, 0, None, {})

    keys = {"keys": [{"key": "big", "type": "string", "bytes": 10, "db": 0}]}
    assert not jobs.update_progress(job.id, done=5, total=10, progress=0.5, result=keys, now=1001.0)
    seen = JobStore(engine).get(job.id, now=1002.0)
    assert (seen.state, seen.done, seen.total, seen.progress, seen.result) == (
        RUNNING,
        5,
        10,
        0.5,
        keys,
    )

    asked = jobs.request_cancel(job.id, now=1003.0)
    assert asked.cancel_requested and asked.state == RUNNING
    assert jobs.update_progress(job.id, done=6, total=10, progress=0.6, result=keys, now=1004.0)
    jobs.finish(job.id, CANCELLED, now=1005.0, result=keys)
    jobs.finish(job.id, DONE, now=1006.0)  # an ended job stays as it ended
    final = jobs.get(job.id, now=1007.0)
    assert (final.state, final.done, final.result, final.finished) == (CANCELLED, 6, keys, True)
    assert jobs.latest("redis_bigkeys", "h:6379/0", now=1007.0).id == job.id
    assert jobs.get("0" * 32, now=1007.0) is None
    with pytest.raises(ValueError):
        jobs.finish(job.id, RUNNING, now=1008.0)


def test_a_job_whose_runner_went_silent_reads_as_failed(engine):
    jobs = JobStore(engine, stale_after=60)
    job = jobs.create("redis_bigkeys", "t", None, now=1000.0)
    assert jobs.get(job.id, now=1059.0).state == RUNNING
    gone = jobs.get(job.id, now=1061.0)
    assert (gone.state, gone.error, gone.finished) == (FAILED, RUNNER_GONE, True)
    done = jobs.create("redis_bigkeys", "t", None, now=1000.0)
    jobs.finish(done.id, DONE, now=1001.0)
    assert jobs.get(done.id, now=9999.0).state == DONE
    assert jobs.get(done.id, now=9999.0).progress == 1.0
