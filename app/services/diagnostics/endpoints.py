"""Diagnostics · Endpoints: latency percentiles per route from merged histogram buckets,
one route's latency heatmap, throughput and error rate over time, and the slowest
requests with links to their log lines.

Percentiles interpolate inside the bucket that holds them, as Prometheus'
``histogram_quantile`` does; a bucket count is of the requests in (previous bound, le].
"""

from __future__ import annotations

import math
from urllib.parse import urlencode

from app.runtime import Runtime
from app.services import FieldError
from app.services.downloads import Download, Table, file_name, table_download, utc_iso
from app.services.log_view import logs_href
from app.services.timerange import DEFAULT_SPAN, RANGES, api_range, check_range
from collectors.requests import Histogram
from storage.diagnostics.endpoints import SLOW_COLUMNS, TIERS, EndpointCounts, EndpointStore
from storage.metrics import QueryPlan, plan_query
from storage.models import LATENCY_BUCKETS

REQUEST_LOGS_MARGIN = 60.0
"""Seconds around a slow request that its log link searches (clocks and queues differ)."""

HEATMAP_COLUMNS = 60
"""Time buckets of a heatmap at most; a 7-day range is then read from the hourly tier."""
SLOWEST = 50
"""Slow requests listed at most."""
INF = "+Inf"
BOUNDS: tuple[float | str, ...] = (*LATENCY_BUCKETS, INF)
"""The upper bound of each bucket, in seconds (the last one unbounded)."""
QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
ROUTE_COLUMNS = (
    "route",
    "method",
    "count",
    "rate",
    "error_rate",
    "client_error_rate",
    "mean",
    "p50",
    "p95",
    "p99",
    "buckets",
)
"""The fields of one route of the summary, in table order."""
EXPORT = "/api/v1/admin/diagnostics/endpoints/export"
PAGE_ROUTES = 100
"""Routes the page's table lists at most."""


def plan(start: float, end: float) -> QueryPlan:
    """The tier and time-bucket width a range is read with (as the metrics are)."""
    return plan_query(start, end, HEATMAP_COLUMNS, TIERS)


def _store(rt: Runtime) -> EndpointStore:
    return EndpointStore(rt.engine)


def route_row(counts: EndpointCounts, seconds: float) -> dict:
    """One route's figures over ``seconds``: count, requests/s, 5xx share
    (``error_rate``), 4xx share, mean and percentiles (seconds) and its buckets."""
    histogram = Histogram(list(counts.buckets), counts.seconds)
    requests = counts.requests
    return {
        "route": counts.route,
        "method": counts.method,
        "count": requests,
        "rate": requests / seconds,
        "error_rate": counts.server_errors / requests if requests else 0.0,
        "client_error_rate": counts.client_errors / requests if requests else 0.0,
        "mean": counts.seconds / requests if requests else None,
        **{name: histogram.quantile(q) for name, q in QUANTILES},
        "buckets": [[le, n] for le, n in zip(BOUNDS, counts.buckets, strict=True)],
    }


def summary(rt: Runtime, start: float, end: float, limit: int = 20) -> list[dict]:
    """The ``limit`` busiest routes in [start, end), each
    ``{route, method, count, rate, error_rate, client_error_rate, mean, p50, p95, p99,
    buckets: [[le, count]...]}`` (``le`` in seconds, the last ``"+Inf"``)."""
    check_range(start, end)
    totals = [c for _, c in _store(rt).read(start, end, tier=plan(start, end).tier)]
    totals.sort(key=lambda c: (-c.requests, c.route, c.method))
    return [route_row(c, end - start) for c in totals[:limit]]


def detail(rt: Runtime, route: str, method: str, start: float, end: float) -> dict:
    """One route over [start, end): its figures (``summary``, None without requests),
    the heatmap ``[[t, le, count]...]`` of non-empty cells, ``series`` of
    ``{t, count, rate, error_rate}`` for every time bucket of ``step`` seconds (empty
    ones too), the tier read (``source``) and its slowest requests."""
    check_range(start, end)
    chosen = plan(start, end)
    found = dict(
        _store(rt).read(start, end, tier=chosen.tier, step=chosen.step, route=route, method=method)
    )
    total = None
    for counts in found.values():
        total = counts if total is None else total.plus(counts)
    empty = EndpointCounts(route, method, 0, 0, 0, 0.0, (0,) * len(BOUNDS))
    periods = [
        (t, found.get(t, empty))
        for t in (
            chosen.base + n * chosen.step
            for n in range(math.ceil((end - chosen.base) / chosen.step))
        )
    ]
    return {
        "route": route,
        "method": method,
        "from": start,
        "to": end,
        "step": chosen.step,
        "source": chosen.source,
        "summary": None if total is None else route_row(total, end - start),
        "heatmap": [
            [t, le, n]
            for t, counts in periods
            for le, n in zip(BOUNDS, counts.buckets, strict=True)
            if n
        ],
        "series": [
            {
                "t": t,
                "count": counts.requests,
                "rate": counts.requests / chosen.step,
                "error_rate": counts.server_errors / counts.requests if counts.requests else 0.0,
            }
            for t, counts in periods
        ],
        "slowest": slowest(rt, start, end, route=route, method=method),
    }


