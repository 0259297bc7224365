"""What the Overview page shows: health cards and the system charts over a range."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy.exc import SQLAlchemyError

from app.runtime import Runtime
from app.services.downloads import CONTENT_TYPES, Table, file_name
from app.services.health import HEALTH_STATUS, check_health
from app.services.metrics import field_catalogue
from app.services.timerange import parse_input_time
from storage.metrics import SeriesData, labels_key
from storage.thresholds import THRESHOLDS

CHART_POINTS = 600  # about one point per horizontal pixel of a half-width chart
METRICS_EXPORT = "/api/v1/admin/monitoring/metrics/export"
CONSOLE_ROUTE_PREFIXES = ("/_dash-", "/_reload-hash", "/_favicon", "/assets/", "/<path:path>")
"""Routes that serve the console itself rather than the API or its pages (the last is
Dash's catch-all, which serves every page's index and names no route of its own)."""
ROUTE_FIELDS = ("route", "method", "p50", "p95", "p99", "rate")


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
    status: str  # ok, degraded, down, unknown (no data yet) or off (not configured)


@dataclass(frozen=True)
class ChartSpec:
    """Which metrics a chart plots and its unit.

    ``unit`` "%" draws 0-100, "ratio" draws 0-1 as percentages. Series whose labels match
    ``hidden`` are listed in the legend but drawn only once clicked; ``limits`` are the
    metrics that cap the others (a maximum, a pool size), drawn only when they are in reach.
    """

    key: str
    title: str
    metrics: tuple[str, ...]
    unit: str
    hidden: tuple[tuple[str, str], ...] = ()
    limits: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """A titled group of charts; ``enable`` says how to make its charts get data and
    ``diagnose`` names the Diagnostics tab that explains them."""

    title: str
    charts: tuple[ChartSpec, ...]
    enable: str | None = None
    diagnose: tuple[tuple[str, str], ...] = ()
    """(label, tab) links into the Diagnostics page."""


SECTIONS: tuple[Section, ...] = (
    Section(
        "System",
        (
            ChartSpec("cpu", "CPU", ("system_cpu_usage_percent",), "%"),
            ChartSpec(
                "memory", "Memory", ("system_memory_used_percent", "system_swap_used_percent"), "%"
            ),
            ChartSpec("disk", "Disk usage", ("system_disk_used_percent",), "%"),
            ChartSpec(
                "network",
                "Network",
                (
                    "system_network_receive_bytes_per_second",
                    "system_network_transmit_bytes_per_second",
                ),
                "B/s",
                hidden=(("interface", "lo"),),
            ),
        ),
    ),
    Section(
        "Application",
        (
            ChartSpec("requests", "Requests", ("http_requests_per_second",), "req/s"),
            ChartSpec("latency", "Latency percentiles", ("http_request_duration_seconds",), "s"),
            ChartSpec("errors", "Error rate", ("http_request_errors_ratio",), "ratio"),
        ),
        diagnose=(("Latency by route", "endpoints"), ("Error groups", "errors")),
    ),
    Section(
        "Database",
        (
            ChartSpec(
                "pg-connections",
                "Connections",
                ("pg_connections", "pg_max_connections"),
                "conn",
                limits=("pg_max_connections",),
            ),
            ChartSpec(
                "pg-transactions",
                "Transactions",
                ("pg_commits_per_second", "pg_rollbacks_per_second"),
                "tx/s",
            ),
            ChartSpec("pg-cache", "Cache hit ratio", ("pg_cache_hit_ratio",), "ratio"),
            ChartSpec("pg-locks", "Waiting locks", ("pg_waiting_locks",), "locks"),
            ChartSpec(
                "db-pool",
                "Pulseboard's connection pool",
                ("pulseboard_db_pool_checked_out", "pulseboard_db_pool_size"),
                "conn",
                limits=("pulseboard_db_pool_size",),
            ),
        ),
        enable="PostgreSQL metrics: set PULSEBOARD_DATABASE_URL=postgresql+psycopg://… "
        "or PULSEBOARD_MONITOR_POSTGRES.",
        diagnose=(("Slow statements", "statements"), ("Activity and locks", "activity")),
    ),
    Section(
        "Redis",
        (
            ChartSpec(
                "redis-memory",
                "Memory",
                ("redis_memory_used_bytes", "redis_memory_max_bytes"),
                "B",
                limits=("redis_memory_max_bytes",),
            ),
            ChartSpec("redis-ops", "Commands", ("redis_commands_per_second",), "ops/s"),
            ChartSpec("redis-hits", "Keyspace hit ratio", ("redis_keyspace_hit_ratio",), "ratio"),
            ChartSpec(
                "redis-clients",
                "Clients",
                ("redis_connected_clients", "redis_blocked_clients"),
                "clients",
            ),
        ),
        enable="Redis metrics: set PULSEBOARD_REDIS_URL=redis://… or PULSEBOARD_MONITOR_REDIS.",
        diagnose=(("Slowlog and big keys", "redis"),),
    ),
)
CHARTS: tuple[ChartSpec, ...] = tuple(spec for section in SECTIONS for spec in section.charts)

_SHORT_NAMES = {
    "system_cpu_usage_percent": "cpu",
    "system_memory_used_percent": "memory",
    "system_swap_used_percent": "swap",
    "system_disk_used_percent": "used",
    "system_network_receive_bytes_per_second": "rx",
    "system_network_transmit_bytes_per_second": "tx",
    "http_requests_per_second": "requests",
    "http_request_duration_seconds": "",
    "http_request_errors_ratio": "errors",
    "pg_connections": "",
    "pg_max_connections": "max",
    "pg_commits_per_second": "commits",
    "pg_rollbacks_per_second": "rollbacks",
    "pg_cache_hit_ratio": "hit",
    "pg_waiting_locks": "waiting locks",
    "pulseboard_db_pool_checked_out": "pool in use",
    "pulseboard_db_pool_size": "pool size",
    "redis_memory_used_bytes": "used",
    "redis_memory_max_bytes": "max",
    "redis_commands_per_second": "ops",
    "redis_keyspace_hit_ratio": "hit",
    "redis_connected_clients": "connected",
    "redis_blocked_clients": "blocked",
}


def trace_key(host: str, name: str, labels: dict[str, str]) -> str:
    """The id a live sample and a chart line share: host, metric name, canonical labels."""
    return f"{host}|{name}|{labels_key(labels)}"


def trace_label(
    name: str, labels: dict[str, str], host: str, many_hosts: bool, many_targets: bool = False
) -> str:
    """A short legend label such as ``rx eth0``, ``p0.95`` or ``used /``."""
    values = [
        f"p{round(float(v) * 100)}" if k == "quantile" else v
        for k, v in labels.items()
        if k != "target" or many_targets
    ]
    parts = [_SHORT_NAMES.get(name, name), *values]
    if many_hosts:
        parts.append(f"@{host}")
    return " ".join(p for p in parts if p)


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


def _redis_card(rt: Runtime, component: dict) -> Card:
    # Running without Redis is a choice, not a health: neutral, never a green OK.
    if not rt.settings.redis_url:
        return Card("redis", "OFF", "not configured: live data stays in this process", "off")
    return _component_card("redis", component, "live bus connected")


@dataclass(frozen=True, slots=True)
class RuleLevels:
    """What the enabled default alert rules say of one host."""

    rules: frozenset[str]
    """Keys of the enabled default rules (``cpu``, ``memory``, ``disk``, …)."""
    firing: dict[tuple[str, str], str]
    """Severity by (rule key, canonical labels without ``host``) of firing alerts."""

    def level(self, key: str, labels: str, fallback: str) -> str:
        """``ok``, ``warning`` or ``critical`` as rule ``key`` has it for ``labels``;
        ``fallback`` when there is no such rule (deleted or disabled)."""
        if key not in self.rules:
            return fallback
        return self.firing.get((key, labels), "ok")


def rule_levels(rt: Runtime, host: str) -> RuleLevels:
    """The default rules' view of ``host``: the severity of each firing (or recovering)
    alert; every other label set of an enabled default rule is ok."""
    try:
        rules = {r.id: r.builtin for r in rt.alerts.list_rules() if r.builtin and r.enabled}
        instances = rt.alerts.open_instances()
    except SQLAlchemyError:
        return RuleLevels(frozenset(), {})  # the database card already says why
    firing: dict[tuple[str, str], str] = {}
    for instance in instances:
        key = rules.get(instance.rule_id)
        if key is None or instance.labels.get("host") != host:
            continue
        if instance.state in ("firing", "recovering") and instance.severity:
            rest = {k: v for k, v in instance.labels.items() if k != "host"}
            firing[(key, labels_key(rest))] = instance.severity
    return RuleLevels(frozenset(k for k in rules.values() if k), firing)


def health_cards(rt: Runtime, now: float) -> list[Card]:
    """Cards for the database, Redis, scheduler, CPU, memory, disk and uptime."""
    health = check_health(rt, now)["components"]
    db, sched = health["database"], health["scheduler"]
    cards = [
        _component_card(
            "database", db, f"{db['info']['dialect']} · {db['info'].get('latency_ms', '?')} ms"
        ),
        _redis_card(rt, health["redis"]),
        _component_card("scheduler", sched, f"this process is {sched['info'].get('role', 'idle')}"),
    ]
    try:
        values = rt.metrics.latest(names=list(CARD_METRICS), host=rt.settings.hostname)
    except SQLAlchemyError:
        values = []  # the database card already says why
    latest = {(v.name, labels_key(v.labels)): v.value for v in values}

    levels = rule_levels(rt, rt.settings.hostname)

    def percent_card(key: str, name: str, labels: str, detail: str) -> Card:
        value = latest.get((name, labels))
        if value is None:
            return Card(key, NO_VALUE, "no data yet", "unknown")
        level = levels.level(key, labels, THRESHOLDS[name].level(value))
        return Card(key, f"{value:.1f}%", detail, HEALTH_STATUS[level])

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
    rt: Runtime, spec: ChartSpec, start: float, end: float, host: str | None = None
) -> list[SeriesData]:
    """The series one chart plots between ``start`` and ``end``: exactly what the series
    API answers for ``export_query`` (the download links rely on it)."""
    return rt.metrics.query(list(spec.metrics), start, end, host=host, max_points=CHART_POINTS)


def is_hidden(spec: ChartSpec, series: SeriesData) -> bool:
    """Whether ``series`` starts hidden (listed in the legend only) on ``spec``'s chart."""
    return any(series.labels.get(k) == v for k, v in spec.hidden)


