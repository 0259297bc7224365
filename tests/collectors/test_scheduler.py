"""The scheduler: collect -> store -> publish, failures isolated, leadership, outages."""

from __future__ import annotations

import json
import random
import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from collectors.base import Field, Sample, TargetCollector
from collectors.scheduler import LeaderJob, ScheduleConfig, Scheduler
from storage.db import make_engine
from storage.leader import FileLeaderLock, PostgresLeaderLock
from storage.live import METRICS_CHANNEL, InProcessBus
from storage.metrics import MetricsStore
from storage.models import MetricSample
from tests.conftest import truncate_tables, wait_until
from tests.services import TcpProxy


class Counter:
    """A collector yielding one sample per call with an increasing value."""

    name = "counter"
    fields = (Field("test_calls_total", "calls", "calls so far", kind="counter"),)

    def __init__(self) -> None:
        self.calls = 0

    def collect(self, now: float) -> list[Sample]:
        self.calls += 1
        return [Sample(now, "h", "test_calls_total", float(self.calls))]


class Broken:
    """A collector that always raises."""

    name = "broken"
    fields = ()

    def collect(self, now: float) -> list[Sample]:
        raise RuntimeError("sensor on fire")


class Watcher(TargetCollector):
    """A collector of two targets: the first refuses, the second answers."""

    name = "watcher"
    fields = ()

    def collect(self, now: float) -> list[Sample]:
        first, second = self.targets
        self.target_failed(first, ConnectionRefusedError("refused"))
        self.target_answered(second)
        return []


class Listed:
    """A collector with an attribute that happens to be called ``targets``."""

    name = "listed"
    fields = ()
    targets = ["not", "watched", "services"]

    def collect(self, now: float) -> list[Sample]:
        return []


def stored(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(MetricSample)).scalar_one()


def make_scheduler(engine, tmp_path, collectors, clock=None, **config) -> Scheduler:
    scheduler = Scheduler(
        collectors,
        MetricsStore(engine),
        InProcessBus(),
        FileLeaderLock(tmp_path / "lock"),
        ScheduleConfig(**config),
        clock=clock or (lambda: 1_800_000_000.0),
    )
    assert scheduler.elect()
    return scheduler


def test_collect_stores_then_publishes(engine, tmp_path):
    scheduler = make_scheduler(engine, tmp_path, [Counter()])
    subscription = scheduler.bus.subscribe(METRICS_CHANNEL)
    scheduler.collect()  # elect() already collected once on becoming leader
    assert stored(engine) == 2
    first, second = subscription.get(1), subscription.get(1)
    assert first is None or first["type"] == "metrics"
    message = second or first
    assert message["type"] == "metrics"
    assert message["samples"][0]["name"] == "test_calls_total"


def test_a_failing_collector_is_counted_and_does_not_stop_the_others(engine, tmp_path):
    scheduler = make_scheduler(engine, tmp_path, [Broken(), Counter()])
    scheduler.collect()
    assert stored(engine) == 2
    broken = scheduler.status["collector:broken"]
    assert broken.errors == 2 and broken.runs == 2
    assert broken.last_error == "RuntimeError: sensor on fire"
    assert scheduler.status["collector:counter"].errors == 0
    assert scheduler.status["collector:counter"].last_duration is not None


def test_the_snapshot_names_each_watched_target_with_its_last_error(engine, tmp_path):
    watcher = Watcher("h", ["db-1:5432/app", "db-2:5432/app"])
    scheduler = make_scheduler(engine, tmp_path, [watcher, Listed(), Counter()])

    assert scheduler.snapshot()["targets"] == {
        "watcher:db-1:5432/app": "ConnectionRefusedError: refused",
        "watcher:db-2:5432/app": None,
    }


def test_only_the_lock_holder_collects(engine, tmp_path):
    leader = make_scheduler(engine, tmp_path, [Counter()])
    follower = Scheduler(
        [Counter()],
        MetricsStore(engine),
        InProcessBus(),
        FileLeaderLock(tmp_path / "lock"),
        ScheduleConfig(),
    )
    assert follower.elect() is False
    assert follower.collect() == []
    leader.shutdown()
    assert follower.elect() is True
    follower.shutdown()


def test_samples_are_buffered_while_the_database_is_down_and_written_when_it_returns(
    pg_url, tmp_path
):
    url = make_url(pg_url)
    proxy = TcpProxy(url.port or 5432)
    proxy.start()
    engine = make_engine(url.set(port=proxy.port).render_as_string(hide_password=False))
    try:
        before = stored(engine)
        scheduler = make_scheduler(engine, tmp_path, [Counter()], buffer_limit=1000)
        proxy.cut()
        for _ in range(3):
            scheduler.collect()
        assert scheduler.buffered_samples == 3
        assert scheduler.status["store"].last_error is not None
        assert scheduler.status["store"].runs == 2  # collect tried once, then left it to flush
        proxy.restore()
        scheduler.collect()
        assert scheduler.buffered_samples == 4
        assert scheduler.flush() == 4
        assert scheduler.buffered_samples == 0
        assert stored(engine) - before == 5
        scheduler.collect()  # writes went through again: collect stores at once
        assert scheduler.buffered_samples == 0
    finally:
        proxy.cut()
        engine.dispose()


