"""Resident memory of an idle ``pulseboard serve`` on SQLite, and where it goes.

The server runs as gunicorn's master and one worker; both are read from
``/proc/PID/status``. The breakdown (full run only) imports the app in a fresh
interpreter with every module load timed in RSS: each top-level package is charged what
its own modules' loading added, less what the imports nested in them added (charged to
their own packages); building the app (on a database migrated beforehand, as ``serve``
does) comes last.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Result
from bench.idle_cpu import free_port, wait_healthy

TARGET = "<= 130 MiB"
SHOWN = 20
"""Packages listed by name in the breakdown; the rest are summed in one line."""

_MEASURE = """
import json
import _frozen_importlib as bootstrap

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

charged = {"python": rss()}
nested = [0.0]
load = bootstrap._load_unlocked

def measured_load(spec):
    nested.append(0.0)
    before = rss()
    try:
        return load(spec)
    finally:
        grown = rss() - before
        package = spec.name.split(".")[0]
        charged[package] = charged.get(package, 0.0) + grown - nested.pop()
        nested[-1] += grown

bootstrap._load_unlocked = measured_load
import app.server
from app import create_app
from app.settings import Settings
bootstrap._load_unlocked = load
before = rss()
create_app(Settings.from_env(start_scheduler=False))
charged["create_app (stores, collectors, Dash layout)"] = rss() - before
print(json.dumps(list(charged.items())))
"""


def _kib_field(path: str, key: str) -> float:
    for line in Path(path).read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} in {path}")


def rss_mib(pid: int) -> float:
    """VmRSS of process ``pid`` in MiB."""
    return _kib_field(f"/proc/{pid}/status", "VmRSS:")


def pss_mib(pid: int) -> float:
    """Proportional set size of process ``pid`` in MiB: pages it shares with another
    process (gunicorn's master and its forked worker) counted by half."""
    return _kib_field(f"/proc/{pid}/smaps_rollup", "Pss:")


def children(pid: int) -> list[int]:
    """The child processes of ``pid``."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def threads(pid: int) -> int:
    """How many threads process ``pid`` runs."""
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def _cli() -> Path:
    return Path(sys.executable).with_name("pulseboard")


def serve_env(data_dir: str) -> dict[str, str]:
    """The environment of a ``pulseboard serve`` on a fresh SQLite data dir."""
    env = {
        **os.environ,
        "PULSEBOARD_DATA_DIR": data_dir,
        "PULSEBOARD_ADMIN_PASSWORD": "bench-admin-password",
    }
    for key in ("PULSEBOARD_DATABASE_URL", "PULSEBOARD_REDIS_URL"):
        env.pop(key, None)
    return env


def idle_server(idle: float) -> dict[str, float]:
    """RSS of master and worker(s) of a ``pulseboard serve`` idle for ``idle`` seconds
    after it first answered, their summed PSS and the worker's thread count."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench_rss_") as tmp:
        with (Path(tmp) / "serve.log").open("wb") as out:
            server = subprocess.Popen(
                [str(_cli()), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=serve_env(tmp),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_healthy(f"http://127.0.0.1:{port}/healthz", server)
            time.sleep(idle)
            workers = children(server.pid)
            figures = {
                "master": rss_mib(server.pid),
                "worker": sum(rss_mib(w) for w in workers),
                "pss": pss_mib(server.pid) + sum(pss_mib(w) for w in workers),
                "worker_threads": sum(threads(w) for w in workers),
            }
        finally:
            server.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: nothing to drain
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    return figures


def breakdown() -> list[tuple[str, float]]:
    """RSS growth in MiB charged to each top-level package, then to building the app."""
    with tempfile.TemporaryDirectory(prefix="bench_rss_") as tmp:
        # As under ``serve``, the worker builds the app on a database migrated before it.
        subprocess.run(
            [str(_cli()), "db", "upgrade"], env=serve_env(tmp), check=True, capture_output=True
        )
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE],
            capture_output=True,
            text=True,
            env=serve_env(tmp),
        )
    if done.returncode:
        raise RuntimeError(f"measuring the imports failed: {done.stderr[-2000:]}")
    return [tuple(step) for step in json.loads(done.stdout.splitlines()[-1])]


def breakdown_table(steps: list[tuple[str, float]]) -> str:
    """The breakdown as text, biggest first, small packages summed."""
    (base, python), *rest = steps
    ranked = sorted(rest, key=lambda step: -step[1])
    lines = [f"{python:7.1f} MiB  {base} (interpreter at start)"]
    lines += [f"{mib:7.1f} MiB  {name}" for name, mib in ranked[:SHOWN]]
    others = ranked[SHOWN:]
    lines.append(f"{sum(m for _, m in others):7.1f} MiB  {len(others)} other packages")
    lines.append(f"{python + sum(m for _, m in rest):7.1f} MiB  total")
    return "\n".join(lines)


def run(quick: bool = False) -> list[Result]:
    """RSS of an idle server (worker, master, both) and the breakdown by package."""
    idle = 1.0 if quick else 15.0
    figures = idle_server(idle)
    if not quick:
        print("RSS by package (what its own modules' loading added):", file=sys.stderr)
        print(breakdown_table(breakdown()), file=sys.stderr)
    note = (
        f"idle `pulseboard serve` on SQLite, {idle:g} s after /healthz first answered; "
        f"worker runs {figures['worker_threads']:.0f} threads"
    )
    rows = (
        ("worker (serves and collects)", figures["worker"], TARGET),
        ("master", figures["master"], "report"),
        ("master + worker", figures["master"] + figures["worker"], "report"),
    )
    return [
        *(
            Result(f"idle serve RSS, {what}", mib, None, "MiB", target, note)
            for what, mib, target in rows
        ),
        Result(
            "idle serve PSS, master + worker (shared pages split)",
            figures["pss"],
            None,
            "MiB",
            "report",
            note,
        ),
    ]