def slowest(
    rt: Runtime,
    start: float,
    end: float,
    *,
    route: str | None = None,
    method: str | None = None,
    limit: int = SLOWEST,
) -> list[dict]:
    """The slowest requests in [start, end), slowest first, each with ``logs``: the link
    to its log lines."""
    check_range(start, end)
    rows = _store(rt).slowest(start, end, route=route, method=method, limit=limit)
    return [{**row, "logs": _request_logs(row)} for row in rows]


def _request_logs(row: dict) -> str:
    """The Logs page searching the log lines of one request, around when it ran."""
    return logs_href(
        f"attrs.trace_id:{row['trace_id']}",
        start=row["ts"] - row["duration_s"] - REQUEST_LOGS_MARGIN,
        end=row["ts"] + REQUEST_LOGS_MARGIN,
    )


def view(
    rt: Runtime,
    start: float | None,
    end: float | None,
    *,
    route: str | None,
    method: str | None,
    limit: int,
    now: float,
) -> dict:
    """What GET /diagnostics/endpoints answers: the range, the busiest routes (``items``),
    the slowest requests of every route, and with ``route`` and ``method`` (both or
    neither) that route's ``detail``. FieldError names a bad parameter."""
    start, end = api_range(start, end, now)
    if route is not None and method is None:
        raise FieldError("method", "required with route")
    if method is not None and route is None:
        raise FieldError("route", "required with method")
    return {
        "from": start,
        "to": end,
        "source": plan(start, end).source,
        "items": summary(rt, start, end, limit),
        "slowest": slowest(rt, start, end, limit=limit),
        "detail": None if route is None else detail(rt, route, method, start, end),
    }


def export(
    rt: Runtime,
    table: str,
    start: float | None,
    end: float | None,
    *,
    route: str | None,
    method: str | None,
    limit: int,
    fmt: str,
    actor: str,
    remote_addr: str | None,
    now: float,
) -> Download:
    """The routes table (``table="routes"``) or the slowest requests (``"slow"``, of one
    route and/or method when given) as CSV or JSON, audited."""
    start, end = api_range(start, end, now)
    if table == "slow":
        slow = slowest(rt, start, end, route=route, method=method, limit=limit)
        rows = ({**r, "ts": utc_iso(r["ts"])} for r in slow)
        columns = (*SLOW_COLUMNS, "logs")
    else:
        rows = iter(summary(rt, start, end, limit))
        columns = ROUTE_COLUMNS
    filename = file_name(f"endpoints-{table}", start, end, fmt)
    details = {
        "table": table,
        "from": utc_iso(start),
        "to": utc_iso(end),
        "route": route,
        "method": method,
        "limit": limit,
        "format": fmt,
        "file": filename,
    }
    return table_download(
        rt,
        "diagnostics.endpoints.export",
        filename,
        Table(fmt, columns, rows),
        actor=actor,
        remote_addr=remote_addr,
        details=details,
    )


# -- the page ---------------------------------------------------------------------------


def grid_rows(rt: Runtime, start: float, end: float) -> list[dict]:
    """The page's routes table: each route's figures (without its buckets), keyed ``id``."""
    return [
        {
            **{k: v for k, v in row.items() if k != "buckets"},
            "id": f"{row['method']} {row['route']}",
        }
        for row in summary(rt, start, end, PAGE_ROUTES)
    ]


def slow_rows(
    rt: Runtime, start: float, end: float, route: str | None = None, method: str | None = None
) -> list[dict]:
    """The page's slowest requests (of one route when given), with the time as text and
    ``logs`` as a Markdown link to their log lines."""
    return [
        {**row, "ts": utc_iso(row["ts"]), "logs": f"[log lines]({row['logs']})"}
        for row in slowest(rt, start, end, route=route, method=method)
    ]


def export_href(
    table: str,
    range_key: str | None,
    window: dict | None,
    fmt: str,
    now: float,
    route: str | None = None,
    method: str | None = None,
) -> str:
    """The download of a table of the page: a custom window as shown, a preset from its
    start up to the moment the download is made."""
    params: list[tuple[str, str]] = [("table", table), ("format", fmt)]
    if window:
        params += [("from", str(window["from"])), ("to", str(window["to"]))]
    else:
        params.append(("from", str(int(now - RANGES.get(range_key or "", DEFAULT_SPAN)))))
    if route is not None:
        params.append(("route", route))
    if method is not None:
        params.append(("method", method))
    limit = PAGE_ROUTES if table == "routes" else SLOWEST
    return f"{EXPORT}?{urlencode([*params, ('limit', str(limit))])}"
