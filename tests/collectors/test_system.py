"""The system collector against the real host, and its rate maths with injected counters."""

from __future__ import annotations

import os
import time
from collections import namedtuple
from types import SimpleNamespace

import psutil
import pytest

from collectors.system import FIELDS, SystemCollector


def meminfo() -> dict[str, int]:
    """/proc/meminfo in bytes."""
    values = {}
    with open("/proc/meminfo") as fh:
        for line in fh:
            key, rest = line.split(":", 1)
            values[key] = int(rest.split()[0]) * 1024
    return values


@pytest.fixture(scope="module")
def host_samples():
    """Two real collections a fraction of a second apart; the second one's samples."""
    collector = SystemCollector("test-host")
    collector.collect(time.time())
    time.sleep(0.5)
    return collector.collect(time.time())


def one(samples, name, **labels):
    matches = [s for s in samples if s.name == name and dict(s.labels) == labels]
    assert len(matches) == 1, (name, labels, matches)
    return matches[0].value


def test_every_sample_is_a_declared_field_with_its_labels(host_samples):
    fields = {f.name: f for f in FIELDS}
    for sample in host_samples:
        assert sample.name in fields, sample.name
        assert tuple(sample.labels) == fields[sample.name].labels, sample
        assert sample.host == "test-host"


def test_memory_matches_proc_meminfo(host_samples):
    info = meminfo()
    assert one(host_samples, "system_memory_total_bytes") == info["MemTotal"]
    available = one(host_samples, "system_memory_available_bytes")
    assert abs(available - info["MemAvailable"]) < 0.05 * info["MemTotal"]
    percent = one(host_samples, "system_memory_used_percent")
    expected = 100 * (info["MemTotal"] - info["MemAvailable"]) / info["MemTotal"]
    assert abs(percent - expected) < 5


def test_root_disk_matches_statvfs(host_samples):
    st = os.statvfs("/")
    assert one(host_samples, "system_disk_total_bytes", mountpoint="/") == st.f_blocks * st.f_frsize
    free = one(host_samples, "system_disk_free_bytes", mountpoint="/")
    assert abs(free - st.f_bavail * st.f_frsize) < 512 * 2**20  # other writers may be busy
    assert 0 < one(host_samples, "system_disk_used_percent", mountpoint="/") < 100


def test_cpu_load_uptime_and_own_process(host_samples):
    assert one(host_samples, "system_cpu_count") == os.cpu_count()
    assert 0 <= one(host_samples, "system_cpu_usage_percent") <= 100
    cores = [s for s in host_samples if s.name == "system_cpu_core_usage_percent"]
    assert sorted(s.labels["cpu"] for s in cores) == [str(i) for i in range(os.cpu_count())]
    assert one(host_samples, "system_load1") == pytest.approx(os.getloadavg()[0], abs=1.0)
    with open("/proc/uptime") as fh:
        uptime = float(fh.read().split()[0])
    assert one(host_samples, "system_uptime_seconds") == pytest.approx(uptime, abs=5)
    rss = psutil.Process().memory_info().rss
    assert one(host_samples, "pulseboard_process_resident_memory_bytes") == pytest.approx(
        rss, rel=0.5
    )
    assert one(host_samples, "system_process_count") == pytest.approx(len(psutil.pids()), abs=20)


def test_rates_exist_per_interface_and_device(host_samples):
    interfaces = set(psutil.net_io_counters(pernic=True))
    seen = {
        s.labels["interface"]
        for s in host_samples
        if s.name == "system_network_receive_bytes_per_second"
    }
    assert seen == interfaces
    assert all(s.value >= 0 for s in host_samples if s.name.endswith("_per_second"))


# -- rate maths with injected counters and clock --------------------------------------------

CpuTimes = namedtuple("CpuTimes", "user system idle iowait")
Net = namedtuple("Net", "bytes_recv bytes_sent packets_recv packets_sent errin errout")
Disk = namedtuple("Disk", "read_bytes write_bytes read_count write_count")
Mem = namedtuple("Mem", "total used available percent")
Swap = namedtuple("Swap", "total used percent")
Usage = namedtuple("Usage", "total used free percent")
Part = namedtuple("Part", "device mountpoint fstype")


