"""Log ingest over HTTP: ``POST /api/v1/logs``."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from app.api.errors import ApiError
from app.api.models import IngestAccepted, LogRecordIn
from app.api.spec import operation
from app.auth import roles
from app.runtime import runtime
from app.services import ingest as service

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
