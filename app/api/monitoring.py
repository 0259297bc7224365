"""Monitoring endpoints: liveness, health, metrics catalogue and series, OpenAPI."""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, Response, current_app, jsonify, request

from app.api.errors import DATABASE_RETRY_AFTER, ApiError
from app.api.models import (
    Catalogue,
    DiagnosticsSummary,
    HealthResponse,
    Liveness,
    MetricsQuery,
    RangeQuery,
    SeriesResponse,
)
from app.api.spec import openapi_document, operation, parse_query
from app.auth import READERS, public, roles
from app.runtime import runtime
from app.services import health as health_service
from app.services import metrics as metrics_service
from app.services import prometheus, timerange
from app.services.diagnostics import summary as diagnostics_summary

bp = Blueprint("monitoring", __name__)


@bp.get("/healthz")
@public
@operation("Liveness: the process answers", response=Liveness, errors=())
def healthz():
    """Answer as long as the process serves requests."""
    return jsonify({"status": "ok"})


@bp.get("/api/v1/openapi.json")
@public
def openapi():
    """The OpenAPI document generated from the declared models."""
    return jsonify(openapi_document(current_app))


@bp.get("/metrics")
@public
def prometheus_metrics():
    """Prometheus exposition; with PULSEBOARD_METRICS_TOKEN set, that bearer token is needed."""
    rt = runtime()
    expected = rt.settings.metrics_token
    if expected:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip(), expected):
            raise ApiError(401, "unauthorized", "Send the metrics token as a bearer token.")
    return Response(
        prometheus.render(rt), mimetype=None, headers={"Content-Type": prometheus.CONTENT_TYPE}
    )


@bp.get("/api/v1/admin/monitoring/health")
@roles(*READERS)
@operation(
    "Health of the database, Redis, scheduler, collectors and disk",
    response=HealthResponse,
    errors=(401, 403, 503),
)
def health():
    """Overall and per-component health; 503 with Retry-After when Pulseboard is down."""
    report = health_service.check_health(runtime(), time.time())
    if report["status"] == "down":
        return jsonify(report), 503, {"Retry-After": str(DATABASE_RETRY_AFTER)}
    return jsonify(report)


@bp.get("/api/v1/admin/monitoring/metrics")
@roles(*READERS)
@operation(
    "Metric catalogue with latest values, or bucketed series with name=",
    query=MetricsQuery,
    response=Catalogue | SeriesResponse,
)
def metrics():
    """The catalogue, or with ``name`` the bucketed series over a range."""
    query = parse_query(MetricsQuery)
    rt = runtime()
    if not query.name:
        return jsonify(metrics_service.catalogue(rt, host=query.host))
    result = metrics_service.series(
        rt, query.name, query.from_, query.to, query.host, query.max_points, time.time()
    )
    return jsonify(result)


@bp.get("/api/v1/admin/monitoring/diagnostics")
@roles(*READERS)
@operation(
    "Diagnostics summary over a range (default the last hour): the slowest statements, "
    "each route's latency distribution, the top error groups, every dependency's status and "
    "Pulseboard's database pool; a part that cannot answer now is empty and named in "
    "`unavailable`",
    query=RangeQuery,
    response=DiagnosticsSummary,
)
def diagnostics():
    """The top of every Diagnostics section in one answer."""
    params = parse_query(RangeQuery)
    now = time.time()
    start, end = timerange.api_range(params.from_, params.to, now)
    return jsonify(diagnostics_summary.summary(runtime(), start, end, now))
