"""Diagnostics API · Redis: memory, slow commands and latency of a watched Redis, and the
big-keys scan as a background job."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from flask import jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from app.alerting.rules import whole_number
from app.api.diagnostics.blueprint import bp
from app.api.downloads import FILES, TableFormat
from app.api.models import ShortText, Timestamp
from app.api.spec import operation, parse_body, parse_query
from app.api.streams import attachment
from app.auth import READERS, current_account, roles
from app.runtime import runtime
from app.services.accounts import Actor
from app.services.diagnostics import redis as service

JobId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="A job id as POST gave it")]
Target = Annotated[
    ShortText, Field(description="A watched Redis as ``host:port/db`` (default: the first)")
]


class RedisQuery(BaseModel):
    """Query string of GET /api/v1/admin/diagnostics/redis."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    target: Target | None = None
    from_: Timestamp | None = Field(
        None, alias="from", description="Slow commands from (default: 1 h before `to`)"
    )
    to: Timestamp | None = Field(None, description="Slow commands up to (default: now)")


class RedisExportQuery(RedisQuery):
    """Query string of GET /api/v1/admin/diagnostics/redis/export."""

    table: Literal["slowlog", "bigkeys"] = Field("slowlog", description="Which table")
    job: JobId | None = Field(None, description="The big-keys job (table=bigkeys)")
    format: TableFormat = Field("csv", description="File format")


class BigKeysBody(BaseModel):
    """Body of POST /api/v1/admin/diagnostics/redis/bigkeys (every field optional)."""

    model_config = ConfigDict(extra="forbid")

    target: Target | None = None
    max_keys: whole_number(1, 10_000_000) = Field(
        service.DEFAULT_LIMITS.max_keys, description="Keys looked at at most"
    )
    top: whole_number(1, 1000) = Field(service.DEFAULT_LIMITS.top, description="Biggest keys kept")


class MemoryOut(BaseModel):
    """Memory, eviction and keyspace figures (counters since the server started)."""

    used_memory_bytes: int
    used_memory_rss_bytes: int | None
    maxmemory_bytes: int
    maxmemory_policy: str
    fragmentation_ratio: float | None
    evicted_keys: int
    expired_keys: int
    keyspace_hits: int
    keyspace_misses: int
    keys: int
    hit_ratio: float | None


class LatencyEventOut(BaseModel):
    """One event of LATENCY LATEST."""

    event: str
    ts: float
    latest_ms: int
    max_ms: int


class LatencyOut(BaseModel):
    """The latency monitor: its events and the doctor's report, or how to turn it on."""

    enabled: bool
    threshold_ms: int | None
    how_to_enable: str | None
    enable_command: str | None
    latest: list[LatencyEventOut]
    doctor: str


class SlowEntryOut(BaseModel):
    """A slow command; ``stored`` when it is in Pulseboard's history."""

    id: int
    ts: float
    duration_us: int
    command: str
    client: str
    stored: bool


class BigKeyOut(BaseModel):
    """A key a scan found, with its memory usage."""

    key: str
    type: str
    bytes: int
    db: int


class JobOut(BaseModel):
    """A big-keys job: its state, progress and the biggest keys found so far."""

    id: str
    target: str
    state: Literal["running", "done", "cancelled", "failed"]
    progress: float
    done: int
    total: int | None
    result: list[BigKeyOut]
    error: str
    cancel_requested: bool
    created_by: str | None
    created_at: float
    updated_at: float


class RedisOut(BaseModel):
    """The Redis section; ``available`` false with a ``reason`` when there is no Redis
    watched or it does not answer (the stored slow commands are still given then)."""

    available: bool
    reason: str | None
    target: str | None
    targets: list[str]
    memory: MemoryOut | None = None
    latency: LatencyOut | None = None
    slowlog: list[SlowEntryOut] = []
    bigkeys: JobOut | None = None


def _actor() -> Actor:
    return Actor(current_account(), request.remote_addr)


@bp.get("/diagnostics/redis")
@roles(*READERS)
@operation(
    "A watched Redis: memory, evictions and hit ratio, slow commands over the range, the "
    "latency monitor and the newest big-keys job",
    query=RedisQuery,
    response=RedisOut,
)
def redis_overview():
    """The section's figures; 400 naming ``target`` when it is not watched."""
    params = parse_query(RedisQuery)
    return jsonify(service.overview(runtime(), params.target, start=params.from_, end=params.to))


@bp.post("/diagnostics/redis/bigkeys")
@roles("admin")
@operation(
    "Start a big-keys scan (SCAN and MEMORY USAGE, bounded and throttled) in the background; "
    "audited",
    body=BigKeysBody,
    response=JobOut,
    status=202,
    errors=(400, 401, 403, 409, 413, 415),
)
def start_bigkeys():
    """202 with the new job; 409 while a scan of the same target runs."""
    body = parse_body(BigKeysBody)
    job = service.start_bigkeys(
        runtime(), body.target, _actor(), max_keys=body.max_keys, top=body.top
    )
    return jsonify(job), 202


@bp.get("/diagnostics/redis/bigkeys/<job_id>")
@roles(*READERS)
@operation("A big-keys job as it stands", response=JobOut, errors=(400, 401, 403, 404))
def get_bigkeys(job_id: JobId):
    """State, progress (done of total) and the biggest keys so far."""
    return jsonify(service.get_job(runtime(), job_id))


@bp.post("/diagnostics/redis/bigkeys/<job_id>/cancel")
@roles("admin")
@operation(
    "Ask a running big-keys job to stop; it keeps what it found; audited",
    response=JobOut,
    errors=(400, 401, 403, 404, 409),
)
def cancel_bigkeys(job_id: JobId):
    """The job, asked to stop; 409 when it has ended."""
    return jsonify(service.cancel_job(runtime(), job_id, _actor()))


@bp.get("/diagnostics/redis/export")
@roles(*READERS)
@operation(
    "Download the slow commands of the range (table=slowlog) or the keys of a big-keys job "
    "(table=bigkeys) as CSV or JSON; audited",
    query=RedisExportQuery,
    files=FILES,
    errors=(400, 401, 403, 404),
)
def export_redis():
    """Stream the table as an attachment."""
    params = parse_query(RedisExportQuery)
    return attachment(
        service.export(
            runtime(),
            params.table,
            target=params.target,
            start=params.from_,
            end=params.to,
            job_id=params.job,
            fmt=params.format,
            actor=current_account().name,
            remote_addr=request.remote_addr,
            now=time.time(),
        )
    )
