"""Idle CPU of ``pulseboard serve``: % of one core over a quiet window, on SQLite and on
PostgreSQL, collecting every 1 s and every 5 s."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from sqlalchemy import create_engine, text

from bench.common import Result, pg_database

INTERVALS = (1, 5)
BACKENDS = ("sqlite", "postgresql")


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Poll ``url`` until it answers 200; raise if the server exits or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pulseboard serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU of ``process`` and its children."""
    total = 0.0
    for proc in [process, *process.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def stored_collections(database_url: str, start: float, end: float) -> int:
    """How many distinct collection timestamps the server stored between ``start`` and ``end``."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT COUNT(DISTINCT ts) FROM metric_samples "
                        "WHERE ts >= :start AND ts < :end"
                    ),
                    {"start": start, "end": end},
                ).scalar_one()
            )
    finally:
        engine.dispose()


@dataclass
class Server:
    """One running ``pulseboard serve`` and what it was started with."""

    backend: str
    interval: int
    database_url: str
    process: subprocess.Popen
    port: int


@contextmanager
def serve(backend: str, interval: int, data_dir: Path, database_url: str) -> Iterator[Server]:
    """A ``pulseboard serve`` on ``database_url`` collecting every ``interval`` s, with the
    in-process bus; stopped afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "PULSEBOARD_DATA_DIR": str(data_dir),
        "PULSEBOARD_COLLECT_INTERVAL": str(interval),
        "PULSEBOARD_ADMIN_PASSWORD": "bench-admin-password",
        "PULSEBOARD_DATABASE_URL": database_url,
    }
    env.pop("PULSEBOARD_REDIS_URL", None)
    cli = Path(sys.executable).with_name("pulseboard")
    with (data_dir / "serve.log").open("wb") as out:
        process = subprocess.Popen(
            [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Server(backend, interval, database_url, process, port)
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(quick: bool = False) -> list[Result]:
    """Start one server per backend and interval (quick: two, covering both of each), warm
    them up, then measure each one's CPU over the same window (they run side by side:
    idle, they barely compete)."""
    warmup, window = (1.0, 5.0) if quick else (10.0, 60.0)
    configs = [(b, i) for b in BACKENDS for i in INTERVALS]
    if quick:  # each backend and each interval once: server start-ups are most of the time
        configs = list(zip(BACKENDS, INTERVALS, strict=True))
    with ExitStack() as stack:
        servers = []
        for backend, interval in configs:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_idle_")))
            url = (
                stack.enter_context(pg_database())
                if backend == "postgresql"
                else f"sqlite:///{data_dir / 'pulseboard.db'}"
            )
            servers.append(stack.enter_context(serve(backend, interval, data_dir, url)))
        for server in servers:
            wait_healthy(f"http://127.0.0.1:{server.port}/healthz", server.process)
        time.sleep(warmup)
        processes = [psutil.Process(s.process.pid) for s in servers]
        before, wall_before = [cpu_seconds(p) for p in processes], time.time()
        time.sleep(window)
        after, wall_after = [cpu_seconds(p) for p in processes], time.time()
        collections = [stored_collections(s.database_url, wall_before, wall_after) for s in servers]
        for server in servers:  # all at once: each takes a second or more to stop
            server.process.terminate()
    results = []
    for server, cpu_before, cpu_after, stored in zip(
        servers, before, after, collections, strict=True
    ):
        percent = 100.0 * (cpu_after - cpu_before) / (wall_after - wall_before)
        results.append(
            Result(
                f"idle `pulseboard serve` CPU, {server.backend}, collection every "
                f"{server.interval} s",
                percent,
                None,
                "% of one core",
                "< 2 %",
                f"in-process bus, {len(servers)} servers side by side; {warmup:g} s warm-up, "
                f"{window:g} s window ({stored} collections stored in it)",
            )
        )
    return results
