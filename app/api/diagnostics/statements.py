"""Diagnostics API · Statements: the ranking of pg_stat_statements over a range, one
statement's history, EXPLAIN, and the ranking's download."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from flask import jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from app.api.diagnostics.blueprint import bp
from app.api.downloads import FILES, TableFormat
from app.api.models import NoNulText, ShortText, Timestamp
from app.api.spec import operation, parse_body, parse_query
from app.api.streams import attachment
from app.auth import READERS, current_account, roles
from app.runtime import runtime
from app.services.accounts import Actor
from app.services.diagnostics import statements as service
from app.services.timerange import DEFAULT_SPAN
from storage.diagnostics.statements import ORDERS

Order = Literal[tuple(ORDERS)]
QueryId = Annotated[
    str, Field(pattern=r"^-?[0-9]{1,20}$", description="pg_stat_statements queryid")
]
QUERY_CHARS = 20_000


class RangeQuery(BaseModel):
    """A time range and a watched database."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Timestamp | None = Field(
        None, alias="from", description="Start (default: 1 h before `to`)"
    )
    to: Timestamp | None = Field(None, description="End (default: now)")
    database: ShortText | None = Field(
        None, description="A watched database, `host:port/db` (default: every one)"
    )

    def window(self) -> tuple[float, float]:
        """(start, end) with the defaults filled in."""
        end = self.to if self.to is not None else time.time()
        return (self.from_ if self.from_ is not None else end - DEFAULT_SPAN), end


class StatementsQuery(RangeQuery):
    """Query string of GET /api/v1/admin/diagnostics/statements."""

    order: Order = Field("total_time", description="What to rank by (io: shared blocks read)")
    limit: int = Field(10, ge=1, le=service.MAX_LIMIT, description="At most this many statements")


class StatementsExportQuery(StatementsQuery):
    """Query string of GET /api/v1/admin/diagnostics/statements/export."""

    format: TableFormat = Field("csv", description="File format")


class StatementItem(BaseModel):
    """A statement's sums over the range."""

    database: str
    queryid: str
    query: str
    calls: int
    total_time_ms: float
    mean_time_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    share_of_total: float


class StatementsOut(BaseModel):
    """The ranking; ``reason`` says what to change when pg_stat_statements cannot be read."""

    available: bool
    reason: str | None = None
    items: list[StatementItem]


class HistoryPoint(BaseModel):
    """What the statement did in one bucket."""

    ts: float
    calls: int
    total_time_ms: float
    mean_time_ms: float
    rows: int
    shared_blks_read: int


class StatementDetail(BaseModel):
    """A statement's text and history over the range."""

    database: str
    queryid: str
    query: str
    username: str
    first_seen: float
    last_seen: float
    model_config = ConfigDict(populate_by_name=True)

    from_: float = Field(alias="from")
    to: float
    step: int
    calls: int
    total_time_ms: float
    history: list[HistoryPoint]


class ExplainBody(BaseModel):
    """Body of POST /api/v1/admin/diagnostics/explain."""

    model_config = ConfigDict(extra="forbid")

    database: ShortText = Field(description="A watched database, `host:port/db`")
    query: Annotated[NoNulText, Field(min_length=1, max_length=QUERY_CHARS)] = Field(
        description="One SELECT, WITH, INSERT, UPDATE or DELETE statement"
    )
    analyze: bool = Field(
        False, description="Run it (EXPLAIN ANALYZE, rolled back): admins only, never for DML"
    )


class PlanOut(BaseModel):
    """The JSON plan and the text plan of the statement."""

    database: str
    query: str
    analyze: bool
    generic: bool
    server_version: int
    plan: list[Any]
    text: str


@bp.get("/diagnostics/statements")
@roles(*READERS)
@operation(
    "The statements of the watched PostgreSQL databases that did most over a range "
    "(pg_stat_statements deltas), or what to change when the extension cannot be read",
    query=StatementsQuery,
    response=StatementsOut,
)
def list_statements():
    """The ranking for the query string."""
    params = parse_query(StatementsQuery)
    start, end = params.window()
    return jsonify(service.top(runtime(), start, end, params.order, params.limit, params.database))


@bp.get("/diagnostics/statements/export")
@roles(*READERS)
@operation(
    "Download the statement ranking as CSV or JSON; audited",
    query=StatementsExportQuery,
    files=FILES,
)
def export_statements():
    """Stream the ranking as an attachment."""
    params = parse_query(StatementsExportQuery)
    start, end = params.window()
    return attachment(
        service.export(
            runtime(),
            start,
            end,
            params.order,
            params.limit,
            params.database,
            params.format,
            actor=current_account().name,
            remote_addr=request.remote_addr,
        )
    )


@bp.get("/diagnostics/statements/<queryid>")
@roles(*READERS)
@operation(
    "One statement's text and its calls, total and mean time over a range",
    query=RangeQuery,
    response=StatementDetail,
    errors=(400, 401, 403, 404),
)
def get_statement(queryid: QueryId):
    """The statement's detail."""
    params = parse_query(RangeQuery)
    start, end = params.window()
    return jsonify(service.detail(runtime(), queryid, start, end, params.database))


@bp.post("/diagnostics/explain")
@roles(*READERS)
@operation(
    "EXPLAIN one statement on a watched database (FORMAT JSON and text) in a read-only "
    "transaction that is rolled back; a generic plan for $1 placeholders on PostgreSQL 16+; "
    "ANALYZE only for admins, never for DML, audited",
    body=ExplainBody,
    response=PlanOut,
    errors=(400, 401, 403, 413, 415, 503),
)
def explain():
    """The plan of the body's statement."""
    body = parse_body(ExplainBody)
    actor = Actor(current_account(), request.remote_addr)
    return jsonify(service.explain(runtime(), body.database, body.query, body.analyze, actor))
