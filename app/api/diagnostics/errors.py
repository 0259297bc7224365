"""Diagnostics API · Errors: error groups over a range, one group, the download."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from flask import jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.api.diagnostics.blueprint import bp
from app.api.downloads import FILES
from app.api.models import NoNulText, Timestamp
from app.api.spec import operation, parse_query
from app.api.streams import attachment
from app.auth import READERS, current_account, roles
from app.runtime import runtime
from app.services.diagnostics import errors as service
from app.services.timerange import api_range

Fingerprint = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{1,32}$")]
IsoTime = Annotated[str, Field(description="ISO 8601, UTC")]


class ErrorsQuery(BaseModel):
    """Query string of GET /api/v1/admin/diagnostics/errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Timestamp | None = Field(None, alias="from", description="Default: 1 h before `to`")
    to: Timestamp | None = Field(None, description="End, excluded (default: now)")
    limit: int = Field(50, ge=1, le=service.MAX_GROUPS)
    new_only: bool = Field(False, description="Only groups first seen in the range")
    q: NoNulText = Field(
        "", max_length=2000, description="Only records matching this log query, e.g. source:api"
    )


class ErrorGroupQuery(BaseModel):
    """Query string of GET /api/v1/admin/diagnostics/errors/{fingerprint}."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Timestamp | None = Field(None, alias="from", description="Default: 1 h before `to`")
    to: Timestamp | None = Field(None, description="End, excluded (default: now)")


class ErrorsExportQuery(ErrorsQuery):
    """Query string of GET /api/v1/admin/diagnostics/errors/export."""

    format: Literal["csv", "json"] = Field("csv", description="File format")


class ErrorGroupOut(BaseModel):
    """An error group over the range."""

    fingerprint: str
    title: str
    level: str
    first_seen: IsoTime
    last_seen: IsoTime
    count: int = Field(description="Records in the range")
    total: int = Field(description="Records ever")
    hosts: list[str]
    sources: list[str]
    sample: str = Field(description="The latest message")
    new: bool = Field(description="First seen in the range")
    regressed: bool = Field(description="Seen again in the range after more than a quiet day")
    sparkline: list[int] = Field(description="Records per bucket over the range")


class ErrorGroupList(BaseModel):
    """The error groups of a range, most records first."""

    items: list[ErrorGroupOut]


class SeriesPoint(BaseModel):
    """The records of one bucket."""

    ts: IsoTime = Field(description="Bucket start")
    count: int


class ErrorGroupDetail(ErrorGroupOut):
    """One error group over the range, with its counts over time."""

    source: str
    regressed_at: IsoTime | None
    step: float = Field(description="Seconds per point of series")
    series: list[SeriesPoint] = Field(description="Records per step over the range")
    logs_url: str = Field(description="The Logs page showing the group's records")


def _range(params: ErrorsQuery | ErrorGroupQuery) -> tuple[float, float]:
    return api_range(params.from_, params.to, time.time())


@bp.get("/diagnostics/errors")
@roles(*READERS)
@operation("Error groups over a range", query=ErrorsQuery, response=ErrorGroupList)
def list_error_groups():
    """Groups of records at error or above, by fingerprint, most records in the range first."""
    params = parse_query(ErrorsQuery)
    start, end = _range(params)
    items = service.groups(runtime(), start, end, params.limit, params.q, params.new_only)
    return jsonify({"items": items})


@bp.get("/diagnostics/errors/export")
@roles(*READERS)
@operation(
    "Download the error groups of a range (the fields of GET /diagnostics/errors but the "
    "sparkline) as CSV or JSON; audited",
    query=ErrorsExportQuery,
    files=FILES,
)
def export_error_groups():
    """The groups GET /diagnostics/errors lists, as CSV or JSON; audited."""
    params = parse_query(ErrorsExportQuery)
    start, end = _range(params)
    return attachment(
        service.export(
            runtime(),
            start=start,
            end=end,
            limit=params.limit,
            query=params.q,
            new_only=params.new_only,
            fmt=params.format,
            actor=current_account().name,
            remote_addr=request.remote_addr,
        )
    )


@bp.get("/diagnostics/errors/<fingerprint>")
@roles(*READERS)
@operation(
    "One error group",
    query=ErrorGroupQuery,
    response=ErrorGroupDetail,
    errors=(400, 401, 403, 404),
)
def get_error_group(fingerprint: Fingerprint):
    """The group, its counts over time and the link to its records."""
    start, end = _range(parse_query(ErrorGroupQuery))
    return jsonify(service.group(runtime(), fingerprint, start, end))
