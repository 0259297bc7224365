"""Diagnostics API · Endpoints: latency distribution per route, one route's heatmap, the
slowest requests, and their downloads."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from flask import jsonify, request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.api.diagnostics.blueprint import bp
from app.api.downloads import FILES, TableFormat
from app.api.models import NoNulText, Timestamp
from app.api.spec import operation, parse_query
from app.api.streams import attachment
from app.auth import READERS, current_account, roles
from app.runtime import runtime
from app.services.diagnostics import endpoints as service
from storage.models import LATENCY_BUCKETS

Route = Annotated[NoNulText, Field(min_length=1, max_length=300)]
Method = Annotated[
    str,
    Field(pattern=r"^[A-Za-z]{1,16}$", description="HTTP method (any letter case)"),
    AfterValidator(str.upper),
]


class EndpointsQuery(BaseModel):
    """Query string of GET /api/v1/admin/diagnostics/endpoints."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Timestamp | None = Field(
        None, alias="from", description="Start (default: 1 h before `to`)"
    )
    to: Timestamp | None = Field(None, description="End, excluded (default: now)")
    route: Route | None = Field(None, description="A route template: adds its detail")
    method: Method | None = Field(None, description="The route's method (with `route`)")
    limit: int = Field(20, ge=1, le=500, description="Routes (and slow requests) at most")


class EndpointsExportQuery(EndpointsQuery):
    """Query string of GET /api/v1/admin/diagnostics/endpoints/export."""

    format: TableFormat = Field("csv", description="File format")
    table: Literal["routes", "slow"] = Field(
        "routes", description="The per-route table, or the slowest requests"
    )


Bound = float | Literal["+Inf"]


class RouteLatency(BaseModel):
    """One route over the range; times in seconds, buckets as ``[le, count]`` of the
    requests in (previous le, le]."""

    route: str
    method: str
    count: int
    rate: float = Field(description="Requests per second")
    error_rate: float = Field(description="Share answered 5xx")
    client_error_rate: float = Field(description="Share answered 4xx")
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    buckets: list[tuple[Bound, int]]


class SlowRequestOut(BaseModel):
    """A request slower than PULSEBOARD_SLOW_REQUEST_MS; ``logs`` opens its log lines."""

    ts: float
    host: str
    route: str
    method: str
    path: str
    status: int
    duration_s: float
    trace_id: str | None
    logs: str


class ThroughputPoint(BaseModel):
    """Requests in one time bucket (from ``t``, ``step`` seconds long)."""

    t: float
    count: int
    rate: float
    error_rate: float


class RouteDetail(BaseModel):
    """One route over time: ``heatmap`` cells ``[t, le, count]`` (non-empty ones)."""

    route: str
    method: str
    from_: float = Field(alias="from")
    to: float
    step: int
    source: str
    summary: RouteLatency | None
    heatmap: list[tuple[float, Bound, int]]
    series: list[ThroughputPoint]
    slowest: list[SlowRequestOut]


class EndpointsOut(BaseModel):
    """The busiest routes, the slowest requests and, for a chosen route, its detail."""

    from_: float = Field(alias="from")
    to: float
    source: str = Field(description="raw, rollup (1-minute) or rollup_1h")
    items: list[RouteLatency]
    slowest: list[SlowRequestOut]
    detail: RouteDetail | None


@bp.get("/diagnostics/endpoints")
@roles(*READERS)
@operation(
    "Latency per route from merged histogram buckets (bounds "
    f"{LATENCY_BUCKETS[0]:g} s to {LATENCY_BUCKETS[-1]:g} s, then +Inf), the slowest "
    "requests, and with `route` and `method` that route's heatmap and throughput",
    query=EndpointsQuery,
    response=EndpointsOut,
)
def endpoints():
    """The busiest routes over the range, and one route's detail when asked for."""
    params = parse_query(EndpointsQuery)
    return jsonify(
        service.view(
            runtime(),
            params.from_,
            params.to,
            route=params.route,
            method=params.method,
            limit=params.limit,
            now=time.time(),
        )
    )


@bp.get("/diagnostics/endpoints/export")
@roles(*READERS)
@operation(
    "Download the per-route table (`table=routes`) or the slowest requests (`table=slow`, "
    "of one route or method when given) as CSV or JSON; audited",
    query=EndpointsExportQuery,
    files=FILES,
)
def export_endpoints():
    """Stream the table as an attachment named after it and the range."""
    params = parse_query(EndpointsExportQuery)
    return attachment(
        service.export(
            runtime(),
            params.table,
            params.from_,
            params.to,
            route=params.route,
            method=params.method,
            limit=params.limit,
            fmt=params.format,
            actor=current_account().name,
            remote_addr=request.remote_addr,
            now=time.time(),
        )
    )
