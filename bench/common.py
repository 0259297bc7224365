"""Shared pieces: result rows, throwaway databases and realistic samples."""

from __future__ import annotations

import atexit
import os
import secrets
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.db import upgrade
from storage.metrics import Sample

HOST = "bench-host"


@dataclass(frozen=True)
class Result:
    """One row of the results table.

    ``ratio`` is ours / baseline for costs (time, CPU) and baseline / ours for
    throughputs, so a ratio above 1 always means "slower than the baseline".
    """

    benchmark: str
    ours: float
    baseline: float | None
    unit: str
    target: str
    note: str = ""
    higher_is_better: bool = False
    ours_range: tuple[float, float] | None = None
    """Lowest and highest of the rounds ``ours`` is the median of, in ``unit``."""
    baseline_range: tuple[float, float] | None = None

    @property
    def ratio(self) -> float | None:
        """How many times worse than the baseline ours is (None when there is none)."""
        if self.baseline is None or self.ours <= 0 or self.baseline <= 0:
            return None
        if self.higher_is_better:
            return self.baseline / self.ours
        return self.ours / self.baseline

    def to_dict(self) -> dict:
        """The row as JSON-ready data, ratio included."""
        return {**asdict(self), "ratio": self.ratio}


def pg_admin_url() -> str:
    """URL of a PostgreSQL database that may create and drop databases."""
    url = os.environ.get(
        "PULSEBOARD_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _database_url(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _admin_sql(admin_url: str, sql: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(sql))
    finally:
        admin.dispose()


_migrated: list[str] = []
"""The migrated database on the bench server that its bench databases are copied from:
the migrations run once a run, not once a benchmark. Dropped when the run exits."""


def _migrated_template() -> str:
    if not _migrated:
        name = f"bench_migrated_{uuid.uuid4().hex[:10]}"
        _admin_sql(pg_admin_url(), f'CREATE DATABASE "{name}"')
        atexit.register(
            _admin_sql, pg_admin_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        )
        upgrade(_database_url(pg_admin_url(), name))
        _migrated.append(name)
    return _migrated[0]


@contextmanager
def pg_database(admin_url: str | None = None) -> Iterator[str]:
    """A fresh, migrated ``bench_*`` PostgreSQL database on the bench server (copied from
    one migrated once a run) or on the server of ``admin_url`` (migrated), dropped
    afterwards."""
    template = f' TEMPLATE "{_migrated_template()}"' if admin_url is None else ""
    admin_url = admin_url or pg_admin_url()
    name = f"bench_{uuid.uuid4().hex[:10]}"
    _admin_sql(admin_url, f'CREATE DATABASE "{name}"{template}')
    url = _database_url(admin_url, name)
    try:
        if not template:
            upgrade(url)
        yield url
    finally:
        _admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def statements_server() -> Iterator[tuple[str, str]]:
    """The admin URL of a PostgreSQL server with pg_stat_statements preloaded and which
    one it is: the bench server when it has it, else a throwaway cluster for the run."""
    admin = create_engine(pg_admin_url())
    with admin.connect() as conn:
        preloaded = conn.execute(text("SHOW shared_preload_libraries")).scalar_one()
    admin.dispose()
    if "pg_stat_statements" in preloaded:
        yield pg_admin_url(), "the bench server"
        return
    from tests.services import ThrowawayPostgres  # only here: it needs the server binaries

    server = ThrowawayPostgres("shared_preload_libraries=pg_stat_statements")
    server.start()
    try:
        yield server.url, "a throwaway cluster with pg_stat_statements preloaded"
    finally:
        server.remove()


def psycopg_dsn(url: str) -> str:
    """A libpq connection string for a SQLAlchemy PostgreSQL ``url``."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_database(directory: Path) -> str:
    """A migrated SQLite database in ``directory``; returns its URL."""
    url = f"sqlite:///{directory / 'bench.db'}"
    upgrade(url)
    return url


def sqlite_connect(url: str) -> sqlite3.Connection:
    """A raw sqlite3 connection with the pragmas ``storage.db.make_engine`` sets."""
    conn = sqlite3.connect(make_url(url).database or "", isolation_level=None)
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "busy_timeout=10000",
        "foreign_keys=ON",
        "temp_store=MEMORY",
        "cache_size=-32000",
    ):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def series_keys(count: int = 100) -> list[tuple[str, dict[str, str]]]:
    """``count`` series named and labelled like the system collector's on a big host."""
    keys: list[tuple[str, dict[str, str]]] = [
        (name, {})
        for name in (
            "system_cpu_usage_percent",
            "system_cpu_count",
            "system_load1",
            "system_load5",
            "system_load15",
            "system_memory_total_bytes",
            "system_memory_used_bytes",
            "system_memory_available_bytes",
            "system_memory_used_percent",
            "system_swap_total_bytes",
            "system_swap_used_bytes",
            "system_swap_used_percent",
            "system_process_count",
            "system_uptime_seconds",
            "pulseboard_process_cpu_usage_percent",
            "pulseboard_process_resident_memory_bytes",
        )
    ]
    for mount in ("/", "/boot", "/var/lib/postgresql"):
        for kind in ("total", "used", "free"):
            keys.append((f"system_disk_{kind}_bytes", {"mountpoint": mount}))
        keys.append(("system_disk_used_percent", {"mountpoint": mount}))
    for device in ("nvme0n1", "nvme1n1"):
        for what in ("read_bytes", "write_bytes", "read_ops", "write_ops"):
            keys.append((f"system_disk_{what}_per_second", {"device": device}))
    for interface in ("lo", "eth0", "docker0"):
        for direction in ("receive", "transmit"):
            for what in ("bytes", "packets", "errors"):
                keys.append(
                    (f"system_network_{direction}_{what}_per_second", {"interface": interface})
                )
    core = 0
    while len(keys) < count:
        keys.append(("system_cpu_core_usage_percent", {"cpu": str(core)}))
        core += 1
    return keys[:count]


def sample_batches(
    total_rows: int, batch_rows: int, *, series: int = 100, start: float = 1.7e9, step: float = 5
) -> list[list[Sample]]:
    """``total_rows`` samples of ``series`` series every ``step`` s, in ``batch_rows`` batches."""
    keys = series_keys(series)
    samples: list[Sample] = []
    tick = 0
    while len(samples) < total_rows:
        ts = start + tick * step
        for index, (name, labels) in enumerate(keys):
            samples.append(Sample(ts, HOST, name, float((tick * 7 + index * 13) % 1000), labels))
        tick += 1
    samples = samples[:total_rows]
    return [samples[i : i + batch_rows] for i in range(0, total_rows, batch_rows)]


@dataclass(frozen=True)
class Rounds:
    """Times in seconds (wall, unless measured by another clock) of the rounds of one side
    of a comparison."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        """The median round."""
        return statistics.median(self.times)

    def range(self, scale: float = 1.0) -> tuple[float, float]:
        """Fastest and slowest round, times ``scale`` (1000 for milliseconds)."""
        return min(self.times) * scale, max(self.times) * scale

    def rate_range(self, work: float) -> tuple[float, float]:
        """Lowest and highest rate of the rounds that each did ``work`` (rows, records)."""
        return work / max(self.times), work / min(self.times)


def paired_rounds(
    ours: Callable[[], object],
    baseline: Callable[[], object],
    repeats: int,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[Rounds, Rounds]:
    """Times of ``ours`` and ``baseline`` run alternately after one unmeasured run of
    each, so that a noisy neighbour slows both alike instead of whichever happened to run
    at the time; wall time, or the seconds of another ``clock`` (``time.process_time``)."""
    ours(), baseline()
    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(repeats):
        for run, times in ((ours, mine), (baseline, theirs)):
            started = clock()
            run()
            times.append(clock() - started)
    return Rounds(tuple(mine)), Rounds(tuple(theirs))


def paired_medians(
    ours: Callable[[], object], baseline: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Median wall times of ``ours`` and ``baseline`` run alternately (see
    ``paired_rounds``)."""
    mine, theirs = paired_rounds(ours, baseline, repeats)
    return mine.median, theirs.median


def compared(
    benchmark: str,
    rounds: tuple[Rounds, Rounds],
    target: str,
    note: str = "",
    *,
    unit: str = "ms",
    scale: float | None = None,
) -> Result:
    """The result row of a timed comparison, medians and ranges in ``unit``: ms or s, or
    any other with the ``scale`` that turns a round's seconds into it (``1e6 / requests``
    for us/request)."""
    scale = {"ms": 1000.0, "s": 1.0}[unit] if scale is None else scale
    mine, theirs = rounds
    return Result(
        benchmark,
        mine.median * scale,
        theirs.median * scale,
        unit,
        target,
        note or f"median of {len(mine.times)} alternating rounds",
        ours_range=mine.range(scale),
        baseline_range=theirs.range(scale),
    )


def compared_rates(
    benchmark: str,
    rounds: tuple[Rounds, Rounds],
    work: float,
    unit: str,
    target: str,
    note: str = "",
) -> Result:
    """The result row of a timed comparison as throughputs: ``work`` (rows, records) per
    second of a round, medians and ranges; the higher the better."""
    mine, theirs = rounds
    return Result(
        benchmark,
        work / mine.median,
        work / theirs.median,
        unit,
        target,
        note or f"median of {len(mine.times)} alternating rounds",
        higher_is_better=True,
        ours_range=mine.rate_range(work),
        baseline_range=theirs.rate_range(work),
    )


def console_app(data_dir: Path, database_url: str):
    """A Pulseboard app on ``database_url`` without scheduler."""
    from app import create_app  # only the benchmarks that time the app load it
    from app.settings import Settings

    return create_app(
        Settings(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=None,
            secret_key=secrets.token_urlsafe(16),
            admin_password=secrets.token_urlsafe(16),
            start_scheduler=False,
            hostname=HOST,
        )
    )
