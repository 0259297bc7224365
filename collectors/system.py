"""Host health from psutil: CPU, load, memory, swap, disks, network, processes, uptime."""

from __future__ import annotations

import os
import types

import psutil

from collectors.base import Field, RateTracker, Sample

IGNORED_FILESYSTEMS = frozenset({"squashfs", "tmpfs", "devtmpfs", "overlay", "iso9660", "nsfs"})
IGNORED_DISK_PREFIXES = ("loop", "ram")

FIELDS: tuple[Field, ...] = (
    Field("system_cpu_usage_percent", "percent", "CPU busy time across all cores"),
    Field("system_cpu_core_usage_percent", "percent", "CPU busy time per core", labels=("cpu",)),
    Field("system_cpu_count", "cores", "Logical CPU cores"),
    Field("system_load1", "processes", "Load average over 1 minute"),
    Field("system_load5", "processes", "Load average over 5 minutes"),
    Field("system_load15", "processes", "Load average over 15 minutes"),
    Field("system_memory_total_bytes", "bytes", "Physical memory"),
    Field("system_memory_used_bytes", "bytes", "Memory in use (not free, buffers or cache)"),
    Field("system_memory_available_bytes", "bytes", "Memory available to new processes"),
    Field("system_memory_used_percent", "percent", "Share of memory not available"),
    Field("system_swap_total_bytes", "bytes", "Swap space"),
    Field("system_swap_used_bytes", "bytes", "Swap in use"),
    Field("system_swap_used_percent", "percent", "Share of swap in use"),
    Field("system_disk_total_bytes", "bytes", "Filesystem size", labels=("mountpoint",)),
    Field("system_disk_used_bytes", "bytes", "Filesystem space used", labels=("mountpoint",)),
    Field("system_disk_free_bytes", "bytes", "Filesystem space free", labels=("mountpoint",)),
    Field("system_disk_used_percent", "percent", "Filesystem usage", labels=("mountpoint",)),
    Field("system_disk_read_bytes_per_second", "bytes/s", "Disk reads", labels=("device",)),
    Field("system_disk_write_bytes_per_second", "bytes/s", "Disk writes", labels=("device",)),
    Field("system_disk_read_ops_per_second", "ops/s", "Disk read operations", labels=("device",)),
    Field("system_disk_write_ops_per_second", "ops/s", "Disk write operations", labels=("device",)),
    Field(
        "system_network_receive_bytes_per_second",
        "bytes/s",
        "Bytes received",
        labels=("interface",),
    ),
    Field(
        "system_network_transmit_bytes_per_second", "bytes/s", "Bytes sent", labels=("interface",)
    ),
    Field(
        "system_network_receive_packets_per_second",
        "packets/s",
        "Packets received",
        labels=("interface",),
    ),
    Field(
        "system_network_transmit_packets_per_second",
        "packets/s",
        "Packets sent",
        labels=("interface",),
    ),
    Field(
        "system_network_receive_errors_per_second",
        "errors/s",
        "Receive errors",
        labels=("interface",),
    ),
    Field(
        "system_network_transmit_errors_per_second",
        "errors/s",
        "Transmit errors",
        labels=("interface",),
    ),
    Field("system_process_count", "processes", "Processes on the host"),
    Field("system_uptime_seconds", "seconds", "Time since boot"),
    Field(
        "pulseboard_process_cpu_usage_percent",
        "percent",
        "CPU used by the Pulseboard process (100 = one core)",
    ),
    Field(
        "pulseboard_process_resident_memory_bytes",
        "bytes",
        "Resident memory of the Pulseboard process",
    ),
)

_DISK_RATES = (
    ("read_bytes", "system_disk_read_bytes_per_second"),
    ("write_bytes", "system_disk_write_bytes_per_second"),
    ("read_count", "system_disk_read_ops_per_second"),
    ("write_count", "system_disk_write_ops_per_second"),
)
_NET_RATES = (
    ("bytes_recv", "system_network_receive_bytes_per_second"),
    ("bytes_sent", "system_network_transmit_bytes_per_second"),
    ("packets_recv", "system_network_receive_packets_per_second"),
    ("packets_sent", "system_network_transmit_packets_per_second"),
    ("errin", "system_network_receive_errors_per_second"),
    ("errout", "system_network_transmit_errors_per_second"),
)


