"""Logs over HTTP: ingest (``POST /api/v1/logs``), search, histogram and export."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request
from pydantic import ValidationError

from app.api.errors import ApiError, from_validation_error
from app.api.models import (
    IngestAccepted,
    LogBatch,
    LogCount,
    LogExportRequest,
    LogHistogram,
    LogPage,
    LogSearchQuery,
)
from app.api.spec import MAX_BODY, operation, parse_body, parse_query
from app.api.streams import attachment
from app.auth import READERS, current_account, roles
from app.runtime import runtime
from app.services import ingest as service
from app.services import log_export, log_search

bp = Blueprint("logs", __name__, url_prefix="/api/v1")


@bp.post("/logs")
@roles("ingest", "admin")
@operation(
    "Ingest log records: NDJSON (application/x-ndjson, one record a line) or a JSON array "
    "(application/json) of these records, optionally Content-Encoding: gzip; all or nothing",
    body=LogBatch,
    response=IngestAccepted,
    errors=(400, 401, 403, 413, 415, 429, 503),
)
def ingest_logs():
    """Validate the whole batch, store it in one transaction, answer after the commit."""
    accepted = service.ingest(
        runtime(),
        request.stream,
        content_type=request.content_type,
        content_encoding=request.headers.get("Content-Encoding"),
        content_length=request.content_length,
        remote_addr=request.remote_addr,
    )
    return jsonify({"accepted": accepted})


@bp.get("/admin/logs")
@roles(*READERS)
@operation(
    "Search logs in the query language, newest first, keyset-paged",
    query=LogSearchQuery,
    response=LogPage,
)
def search_logs():
    """Matching records and the cursor of the next page."""
    params = parse_query(LogSearchQuery)
    return jsonify(
        log_search.search(
            runtime(), _query(params), params.from_, params.to, params.cursor, params.limit
        )
    )


@bp.get("/admin/logs/histogram")
@roles(*READERS)
@operation(
    "Counts per level per time bucket for a query", query=LogSearchQuery, response=LogHistogram
)
def logs_histogram():
    """What the level histogram above the Logs table shows."""
    params = parse_query(LogSearchQuery)
    return jsonify(
        log_search.histogram(
            runtime(), _query(params), params.from_, params.to, params.buckets, time.time()
        )
    )


@bp.get("/admin/logs/count")
@roles(*READERS)
@operation(
    "How many records match a query: exact up to 100,000, an estimate past that",
    query=LogSearchQuery,
    response=LogCount,
)
def count_logs():
    """Matching records counted, or estimated when there are too many to count quickly."""
    params = parse_query(LogSearchQuery)
    return jsonify(log_search.count(runtime(), _query(params), params.from_, params.to))


def _query(params: LogSearchQuery):
    return log_search.build_query(params.q, params.level, params.source, params.host)


FORM = "application/x-www-form-urlencoded"


@bp.post("/admin/logs/export")
@roles(*READERS)
@operation(
    "Export the matching records oldest first as CSV, JSON or NDJSON, optionally gzip, "
    "streamed as a file download; the body may also come as an HTML form post "
    "(application/x-www-form-urlencoded, with csrf_token for a browser session)",
    body=LogExportRequest,
    errors=(400, 401, 403, 413, 415, 503),
)
def export_logs():
    """Stream the whole result as an attachment named after the time range; audited."""
    params = _export_request()
    download = log_export.export(
        runtime(),
        q=params.q,
        level=params.level,
        source=params.source,
        host=params.host,
        start=params.from_,
        end=params.to,
        fmt=params.format,
        gzip=params.gzip,
        actor=current_account().name,
        remote_addr=request.remote_addr,
        now=time.time(),
    )
    return attachment(download)


def _export_request() -> LogExportRequest:
    """The export body, from JSON or from a form (where empty fields mean "not given")."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "too_large", f"Request body larger than {MAX_BODY} bytes.")
    if request.is_json:
        return parse_body(LogExportRequest)
    if request.mimetype != FORM:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Send the body as application/json or {FORM}.",
            {"body": f"expected Content-Type: application/json or {FORM}"},
        )
    data = {k: v for k, v in request.form.items() if k != "csrf_token" and v != ""}
    try:
        return LogExportRequest.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from None
