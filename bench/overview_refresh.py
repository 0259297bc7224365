"""The Overview's chart refresh end to end (the Dash request that redraws every chart:
its queries, figures and JSON response) vs the same data queries alone, over 24 h of 60
series collected every second, on both backends."""

from __future__ import annotations

import math
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app import create_app
from app.services import overview
from app.services.timerange import RANGES
from app.settings import Settings
from bench.common import HOST, Result, compared, paired_rounds, pg_database
from bench.dash_calls import DASH_UPDATE, dash_request, reader_client
from storage.metrics import MetricsStore, Sample

RANGE = "24h"
TARGET = "<= 1.5x"
INTERFACES = ("lo", "eth0", "eth1", "eth2", "bond0", "docker0", "veth1", "veth2")
MOUNTS = ("/", "/boot", "/home", "/var", "/var/lib/postgresql", "/srv", "/tmp", "/opt", "/data")
SERIES: tuple[tuple[str, dict[str, str]], ...] = (
    ("system_cpu_usage_percent", {}),
    ("system_memory_used_percent", {}),
    ("system_swap_used_percent", {}),
    *(("system_disk_used_percent", {"mountpoint": m}) for m in MOUNTS),
    *(
        (f"system_network_{way}_bytes_per_second", {"interface": i})
        for i in INTERFACES
        for way in ("receive", "transmit")
    ),
    ("http_requests_per_second", {}),
    *(
        ("http_request_duration_seconds", {"quantile": q})
        for q in ("0.5", "0.9", "0.95", "0.99", "0.999")
    ),
    ("http_request_errors_ratio", {}),
    *(
        ("pg_connections", {"state": s})
        for s in (
            "active",
            "idle",
            "idle in transaction",
            "idle in transaction (aborted)",
            "fastpath function call",
            "disabled",
        )
    ),
    ("pg_max_connections", {}),
    ("pg_commits_per_second", {}),
    ("pg_rollbacks_per_second", {}),
    ("pg_cache_hit_ratio", {}),
    ("pg_waiting_locks", {}),
    ("pulseboard_db_pool_checked_out", {}),
    ("pulseboard_db_pool_size", {}),
    *(
        (name, {"target": target})
        for target in ("cache", "queue")
        for name in (
            "redis_memory_used_bytes",
            "redis_memory_max_bytes",
            "redis_commands_per_second",
            "redis_keyspace_hit_ratio",
            "redis_connected_clients",
            "redis_blocked_clients",
        )
    ),
)
"""60 series over every Overview chart: a host with many disks and interfaces, a
PostgreSQL and two Redis servers watched."""


def load(store: MetricsStore, interval: float, now: float) -> int:
    """24 h of ``SERIES`` every ``interval`` seconds up to ``now``, rolled up as the
    leader does; return the samples written."""
    start = now - RANGES[RANGE]
    ticks = int(RANGES[RANGE] / interval)
    written = 0
    batch: list[Sample] = []
    for tick in range(ticks + 1):
        ts = start + tick * interval
        for index, (name, labels) in enumerate(SERIES):
            wave = 0.5 + 0.4 * math.sin(tick / 900 + index)
            batch.append(Sample(ts, HOST, name, _value(name, wave, tick + index), labels))
        if len(batch) >= 50_000:
            written += store.write(batch)
            batch = []
    written += store.write(batch)
    store.rollup(now)
    return written


def _value(name: str, wave: float, seed: int) -> float:
    """A value of the kind ``name`` holds, varying with ``wave`` (0.1 to 0.9)."""
    noise = (seed * 7919 % 1000) / 10_000
    if name.endswith("_percent"):
        return 100 * (wave + noise)
    if name.endswith("_ratio"):
        return min(1.0, wave + noise)
    if name.endswith("_bytes"):
        return 2**30 * (wave + noise)
    return 100 * (wave + noise)


def request(app) -> dict:
    """The Dash request the browser sends when the refresh timer fires on the 24 h preset."""
    values = {
        "overview-range.value": RANGE,
        "overview-refresh.n_intervals": 1,
        "overview-host.value": "",
        "theme-store.data": "light",
    }
    return dash_request(app, "overview-figures.data", values, "overview-refresh.n_intervals")


@contextmanager
def served(database_url: str | None) -> Iterator[object]:
    """A Pulseboard app on ``database_url`` (a SQLite file when None), scheduler off."""
    with tempfile.TemporaryDirectory(prefix="bench_overview_") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=database_url or f"sqlite:///{tmp}/bench.db",
            redis_url=None,
            secret_key=secrets.token_urlsafe(16),
            admin_password="bench-password-1",
            start_scheduler=False,
            hostname=HOST,
            collect_interval=1,
        )
        app = create_app(settings)
        try:
            yield app
        finally:
            app.server.extensions["pulseboard"].close()


def measure(app, interval: float, repeats: int, backend: str) -> Result:
    """Time the refresh request against its queries alone on ``app``'s store."""
    rt = app.server.extensions["pulseboard"]
    samples = load(rt.metrics, interval, time.time())
    call, body = reader_client(app), request(app)

    def ours() -> bytes:
        return call(body)

    def baseline() -> list:
        now = time.time()
        start, end = now - RANGES[RANGE], now
        shown = overview.available_charts(rt)
        return [
            overview.chart_series(rt, spec, start, end, None)
            for spec in overview.CHARTS
            if spec.key in shown
        ]

    size = len(ours())
    points = sum(len(s.points) for series in baseline() for s in series)
    rounds = paired_rounds(ours, baseline, repeats)
    return compared(
        f"overview refresh 24 h, 60 series ({backend})",
        rounds,
        TARGET,
        f"overview_refresh: POST {DASH_UPDATE} of the chart refresh (auth, queries, "
        f"figures, JSON; {size / 1024:,.0f} KiB, {points:,} points) vs the callback's "
        f"queries alone (available_charts + chart_series per chart); {samples:,} samples "
        f"every {interval:g} s; median of {repeats} alternating rounds",
    )


def run(quick: bool = False) -> list[Result]:
    """The refresh vs its queries on SQLite and PostgreSQL."""
    interval, repeats = (120.0, 3) if quick else (1.0, 15)
    results = []
    with served(None) as app:
        results.append(measure(app, interval, repeats, "sqlite"))
    with pg_database() as url, served(url) as app:
        results.append(measure(app, interval, repeats, "postgresql"))
    return results
