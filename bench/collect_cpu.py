"""CPU time of one ``SystemCollector.collect`` vs a bare loop making the same psutil calls."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import psutil

from bench.common import HOST, Result
from collectors.system import SystemCollector

TARGET = "ratio <= 1.3"


def bare_collection(process: psutil.Process) -> Callable[[], None]:
    """One round of the psutil calls ``SystemCollector.collect`` makes, results unused."""

    def collect() -> None:
        psutil.cpu_times(percpu=True)
        psutil.getloadavg()
        psutil.virtual_memory()
        psutil.swap_memory()
        mountpoints = {"/"}
        for part in psutil.disk_partitions(all=False):
            mountpoints.add(part.mountpoint)
        for mountpoint in sorted(mountpoints):
            try:
                psutil.disk_usage(mountpoint)
            except OSError:
                continue
        psutil.disk_io_counters(perdisk=True)
        psutil.net_io_counters(pernic=True)
        len(psutil.pids())
        psutil.boot_time()
        with process.oneshot():
            process.cpu_times()
            process.memory_info()

    return collect


def cpu_per_call(run: Callable[[], object], iterations: int) -> float:
    """Process CPU seconds per call of ``run``, best of three rounds."""
    run()
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(iterations):
            run()
        best = min(best, (time.process_time() - started) / iterations)
    return best


def run(quick: bool = False) -> list[Result]:
    """One result row: CPU ms per collection, ours vs bare psutil."""
    iterations = 50 if quick else 1000
    process = psutil.Process(os.getpid())
    collector = SystemCollector(HOST, process=process)
    clock = iter(range(2, 10**9))
    collector.collect(0.0)
    samples = len(collector.collect(1.0))  # rates appear from the second reading on

    def ours() -> None:
        collector.collect(float(next(clock)))

    ours_cpu = cpu_per_call(ours, iterations)
    base_cpu = cpu_per_call(bare_collection(process), iterations)
    return [
        Result(
            "system collection CPU time",
            ours_cpu * 1000,
            base_cpu * 1000,
            "ms CPU",
            TARGET,
            f"time.process_time, best of 3 x {iterations} iterations; "
            f"{samples} samples per collection; baseline: bare loop of the same psutil calls",
        )
    ]
