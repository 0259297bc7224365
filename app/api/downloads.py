"""Downloads of what the pages show: metric series and the audit log as CSV or JSON."""

from __future__ import annotations

import time
from typing import Literal

from flask import Blueprint, request
from pydantic import BaseModel, ConfigDict, Field

from app.api.models import MetricsQuery, ShortText, Timestamp
from app.api.spec import operation, parse_query
from app.api.streams import attachment
from app.auth import READERS, current_account, roles
from app.runtime import runtime
from app.services import exports
from app.services.downloads import CONTENT_TYPES

bp = Blueprint("downloads", __name__, url_prefix="/api/v1/admin")

TableFormat = Literal["csv", "json"]
FILES = (CONTENT_TYPES["csv"], CONTENT_TYPES["json"])


class MetricsExportQuery(MetricsQuery):
    """Query string of GET /api/v1/admin/monitoring/metrics/export: the series query's."""

    name: list[ShortText] = Field(
        min_length=1, max_length=50, description="Metric name; repeat for several"
    )
    format: TableFormat = Field("csv", description="File format")


class AuditExportQuery(BaseModel):
    """Query string of GET /api/v1/admin/audit/export: the audit log's filters."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    actor: ShortText | None = None
    action: ShortText | None = Field(None, description="An action, or a prefix ending in '.'")
    from_: Timestamp | None = Field(None, alias="from")
    to: Timestamp | None = None
    format: TableFormat = Field("csv", description="File format")


@bp.get("/monitoring/metrics/export")
@roles(*READERS)
@operation(
    "Download the bucketed points of series as CSV or JSON (name, host, labels, ts, avg, "
    "min, max), exactly as the series query returns them; audited",
    query=MetricsExportQuery,
    files=FILES,
)
def export_metrics():
    """Stream the series as an attachment named after the metrics and the range."""
    params = parse_query(MetricsExportQuery)
    return attachment(
        exports.series_export(
            runtime(),
            params.name,
            params.from_,
            params.to,
            params.host,
            params.max_points,
            params.format,
            actor=current_account().name,
            remote_addr=request.remote_addr,
            now=time.time(),
        )
    )


@bp.get("/audit/export")
@roles("admin")
@operation(
    "Download every audit entry matching the filters, newest first, as CSV or JSON; audited",
    query=AuditExportQuery,
    files=FILES,
)
def export_audit():
    """Stream the matching audit entries, with no page limit, as an attachment."""
    params = parse_query(AuditExportQuery)
    return attachment(
        exports.audit_export(
            runtime(),
            by=params.actor,
            action=params.action,
            start=params.from_,
            end=params.to,
            fmt=params.format,
            actor=current_account().name,
            remote_addr=request.remote_addr,
            now=time.time(),
        )
    )
