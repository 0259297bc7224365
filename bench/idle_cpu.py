"""Idle CPU of ``pulseboard serve``: % of one core over a quiet measurement window."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import closing
from pathlib import Path

import psutil

from bench.common import Result

INTERVAL = 5


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


def stored_collections(db: Path, start: float, end: float) -> int:
    """How many distinct collection timestamps the server stored between ``start`` and ``end``."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        row = conn.execute(
            "SELECT COUNT(DISTINCT ts) FROM metric_samples WHERE ts >= ? AND ts < ?", (start, end)
        ).fetchone()
    return int(row[0])


def run(quick: bool = False) -> list[Result]:
    """Start the server, warm it up, then measure its CPU over the window."""
    warmup, window = (2.0, 10.0) if quick else (10.0, 60.0)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench_idle_") as tmp:
        env = {
            **os.environ,
            "PULSEBOARD_DATA_DIR": tmp,
            "PULSEBOARD_COLLECT_INTERVAL": str(INTERVAL),
            "PULSEBOARD_ADMIN_PASSWORD": "bench-admin-password",
        }
        for key in ("PULSEBOARD_DATABASE_URL", "PULSEBOARD_REDIS_URL"):
            env.pop(key, None)
        cli = Path(sys.executable).with_name("pulseboard")
        log = Path(tmp) / "serve.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_healthy(f"http://127.0.0.1:{port}/healthz", server)
            time.sleep(warmup)
            process = psutil.Process(server.pid)
            cpu_before, wall_before = cpu_seconds(process), time.time()
            time.sleep(window)
            cpu_after, wall_after = cpu_seconds(process), time.time()
            collections = stored_collections(Path(tmp) / "pulseboard.db", wall_before, wall_after)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    percent = 100.0 * (cpu_after - cpu_before) / (wall_after - wall_before)
    return [
        Result(
            "idle `pulseboard serve` CPU",
            percent,
            None,
            "% of one core",
            "< 2 %",
            f"SQLite, in-process bus, collection every {INTERVAL} s; {warmup:g} s warm-up, "
            f"{window:g} s window ({collections} collections stored in it)",
        )
    ]
