"""The scheduler: leader election, then collect -> store -> publish, rollups and retention.

While the database is away the leader goes on collecting into its bounded backlog; a
flush job of its own writes the backlog when the database is back, so collection never
waits for a database that does not answer.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from apscheduler.schedulers.background import BackgroundScheduler

from collectors.backlog import SampleBacklog
from collectors.base import Collector, Sample, TargetCollector
from storage.leader import LeaderLock, NotLeader
from storage.live import METRICS_CHANNEL, SCHEDULER_CHANNEL, LiveBus
from storage.metrics import MetricsStore

log = logging.getLogger(__name__)
T = TypeVar("T")

WRITE_BATCH = 10_000
"""Samples per write transaction when a backlog is written."""
LEADER_GAINED = "this process is now the collector leader"
LEADER_LOST = "this process is no longer the collector leader"
"""The log lines of a leader change, exactly: the incident timeline finds them by text."""


@dataclass
class JobStatus:
    """What the health endpoint shows of one job or collector."""

    name: str
    runs: int = 0
    errors: int = 0
    last_run: float | None = None
    last_duration: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    last_ok: bool | None = None


@dataclass(frozen=True)
class ScheduleConfig:
    """How often things run and how long data is kept (seconds)."""

    collect_interval: int = 5
    lock_ttl: int = 15
    rollup_interval: int = 60
    retention_interval: int = 3600
    raw_retention: float = 48 * 3600
    rollup_retention: float = 30 * 86400
    five_minute_retention: float = 90 * 86400
    hourly_retention: float = 365 * 86400
    buffer_limit: int = 200_000


@dataclass(frozen=True)
class LeaderJob:
    """An extra job that only the leader runs, every ``interval`` seconds (e.g. file tailing)."""

    name: str
    fn: Callable[[], object]
    interval: float = 1.0
    first_delay: float | None = None
    """Seconds from start to the first run; None waits one ``interval``."""


class Scheduler:
    """Runs the collectors and maintenance jobs in the one process that holds the lock."""

    def __init__(
        self,
        collectors: Sequence[Collector],
        metrics: MetricsStore,
        bus: LiveBus,
        lock: LeaderLock,
        config: ScheduleConfig,
        clock: Callable[[], float] = time.time,
        jobs: Sequence[LeaderJob] = (),
    ) -> None:
        self.collectors = list(collectors)
        self.jobs = list(jobs)
        self.metrics = metrics
        self.bus = bus
        self.lock = lock
        self.config = config
        self.clock = clock
        self.is_leader = False
        self.started_at: float | None = None
        self.status: dict[str, JobStatus] = {}
        self.backlog = SampleBacklog(config.buffer_limit)
        self._writes_failing = False
        self._electing = threading.Lock()
        self._flushing = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the background jobs; every process runs them, only the leader does work."""
        scheduler = BackgroundScheduler(
            daemon=True,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        )
        cfg = self.config
        scheduler.add_job(
            self.elect,
            "interval",
            seconds=max(1, cfg.lock_ttl // 3),
            id="leader",
            next_run_time=datetime.now(UTC),
        )
        scheduler.add_job(self.collect, "interval", seconds=cfg.collect_interval, id="collect")
        scheduler.add_job(self.flush, "interval", seconds=cfg.collect_interval, id="flush")
        scheduler.add_job(self.rollup, "interval", seconds=cfg.rollup_interval, id="rollup")
        scheduler.add_job(
            self.retention, "interval", seconds=cfg.retention_interval, id="retention"
        )
        for job in self.jobs:
            # APScheduler reads an explicit next_run_time=None as "paused": only pass a time.
            first = {}
            if job.first_delay is not None:
                first["next_run_time"] = datetime.now(UTC) + timedelta(seconds=job.first_delay)
            scheduler.add_job(
                self.run_job,
                "interval",
                seconds=job.interval,
                args=[job],
                id=f"job:{job.name}",
                **first,
            )
        scheduler.start()
        self._scheduler = scheduler
        self.started_at = self.clock()
        log.info("scheduler started (collect every %ss)", cfg.collect_interval)

    def shutdown(self) -> None:
        """Stop the jobs and give up leadership."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self.lock.release()
        self.is_leader = False

    @property
    def running(self) -> bool:
        """True while the background jobs run in this process."""
        return self._scheduler is not None and self._scheduler.running

    # -- jobs --------------------------------------------------------------------------

    def elect(self) -> bool:
        """Try to take or keep the leader lock; return whether this process leads.

        A backlog survives only while its term goes on (see ``storage.leader``).
        """
        with self._electing:
            leader = self._tracked("leader", self.lock.try_acquire) or False
            self.backlog.start_term(self.lock.generation if leader else None)
            changed, self.is_leader = leader != self.is_leader, leader
        if changed:
            log.info(LEADER_GAINED if leader else LEADER_LOST)
            if leader:
                self.collect()
        return leader

    def collect(self) -> list[Sample]:
        """Run every collector once, store the samples, then publish them (leader only).

        While writes fail the samples only join the backlog, which the flush job writes.
        """
        if not self.is_leader:
            return []
        term = self.backlog.term
        now = self.clock()
        samples: list[Sample] = []
        for collector in self.collectors:
            samples.extend(
                self._tracked(f"collector:{collector.name}", collector.collect, now) or []
            )
        self.backlog.add(samples, term)
        if not self._writes_failing:
            self.flush()
        self.bus.publish(
            METRICS_CHANNEL,
            {"type": "metrics", "ts": now, "samples": [s.to_dict() for s in samples]},
        )
        self.bus.publish(SCHEDULER_CHANNEL, self.snapshot())
        return samples

    def rollup(self) -> int:
        """Roll complete minutes, 5 minutes and hours of samples up (leader only)."""
        if not self.is_leader:
            return 0
        return self._tracked("rollup", self.metrics.rollup, self.clock()) or 0

    def retention(self) -> dict[str, int]:
        """Delete data older than its retention (leader only)."""
        if not self.is_leader:
            return {}
        cfg = self.config
        return (
            self._tracked(
                "retention",
                functools.partial(
                    self.metrics.trim,
                    raw_retention=cfg.raw_retention,
                    rollup_retention=cfg.rollup_retention,
                    five_minute_retention=cfg.five_minute_retention,
                    hourly_retention=cfg.hourly_retention,
                ),
                self.clock(),
            )
            or {}
        )

    def run_job(self, job: LeaderJob) -> object:
        """Run an extra job once, tracked like the others (leader only)."""
        if not self.is_leader:
            return None
        return self._tracked(job.name, job.fn)

    def flush(self) -> int:
        """Write the backlog in batches (leader only); return how many samples were written.

        After a failed write the lock is checked first: the backlog of an outage is written
        only while this process still holds its term. A batch the database refuses stays
        first in the backlog for the next run; one whose term is over is dropped.
        """
        # An idle flush job must not hold the lock that collect's own write then skips.
        if not self.is_leader or not len(self.backlog):
            return 0
        if not self._flushing.acquire(blocking=False):
            return 0
        try:
            if self._writes_failing and not self.elect():
                return 0
            written = 0
            while len(self.backlog):
                term, batch = self.backlog.take(WRITE_BATCH)
                count = self._tracked("store", self._write, term, batch)
                if count is None:
                    break
                written += count
            return written
        finally:
            self._flushing.release()

    def _write(self, term: int | None, batch: list[Sample]) -> int:
        try:
            written = self.metrics.write(batch, fence=self.lock.fence)
        except Exception as exc:
            self._writes_failing = True
            self.backlog.put_back(batch, term)
            if isinstance(exc, NotLeader):
                self.backlog.start_term(None)  # the term is over; elect() finds who leads
            raise
        self.backlog.written(batch)
        self._writes_failing = False
        return written

    @property
    def buffered_samples(self) -> int:
        """Samples waiting for the database to come back."""
        return len(self.backlog)

    @property
    def dropped_samples(self) -> int:
        """Samples lost: the buffer was full, or their leader term ended unwritten."""
        return self.backlog.dropped

    def _tracked(self, name: str, fn: Callable[..., T], *args) -> T | None:
        """Run ``fn`` timed, counting and logging errors instead of raising them."""
        status = self.status.setdefault(name, JobStatus(name))
        started = time.perf_counter()
        status.last_run = self.clock()
        try:
            result = fn(*args)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            if error != status.last_error:
                log.exception("job %s failed", name)
            else:  # the same failure again: one line, not another traceback
                log.warning("job %s failed again: %s", name, error)
            status.errors += 1
            status.last_error = error
            status.last_error_at = status.last_run
            status.last_ok = False
            return None
        else:
            status.last_ok = True
            return result
        finally:
            status.runs += 1
            status.last_duration = time.perf_counter() - started

    def snapshot(self) -> dict:
        """Scheduler state for the health endpoint."""
        return {
            "running": self.running,
            "leader": self.is_leader,
            "started_at": self.started_at,
            "buffered_samples": self.buffered_samples,
            "dropped_samples": self.dropped_samples,
            "jobs": {name: asdict(s) for name, s in sorted(self.status.items())},
            "targets": {
                f"{c.name}:{target}": error
                for c in self.collectors
                if isinstance(c, TargetCollector)
                for target, error in c.targets.items()
            },
        }