def available_charts(rt: Runtime) -> frozenset[str]:
    """Keys of the charts that can get data: a configured collector yields, or the store
    holds, at least one of their metrics."""
    names = set(field_catalogue(rt))
    with contextlib.suppress(SQLAlchemyError):  # the database card says why
        names |= set(rt.metrics.names())
    return frozenset(spec.key for spec in CHARTS if names.intersection(spec.metrics))


def export_query(
    spec: ChartSpec, start: float, end: float, host: str | None, fmt: str
) -> dict[str, object]:
    """Query parameters of the metrics export that yields exactly ``spec``'s chart."""
    query: dict[str, object] = {
        "name": list(spec.metrics),
        "from": repr(start),  # repr: the very float the chart queried, not a rounding
        "to": repr(end),
        "max_points": CHART_POINTS,
        "format": fmt,
    }
    if host:
        query["host"] = host
    return query


def export_href(spec: ChartSpec, start: float, end: float, host: str | None, fmt: str) -> str:
    """The download link of ``spec``'s chart as shown (``fmt`` csv or json)."""
    return f"{METRICS_EXPORT}?{urlencode(export_query(spec, start, end, host, fmt), doseq=True)}"


def zoom_window(relayout: dict | None) -> dict | bool | None:
    """What a chart's relayout means for the shown window: a new window when the user
    zoomed in, None when they reset the zoom, False when it is not about the x range."""
    if not relayout:
        return False
    if relayout.get("xaxis.autorange"):
        return None
    lo, hi = relayout.get("xaxis.range[0]"), relayout.get("xaxis.range[1]")
    if lo is None or hi is None:
        return False
    start, end = parse_input_time(str(lo)), parse_input_time(str(hi))
    return {"from": start, "to": end} if end - start >= 1 else False


