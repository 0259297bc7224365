"""Logs over HTTP: ingest (``POST /api/v1/logs``), search and histogram."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request

from app.api.errors import ApiError
from app.api.models import IngestAccepted, LogHistogram, LogPage, LogRecordIn, LogSearchQuery
from app.api.spec import operation, parse_query
from app.auth import READERS, roles
from app.runtime import runtime
from app.services import ingest as service
from app.services import log_search

bp = Blueprint("logs", __name__, url_prefix="/api/v1")


@bp.post("/logs")
@roles("ingest", "admin")
@operation(
    "Ingest log records: NDJSON (application/x-ndjson, one record a line) or a JSON array "
    "(application/json) of these records, optionally Content-Encoding: gzip; all or nothing",
    body=LogRecordIn,
    response=IngestAccepted,
    errors=(400, 401, 403, 413, 415, 429, 503),
)
def ingest_logs():
    """Validate the whole batch, store it in one transaction, answer after the commit."""
    try:
        accepted = service.ingest(
            runtime(),
            request.stream,
            content_type=request.content_type,
            content_encoding=request.headers.get("Content-Encoding"),
            content_length=request.content_length,
            remote_addr=request.remote_addr,
        )
    except service.IngestRefused as exc:
        body = ApiError(exc.status, exc.code, exc.message, exc.fields).body()
        return jsonify(body), exc.status, exc.headers
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
    page = log_search.search(
        runtime(), _query(params), params.from_, params.to, params.cursor, params.limit
    )
    return jsonify({"items": [r.to_dict() for r in page.records], "next_cursor": page.next_cursor})


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


def _query(params: LogSearchQuery):
    return log_search.build_query(params.q, params.level, params.source, params.host)
