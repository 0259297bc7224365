"""Diagnostics API · Activity and locks: live sessions, the blocking forest, the history of
sessions worth remembering, and the admin's cancel and terminate of a backend."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from flask import jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from app.api.diagnostics.blueprint import bp
from app.api.downloads import FILES, TableFormat
from app.api.models import ShortText, Timestamp
from app.api.spec import operation, parse_query
from app.api.streams import attachment
from app.auth import READERS, current_account, roles
from app.runtime import runtime
from app.services import timerange
from app.services.diagnostics import activity as service
from collectors.pg_activity import MAX_PID

Pid = Annotated[int, Field(ge=1, le=MAX_PID, description="The backend's process id")]
LIVE_ERRORS = (400, 401, 403, 404, 503)


class DatabaseQuery(BaseModel):
    """Which monitored database: a target name as ``host:port/db``."""

    model_config = ConfigDict(extra="forbid")

    database: ShortText | None = Field(
        None, description="A monitored PostgreSQL target (default: the first)"
    )


class ActivityQuery(DatabaseQuery):
    """Query string of GET /api/v1/admin/diagnostics/activity."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Timestamp | None = Field(
        None, alias="from", description="Start of the history (default: 1 h before `to`)"
    )
    to: Timestamp | None = Field(None, description="End of the history (default: now)")


class ActivityExportQuery(ActivityQuery):
    """Query string of GET /api/v1/admin/diagnostics/activity/export."""

    table: Literal["sessions", "history"] = Field("sessions", description="Which table")
    format: TableFormat = Field("csv", description="File format")


class SessionOut(BaseModel):
    """One backend of the server."""

    pid: int
    datname: str
    usename: str
    application_name: str
    client_addr: str
    state: str
    wait_event_type: str
    wait_event: str
    backend_type: str
    query_s: float | None
    xact_s: float | None
    state_s: float | None
    query: str
    blocked_by: list[int]
    long_running: bool
    idle_in_transaction: bool


class BlockingNode(BaseModel):
    """A session and the sessions waiting for it."""

    pid: int
    query: str
    state: str
    wait_event: str
    duration_s: float | None
    usename: str
    blocked_by: list[int]
    blocked: list[BlockingNode]


class HistoryOut(BaseModel):
    """A session remembered at one collection."""

    ts: float
    time: str
    target: str
    pid: int
    state: str
    wait_event_type: str
    wait_event: str
    query_s: float | None
    xact_s: float | None
    blocked_by: list[int]
    username: str
    application: str
    client: str
    query: str


class ActivityOut(BaseModel):
    """Sessions, the blocking forest (root blockers on top) and the history."""

    database: str
    databases: list[str]
    long_seconds: float
    sessions: list[SessionOut]
    blocking: list[BlockingNode]
    history: list[HistoryOut]


class SignalOut(BaseModel):
    """What cancelling or terminating did."""

    database: str
    pid: int
    action: Literal["cancel", "terminate"]
    delivered: bool
    query: str


def _range(params: ActivityQuery) -> tuple[float, float]:
    timerange.check_range(params.from_, params.to)
    end = params.to if params.to is not None else time.time()
    start = params.from_ if params.from_ is not None else end - timerange.DEFAULT_SPAN
    return start, end


@bp.get("/diagnostics/activity")
@roles(*READERS)
@operation(
    "Live sessions of a monitored PostgreSQL server, its blocking forest from "
    "pg_blocking_pids (root blockers on top) and the sessions remembered in the range",
    query=ActivityQuery,
    response=ActivityOut,
    errors=LIVE_ERRORS,
)
def get_activity():
    """Sessions, blocking and history of the chosen database."""
    params = parse_query(ActivityQuery)
    return jsonify(service.activity(runtime(), params.database, *_range(params)))


@bp.get("/diagnostics/activity/export")
@roles(*READERS)
@operation(
    "Download the live sessions or the remembered ones as CSV or JSON; audited",
    query=ActivityExportQuery,
    files=FILES,
    errors=LIVE_ERRORS,
)
def export_activity():
    """Stream one table of the section as an attachment."""
    params = parse_query(ActivityExportQuery)
    return attachment(
        service.export(
            runtime(),
            params.database,
            params.table,
            *_range(params),
            params.format,
            actor=current_account().name,
            remote_addr=request.remote_addr,
        )
    )


@bp.post("/diagnostics/activity/<pid>/cancel")
@roles("admin")
@operation(
    "Cancel the running query of a backend (pg_cancel_backend); audited",
    query=DatabaseQuery,
    response=SignalOut,
    errors=LIVE_ERRORS,
)
def cancel(pid: Pid):
    """Cancel; 403 for Pulseboard's own and non-client backends, 404 for no such pid."""
    params = parse_query(DatabaseQuery)
    return jsonify(
        service.cancel(
            runtime(), params.database, int(pid), current_account().name, request.remote_addr
        )
    )


@bp.post("/diagnostics/activity/<pid>/terminate")
@roles("admin")
@operation(
    "Terminate a backend's session (pg_terminate_backend), rolling back its transaction; audited",
    query=DatabaseQuery,
    response=SignalOut,
    errors=LIVE_ERRORS,
)
def terminate(pid: Pid):
    """Terminate; 403 for Pulseboard's own and non-client backends, 404 for no such pid."""
    params = parse_query(DatabaseQuery)
    return jsonify(
        service.terminate(
            runtime(), params.database, int(pid), current_account().name, request.remote_addr
        )
    )