class Tagged:
    """One sample per call, labelled with the process that collected it."""

    name = "tagged"
    fields = (Field("test_collections", "collections", "one per call", labels=("by",)),)

    def __init__(self, by: str) -> None:
        self.by = by

    def collect(self, now: float) -> list[Sample]:
        return [Sample(now, "h", "test_collections", 1.0, {"by": self.by})]


def collections_by(engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.labels, count(*) FROM metric_samples m "
                "JOIN metric_series s ON s.id = m.series_id "
                "WHERE s.name = 'test_collections' GROUP BY s.labels"
            )
        ).all()
    return {json.loads(labels)["by"]: count for labels, count in rows}


def test_a_leader_cut_off_while_another_took_over_drops_its_backlog_instead_of_writing_it(
    pg_url, tmp_path
):
    truncate_tables(pg_url)
    key = random.randrange(1, 2**62)
    proxy = TcpProxy(make_url(pg_url).port or 5432)
    proxy.start()
    proxied = make_url(pg_url).set(port=proxy.port).render_as_string(hide_password=False)
    engines = [make_engine(proxied), make_engine(pg_url)]
    cut_off, other = (
        Scheduler(
            [Tagged(by)],
            MetricsStore(engine),
            InProcessBus(),
            PostgresLeaderLock(url, key=key, restart_grace=0),
            ScheduleConfig(),
        )
        for by, engine, url in (("cut-off", engines[0], proxied), ("other", engines[1], pg_url))
    )
    try:
        assert cut_off.elect() is True and other.elect() is False
        proxy.cut()
        for _ in range(3):
            cut_off.collect()
        assert cut_off.elect() is True  # it cannot tell: it keeps collecting, buffered
        assert cut_off.buffered_samples == 3

        assert wait_until(other.elect, 10) is True  # the server saw the cut-off one go
        other.collect()
        proxy.restore()
        assert cut_off.flush() == 0
        assert cut_off.is_leader is False
        assert cut_off.buffered_samples == 0 and cut_off.dropped_samples == 3
        assert cut_off.collect() == []
    finally:
        proxy.cut()
        for scheduler in (cut_off, other):
            scheduler.shutdown()
        for engine in engines:
            engine.dispose()
    assert collections_by(engines[1]) == {"cut-off": 1, "other": 2}


def test_samples_collected_after_the_lock_was_lost_are_refused_and_dropped(engine, tmp_path):
    scheduler = make_scheduler(engine, tmp_path, [Counter()])
    scheduler.lock.release()  # as if lost behind the scheduler's back

    scheduler.collect()

    assert stored(engine) == 1  # only the collection made while leading
    assert "NotLeader" in scheduler.status["store"].last_error
    assert scheduler.buffered_samples == 0 and scheduler.dropped_samples == 1
    assert scheduler.elect() is True  # the lock was free: a new term
    scheduler.collect()
    assert scheduler.flush() == 1
    assert stored(engine) == 2


def test_the_buffer_is_bounded_and_counts_what_it_dropped(tmp_path):
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    scheduler = Scheduler(
        [Counter()],
        MetricsStore(engine),
        InProcessBus(),
        FileLeaderLock(tmp_path / "lock"),
        ScheduleConfig(buffer_limit=2),
    )
    scheduler.is_leader = True
    for _ in range(5):
        scheduler.collect()
    assert scheduler.buffered_samples == 2
    assert scheduler.dropped_samples == 3


@pytest.mark.parametrize("step", [60])
def test_rollup_and_retention_jobs_run_only_on_the_leader(engine, tmp_path, step):
    now = [1_800_000_000.0]
    scheduler = make_scheduler(
        engine,
        tmp_path,
        [Counter()],
        clock=lambda: now[0],
        raw_retention=120,
        rollup_retention=3600,
    )
    for _ in range(10):
        now[0] += 30
        scheduler.collect()
    assert scheduler.rollup() > 0
    result = scheduler.retention()
    assert result["raw"] > 0
    scheduler.is_leader = False
    assert scheduler.rollup() == 0 and scheduler.retention() == {}


def test_a_leader_job_with_a_first_delay_runs_that_soon_not_an_interval_later(engine, tmp_path):
    ran, ran_early = threading.Event(), threading.Event()
    soon = LeaderJob("soon", ran.set, interval=3600, first_delay=0.2)
    late = LeaderJob("late", ran_early.set, interval=3600)
    scheduler = Scheduler(
        [],
        MetricsStore(engine),
        InProcessBus(),
        FileLeaderLock(tmp_path / "lock"),
        ScheduleConfig(collect_interval=3600),
        jobs=[soon, late],
    )
    scheduler.start()
    try:
        assert ran.wait(10), "the job with a first delay never ran"
        assert not ran_early.is_set(), "a job without one ran before its interval"
    finally:
        scheduler.shutdown()
