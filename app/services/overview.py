"""What the Overview page shows: health cards and the system charts over a range."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from app.runtime import Runtime
from app.services.health import check_health
from storage.metrics import SeriesData, labels_key

RANGES: dict[str, int] = {"15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800}
DEFAULT_RANGE = "1h"
CHART_POINTS = 600  # about one point per horizontal pixel of a half-width chart


CARD_TITLES: tuple[tuple[str, str], ...] = (
    ("database", "Database"),
    ("redis", "Redis"),
    ("scheduler", "Scheduler"),
    ("cpu", "CPU"),
    ("memory", "Memory"),
    ("disk", "Disk /"),
    ("uptime", "Uptime"),
)
CARD_KEYS = tuple(key for key, _ in CARD_TITLES)


CARD_METRICS = (
    "system_cpu_usage_percent",
    "system_memory_used_percent",
    "system_memory_used_bytes",
    "system_memory_total_bytes",
    "system_disk_used_percent",
    "system_uptime_seconds",
    "system_cpu_count",
)
NO_VALUE = "—"


@dataclass(frozen=True)
class Card:
    """What one health card shows: a value, a detail line and a status colour."""

    key: str
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


def _component_card(key: str, component: dict, fallback: str) -> Card:
    status = component["status"]
    return Card(key, status.upper(), component["detail"] or fallback, status)


def health_cards(rt: Runtime, now: float) -> list[Card]:
    """Cards for the database, Redis, scheduler, CPU, memory, disk and uptime."""
    health = check_health(rt, now)["components"]
    db, sched = health["database"], health["scheduler"]
    cards = [
        _component_card(
            "database", db, f"{db['info']['dialect']} · {db['info'].get('latency_ms', '?')} ms"
        ),
        _component_card("redis", health["redis"], "live bus connected"),
        _component_card("scheduler", sched, f"this process is {sched['info'].get('role', 'idle')}"),
    ]
    try:
        values = rt.metrics.latest(names=list(CARD_METRICS), host=rt.settings.hostname)
    except SQLAlchemyError:
        values = []  # the database card already says why
    latest = {(v.name, labels_key(v.labels)): v.value for v in values}

    def percent_card(key: str, name: str, labels: str, detail: str) -> Card:
        value = latest.get((name, labels))
        if value is None:
            return Card(key, NO_VALUE, "no data yet", "unknown")
        return Card(key, f"{value:.1f}%", detail, _level(name, value))

    cores = latest.get(("system_cpu_count", "{}"))
    used = latest.get(("system_memory_used_bytes", "{}"))
    total = latest.get(("system_memory_total_bytes", "{}"))
    uptime = latest.get(("system_uptime_seconds", "{}"))
    cards += [
        percent_card(
            "cpu", "system_cpu_usage_percent", "{}", f"{int(cores)} cores" if cores else ""
        ),
        percent_card(
            "memory",
            "system_memory_used_percent",
            "{}",
            f"{used / 2**30:.1f} of {total / 2**30:.1f} GiB" if used and total else "",
        ),
        percent_card(
            "disk", "system_disk_used_percent", labels_key({"mountpoint": "/"}), "root filesystem"
        ),
        Card(
            "uptime",
            humanize_seconds(uptime) if uptime is not None else NO_VALUE,
            rt.settings.hostname,
            "ok" if uptime is not None else "unknown",
        ),
    ]
    return cards


def chart_series(
    rt: Runtime, spec: ChartSpec, range_key: str, now: float, host: str | None = None
) -> list[SeriesData]:
    """The series one chart plots over the named range."""
    span = RANGES.get(range_key, RANGES[DEFAULT_RANGE])
    data = rt.metrics.query(list(spec.metrics), now - span, now, host=host, max_points=CHART_POINTS)
    return [s for s in data if not any(s.labels.get(k) == v for k, v in spec.exclude)]