def is_console_route(route: str) -> bool:
    """Whether ``route`` serves the console itself (Dash's callbacks, bundles, assets)."""
    return route.startswith(CONSOLE_ROUTE_PREFIXES)


def slowest_routes(
    rt: Runtime, host: str | None, include_console: bool = False, limit: int = 10
) -> list[dict]:
    """Routes by their latest p95 latency, slowest first, with their request rate; the
    console's own routes only with ``include_console``."""
    values = rt.metrics.latest(
        names=["http_route_request_duration_seconds", "http_route_requests_per_second"],
        host=host,
    )
    rows: dict[tuple[str, str], dict] = {}
    for v in values:
        key = (v.labels.get("route", ""), v.labels.get("method", ""))
        if is_console_route(key[0]) and not include_console:
            continue
        row = rows.setdefault(key, {"route": key[0], "method": key[1]})
        if v.name == "http_route_requests_per_second":
            row["rate"] = round(v.value, 3)
        elif v.labels.get("quantile") in ("0.5", "0.95", "0.99"):
            row["p" + v.labels["quantile"][2:].ljust(2, "0")] = round(v.value * 1000, 1)
    ranked = sorted(rows.values(), key=lambda r: r.get("p95", 0.0), reverse=True)
    return ranked[:limit]


def routes_download(rows: object, fmt: str, host: str | None, now: float) -> dict[str, str]:
    """The slowest-routes rows as shown, as ``dcc.Download`` data: a CSV or JSON file
    named for what and when; only the table's columns and plain values are kept."""
    kept = [
        {f: row.get(f) if isinstance(row.get(f), str | int | float) else None for f in ROUTE_FIELDS}
        for row in (rows if isinstance(rows, list) else [])
        if isinstance(row, dict)
    ]
    return {
        "filename": file_name(f"slowest-routes-{host or 'all-hosts'}", now, now, fmt),
        "content": b"".join(Table(fmt, ROUTE_FIELDS, kept)).decode(),
        "type": CONTENT_TYPES[fmt],
    }
