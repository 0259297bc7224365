"""Diagnostics API · Checks: dependency checks (GET for readers; changes for admins) and
the download of their table."""

from __future__ import annotations

import time

from flask import jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from app.api.alert_models import IsoTime
from app.api.diagnostics.blueprint import bp
from app.api.downloads import FILES, TableFormat
from app.api.models import RowId
from app.api.spec import operation, parse_body, parse_query
from app.api.streams import attachment
from app.auth import READERS, current_account, roles
from app.runtime import runtime
from app.services.accounts import Actor
from app.services.diagnostics import checks as service
from app.services.diagnostics.checks import CheckBody

ACTION = (400, 401, 403, 404, 409, 413, 415)


class Uptime(BaseModel):
    """Percent of successful probes over each span (None: no probe in it)."""

    model_config = ConfigDict(populate_by_name=True)

    h24: float | None = Field(alias="24h")
    d7: float | None = Field(alias="7d")
    d30: float | None = Field(alias="30d")


class CheckOut(BaseModel):
    """A check with its latest result."""

    id: int
    name: str
    kind: str
    enabled: bool
    url: str | None = None
    expect_status: int | None = None
    keyword: str | None = None
    verify_tls: bool | None = None
    host: str | None = None
    port: int | None = None
    interval: int
    timeout: float
    target: str = Field(description="The URL, host:port or the name resolved")
    up: bool | None = Field(description="The last probe's outcome; None before the first")
    latency_ms: float | None
    detail: str
    last_run_at: IsoTime | None
    cert_expiry: IsoTime | None = Field(description="When the HTTPS certificate expires")
    cert_expires_in_days: float | None
    uptime: Uptime
    created_by: str | None
    created_at: IsoTime | None
    updated_at: IsoTime | None


class CheckList(BaseModel):
    """Every check, by name."""

    items: list[CheckOut]


class ChecksExportQuery(BaseModel):
    """Query string of GET /api/v1/admin/diagnostics/checks/export."""

    model_config = ConfigDict(extra="forbid")

    format: TableFormat = Field("csv", description="File format")


def _actor() -> Actor:
    return Actor(current_account(), request.remote_addr)


@bp.get("/checks")
@roles(*READERS)
@operation("Every dependency check with its latest result and uptime", response=CheckList)
def list_checks():
    """The checks by name."""
    return jsonify({"items": service.list_checks(runtime(), time.time())})


@bp.post("/checks")
@roles("admin")
@operation(
    "Create a dependency check (http: url; tcp: host and port; dns: host, the name to "
    "resolve, which defaults to the check's name); the leader runs it within a second",
    body=CheckBody,
    response=CheckOut,
    status=201,
    errors=(400, 401, 403, 409, 413, 415),
)
def create_check():
    """Check and store a check; 409 naming ``name`` when it is taken."""
    body = parse_body(CheckBody)
    return jsonify(service.create_check(runtime(), _actor(), body, time.time())), 201


@bp.put("/checks/<int:check_id>")
@roles("admin")
@operation("Replace a dependency check", body=CheckBody, response=CheckOut, errors=ACTION)
def replace_check(check_id: RowId):
    """Check and store the new definition; it runs again at the next tick."""
    body = parse_body(CheckBody)
    return jsonify(service.replace_check(runtime(), _actor(), check_id, body, time.time()))


@bp.delete("/checks/<int:check_id>")
@roles("admin")
@operation("Delete a dependency check", status=204, errors=(400, 401, 403, 404))
def delete_check(check_id: RowId):
    """Delete the check; its metrics stay until retention removes them."""
    service.delete_check(runtime(), _actor(), check_id, time.time())
    return "", 204


@bp.get("/diagnostics/checks/export")
@roles(*READERS)
@operation(
    "Download the checks table (name, kind, target, up, latency, uptime 24h/7d/30d, "
    "certificate expiry, detail) as CSV or JSON; audited",
    query=ChecksExportQuery,
    files=FILES,
)
def export_checks():
    """Stream the checks table as an attachment."""
    params = parse_query(ChecksExportQuery)
    return attachment(
        service.checks_export(
            runtime(),
            params.format,
            actor=current_account().name,
            remote_addr=request.remote_addr,
            now=time.time(),
        )
    )
