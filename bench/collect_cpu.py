"""CPU time of one ``SystemCollector.collect`` vs a bare loop making the same psutil calls."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import psutil

from bench.common import HOST, Result, compared, paired_rounds
from collectors.system import IGNORED_FILESYSTEMS, SystemCollector

TARGET = "ratio <= 1.3"


def bare_collection(process: psutil.Process) -> Callable[[], None]:
    """One round of the psutil calls ``SystemCollector.collect`` makes, results unused."""

    def collect() -> None:
        psutil.cpu_times(percpu=True)
        psutil.getloadavg()
        psutil.virtual_memory()
        psutil.swap_memory()
        # The mountpoints the collector reads: no pseudo filesystems, one per device.
        mountpoints, devices = {"/"}, set()
        for part in psutil.disk_partitions(all=False):
            if part.fstype in IGNORED_FILESYSTEMS or part.device in devices:
                continue
            devices.add(part.device)
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


def calls(run: Callable[[], object], iterations: int) -> Callable[[], None]:
    """``iterations`` calls of ``run``."""

    def batch() -> None:
        for _ in range(iterations):
            run()

    return batch


def run(quick: bool = False) -> list[Result]:
    """One result row: CPU ms per collection, ours vs bare psutil."""
    iterations, repeats = (20, 5) if quick else (200, 15)
    process = psutil.Process(os.getpid())
    collector = SystemCollector(HOST, process=process)
    clock = iter(range(2, 10**9))
    collector.collect(0.0)
    samples = len(collector.collect(1.0))  # rates appear from the second reading on

    def ours() -> None:
        collector.collect(float(next(clock)))

    rounds = paired_rounds(
        calls(ours, iterations),
        calls(bare_collection(process), iterations),
        repeats,
        clock=time.process_time,
    )
    return [
        compared(
            "system collection CPU time",
            rounds,
            TARGET,
            f"time.process_time, median of {repeats} alternating rounds of {iterations} "
            f"collections; {samples} samples per collection; baseline: bare loop of the same "
            "psutil calls",
            unit="ms CPU",
            scale=1000 / iterations,
        )
    ]