class FakeHost:
    """A psutil stand-in whose counters the test sets."""

    def __init__(self) -> None:
        self.cpu = [CpuTimes(10.0, 5.0, 85.0, 0.0)]
        self.net = Net(1000, 2000, 10, 20, 0, 0)
        self.disk = Disk(0, 0, 0, 0)

    def module(self) -> SimpleNamespace:
        return SimpleNamespace(
            cpu_times=lambda percpu: list(self.cpu),
            getloadavg=lambda: (0.5, 0.4, 0.3),
            virtual_memory=lambda: Mem(1000, 400, 600, 40.0),
            swap_memory=lambda: Swap(0, 0, 0.0),
            disk_partitions=lambda all: [Part("/dev/x", "/", "ext4")],
            disk_usage=lambda path: Usage(100, 25, 75, 25.0),
            disk_io_counters=lambda perdisk: {"vdx": self.disk},
            net_io_counters=lambda pernic: {"eth9": self.net},
            pids=lambda: [1, 2, 3],
            boot_time=lambda: 1000.0,
        )


class FakeProcess:
    """Pulseboard's own process, with CPU time the test sets."""

    def __init__(self) -> None:
        self.cpu = 1.0

    def oneshot(self):
        import contextlib

        return contextlib.nullcontext()

    def cpu_times(self):
        return SimpleNamespace(user=self.cpu, system=0.0)

    def memory_info(self):
        return SimpleNamespace(rss=123456)


@pytest.fixture
def fake():
    host, process = FakeHost(), FakeProcess()
    return host, process, SystemCollector("h", ps=host.module(), process=process)


def test_first_reading_has_gauges_but_no_rates(fake):
    _, _, collector = fake
    samples = collector.collect(2000.0)
    names = {s.name for s in samples}
    assert "system_memory_used_bytes" in names
    assert not any(n.endswith("_per_second") for n in names)
    assert "system_cpu_usage_percent" not in names
    assert one(samples, "system_uptime_seconds") == 1000.0


def test_rates_are_counter_deltas_over_elapsed_time(fake):
    host, process, collector = fake
    collector.collect(2000.0)
    host.net = Net(1000 + 5000, 2000 + 1000, 10 + 50, 20, 2, 0)
    host.disk = Disk(4096 * 10, 0, 10, 0)
    host.cpu = [CpuTimes(10.0 + 3.0, 5.0 + 1.0, 85.0 + 6.0, 0.0)]
    process.cpu = 1.5
    samples = collector.collect(2010.0)
    assert one(samples, "system_network_receive_bytes_per_second", interface="eth9") == 500.0
    assert one(samples, "system_network_transmit_bytes_per_second", interface="eth9") == 100.0
    assert one(samples, "system_network_receive_packets_per_second", interface="eth9") == 5.0
    assert one(samples, "system_network_receive_errors_per_second", interface="eth9") == 0.2
    assert one(samples, "system_disk_read_bytes_per_second", device="vdx") == 4096.0
    assert one(samples, "system_disk_read_ops_per_second", device="vdx") == 1.0
    assert one(samples, "system_cpu_usage_percent") == pytest.approx(40.0)  # 4 busy of 10
    assert one(samples, "pulseboard_process_cpu_usage_percent") == pytest.approx(5.0)


def test_a_counter_reset_counts_from_zero_instead_of_going_negative(fake):
    host, _, collector = fake
    host.net = Net(10_000, 0, 0, 0, 0, 0)
    collector.collect(100.0)
    host.net = Net(300, 0, 0, 0, 0, 0)  # interface re-created: counter restarted
    samples = collector.collect(110.0)
    assert one(samples, "system_network_receive_bytes_per_second", interface="eth9") == 30.0


def test_no_rate_when_the_clock_did_not_move(fake):
    _, _, collector = fake
    collector.collect(100.0)
    samples = collector.collect(100.0)
    assert not any(s.name.endswith("_per_second") for s in samples)
