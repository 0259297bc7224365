"""What the Overview page shows: health cards and the system charts over a range."""

from __future__ import annotations

from dataclasses import dataclass

from app.runtime import Runtime
from app.services.health import check_health
from storage.metrics import SeriesData, labels_key

RANGES: dict[str, int] = {"15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800}
DEFAULT_RANGE = "1h"
CHART_POINTS = 600  # about one point per horizontal pixel of a half-width chart


@dataclass(frozen=True)
class Card:
    """One health card: a title, a value, a detail line and a status colour."""

    key: str
    title: str
    value: str
    detail: str
    status: str  # ok, degraded, down or unknown


@dataclass(frozen=True)
class ChartSpec:
    """Which metrics a chart plots, its unit and which label set names each line."""

    key: str
    title: str
    metrics: tuple[str, ...]
    unit: str
    exclude: tuple[tuple[str, str], ...] = ()


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("cpu", "CPU", ("system_cpu_usage_percent",), "%"),
    ChartSpec("memory", "Memory", ("system_memory_used_percent", "system_swap_used_percent"), "%"),
    ChartSpec("disk", "Disk usage", ("system_disk_used_percent",), "%"),
    ChartSpec(
        "network",
        "Network",
        ("system_network_receive_bytes_per_second", "system_network_transmit_bytes_per_second"),
        "B/s",
        exclude=(("interface", "lo"),),
    ),
)

_SHORT_NAMES = {
    "system_cpu_usage_percent": "cpu",
    "system_memory_used_percent": "memory",
    "system_swap_used_percent": "swap",
    "system_disk_used_percent": "used",
    "system_network_receive_bytes_per_second": "rx",
    "system_network_transmit_bytes_per_second": "tx",
}

_THRESHOLDS = {  # metric -> (degraded at, down at)
    "system_cpu_usage_percent": (80.0, 95.0),
    "system_memory_used_percent": (85.0, 95.0),
    "system_disk_used_percent": (90.0, 98.0),
}


def trace_key(name: str, labels: dict[str, str]) -> str:
    """The id a live sample and a chart line share: metric name and canonical labels."""
    return f"{name}|{labels_key(labels)}"


def trace_label(name: str, labels: dict[str, str], host: str, many_hosts: bool) -> str:
    """A short legend label such as ``rx eth0`` or ``used /``."""
    parts = [_SHORT_NAMES.get(name, name), *labels.values()]
    if many_hosts:
        parts.append(f"@{host}")
    return " ".join(parts)


def _level(name: str, value: float) -> str:
    degraded, down = _THRESHOLDS[name]
    return "down" if value >= down else "degraded" if value >= degraded else "ok"


def humanize_seconds(seconds: float) -> str:
    """``3d 4h``, ``5h 12m`` or ``42m``."""
    minutes = int(seconds // 60)
    days, rem = divmod(minutes, 1440)
    hours, mins = divmod(rem, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"


def health_cards(rt: Runtime, now: float) -> list[Card]:
    """Cards for the database, Redis, scheduler, CPU, memory, disk and uptime."""
    health = check_health(rt, now)["components"]
    cards = []
    db = health["database"]
    cards.append(
        Card(
            "database",
            "Database",
            db["status"].upper(),
            db["detail"] or f"{db['info']['dialect']} · {db['info'].get('latency_ms', '?')} ms",
            db["status"],
        )
    )
    redis = health["redis"]
    cards.append(
        Card(
            "redis",
            "Redis",
            redis["status"].upper(),
            redis["detail"] or "live bus connected",
            redis["status"],
        )
    )
    sched = health["scheduler"]
    cards.append(
        Card(
            "scheduler",
            "Scheduler",
            sched["status"].upper(),
            sched["detail"] or f"this process is {sched['info'].get('role', 'idle')}",
            sched["status"],
        )
    )

    latest = {}
    for value in rt.metrics.latest(
        names=[
            "system_cpu_usage_percent",
            "system_memory_used_percent",
            "system_memory_used_bytes",
            "system_memory_total_bytes",
            "system_disk_used_percent",
            "system_uptime_seconds",
            "system_cpu_count",
        ],
        host=rt.settings.hostname,
    ):
        latest[(value.name, labels_key(value.labels))] = value.value

    def metric_card(key: str, title: str, name: str, labels: str, detail: str) -> Card:
        value = latest.get((name, labels))
        if value is None:
            return Card(key, title, "—", "no data yet", "unknown")
        return Card(key, title, f"{value:.1f}%", detail, _level(name, value))

    cores = latest.get(("system_cpu_count", "{}"))
    cards.append(
        metric_card(
            "cpu", "CPU", "system_cpu_usage_percent", "{}", f"{int(cores)} cores" if cores else ""
        )
    )
    used, total = (
        latest.get(("system_memory_used_bytes", "{}")),
        latest.get(("system_memory_total_bytes", "{}")),
    )
    cards.append(
        metric_card(
            "memory",
            "Memory",
            "system_memory_used_percent",
            "{}",
            f"{used / 2**30:.1f} of {total / 2**30:.1f} GiB" if used and total else "",
        )
    )
    cards.append(
        metric_card(
            "disk",
            "Disk /",
            "system_disk_used_percent",
            labels_key({"mountpoint": "/"}),
            "root filesystem",
        )
    )
    uptime = latest.get(("system_uptime_seconds", "{}"))
    cards.append(
        Card(
            "uptime",
            "Uptime",
            humanize_seconds(uptime) if uptime is not None else "—",
            rt.settings.hostname,
            "ok" if uptime is not None else "unknown",
        )
    )
    return cards


def chart_series(
    rt: Runtime, spec: ChartSpec, range_key: str, now: float, host: str | None = None
) -> list[SeriesData]:
    """The series one chart plots over the named range."""
    span = RANGES.get(range_key, RANGES[DEFAULT_RANGE])
    data = rt.metrics.query(list(spec.metrics), now - span, now, host=host, max_points=CHART_POINTS)
    return [s for s in data if not any(s.labels.get(k) == v for k, v in spec.exclude)]