class SystemCollector:
    """Samples of the host and of Pulseboard's own process.

    ``ps`` is the psutil module (or a stand-in with the same functions) and ``process`` the
    process to report as Pulseboard's own.
    """

    name = "system"
    fields = FIELDS

    def __init__(
        self,
        host: str,
        ps: types.ModuleType = psutil,
        process: psutil.Process | None = None,
    ) -> None:
        self.host = host
        self._ps = ps
        self._process = process or ps.Process(os.getpid())
        self._rates = RateTracker()

    def collect(self, now: float) -> list[Sample]:
        """One reading of every field; rates appear from the second reading on."""
        out: list[Sample] = []

        def add(name: str, value: float | None, **labels: str) -> None:
            if value is not None:
                out.append(Sample(now, self.host, name, float(value), labels))

        ps = self._ps
        self._cpu(now, add)
        load1, load5, load15 = ps.getloadavg()
        add("system_load1", load1)
        add("system_load5", load5)
        add("system_load15", load15)

        mem = ps.virtual_memory()
        add("system_memory_total_bytes", mem.total)
        add("system_memory_used_bytes", mem.used)
        add("system_memory_available_bytes", mem.available)
        add("system_memory_used_percent", mem.percent)
        swap = ps.swap_memory()
        add("system_swap_total_bytes", swap.total)
        add("system_swap_used_bytes", swap.used)
        add("system_swap_used_percent", swap.percent)

        for mountpoint in self._mountpoints():
            try:
                usage = ps.disk_usage(mountpoint)
            except OSError:
                continue  # unmounted between listing and reading
            add("system_disk_total_bytes", usage.total, mountpoint=mountpoint)
            add("system_disk_used_bytes", usage.used, mountpoint=mountpoint)
            add("system_disk_free_bytes", usage.free, mountpoint=mountpoint)
            add("system_disk_used_percent", usage.percent, mountpoint=mountpoint)

        for device, counters in (ps.disk_io_counters(perdisk=True) or {}).items():
            if device.startswith(IGNORED_DISK_PREFIXES):
                continue
            for attr, name in _DISK_RATES:
                add(
                    name,
                    self._rates.rate((name, device), now, getattr(counters, attr)),
                    device=device,
                )

        for interface, counters in (ps.net_io_counters(pernic=True) or {}).items():
            for attr, name in _NET_RATES:
                add(
                    name,
                    self._rates.rate((name, interface), now, getattr(counters, attr)),
                    interface=interface,
                )

        add("system_process_count", len(ps.pids()))
        add("system_uptime_seconds", max(0.0, now - ps.boot_time()))
        self._own_process(now, add)
        return out

    def _cpu(self, now: float, add) -> None:
        per_core = self._ps.cpu_times(percpu=True)
        add("system_cpu_count", len(per_core))
        busy_total = idle_total = 0.0
        for index, times in enumerate(per_core):
            idle = times.idle + getattr(times, "iowait", 0.0)
            # Linux counts guest time inside user time as well; don't count it twice.
            guest = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
            busy = sum(times) - idle - guest
            busy_total += busy
            idle_total += idle
            add(
                "system_cpu_core_usage_percent",
                self._busy_percent(("cpu", index), now, busy, idle),
                cpu=str(index),
            )
        add("system_cpu_usage_percent", self._busy_percent("cpu", now, busy_total, idle_total))

    def _busy_percent(self, key, now: float, busy: float, idle: float) -> float | None:
        busy_rate = self._rates.rate((key, "busy"), now, busy)
        idle_rate = self._rates.rate((key, "idle"), now, idle)
        if busy_rate is None or idle_rate is None or busy_rate + idle_rate <= 0:
            return None
        return min(100.0, 100.0 * busy_rate / (busy_rate + idle_rate))

    def _own_process(self, now: float, add) -> None:
        with self._process.oneshot():
            times = self._process.cpu_times()
            rss = self._process.memory_info().rss
        cpu_rate = self._rates.rate("own_cpu", now, times.user + times.system)
        add("pulseboard_process_cpu_usage_percent", None if cpu_rate is None else 100.0 * cpu_rate)
        add("pulseboard_process_resident_memory_bytes", rss)

    def _mountpoints(self) -> list[str]:
        seen_devices: set[str] = set()
        mountpoints: set[str] = set()
        for part in self._ps.disk_partitions(all=False):
            if part.fstype in IGNORED_FILESYSTEMS or part.device in seen_devices:
                continue
            seen_devices.add(part.device)
            mountpoints.add(part.mountpoint)
        mountpoints.add("/")  # in containers the root filesystem may be an overlay
        return sorted(mountpoints)
