"""GET /api/v1/admin/diagnostics/endpoints and its export: percentiles per route from the
stored buckets, one route's heatmap, slow requests with their trace ids and log lines."""

from __future__ import annotations

import csv
import io
import logging
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from app.api.diagnostics.endpoints import EndpointsOut
from app.services.log_view import url_window
from storage.diagnostics.endpoints import EndpointCounts, EndpointStore
from storage.models import BUCKET_COLUMNS, endpoint_histograms
from tests.app.auth_helpers import bearer, make_token, runtime_of

API = "/api/v1/admin/diagnostics/endpoints"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def record_interval(app) -> None:
    """Run the leader job that stores what the request timings counted (as the leader)."""
    scheduler = runtime_of(app).scheduler
    assert scheduler.lock.try_acquire()
    next(j for j in scheduler.jobs if j.name == "endpoints-record").fn()


@pytest.fixture
def slow_app(make_app, database_url):
    """An app (on each backend) that keeps every request as a slow one."""
    return make_app(database_url=database_url, slow_request_ms=0)


def test_percentiles_heatmap_and_slow_requests_of_real_requests(slow_app):
    app = slow_app
    client = app.server.test_client()
    headers = bearer(make_token(app, "analyst"))
    record_interval(app)  # the baseline
    timings = runtime_of(app).timings
    for seconds in [0.004] * 60 + [0.04] * 30 + [0.4] * 10:
        timings.record("/api/orders/<int:id>", "GET", 200, seconds)
    timings.record("/api/orders/<int:id>", "GET", 503, 0.4)
    answer = client.get(
        "/api/v1/admin/monitoring/health?verbose=1", headers={**headers, "traceparent": TRACEPARENT}
    )
    assert answer.headers["X-Request-Id"] == TRACE_ID
    record_interval(app)

    body = client.get(API, headers=headers).get_json()
    EndpointsOut.model_validate(body)  # as the OpenAPI document says
    orders = next(i for i in body["items"] if i["route"] == "/api/orders/<int:id>")
    assert orders["count"] == 101
    assert orders["error_rate"] == pytest.approx(1 / 101)
    assert 0.003 <= orders["p50"] <= 0.005
    assert 0.3 <= orders["p95"] <= 0.5
    assert sum(n for _, n in orders["buckets"]) == 101
    assert orders["buckets"][-1] == ["+Inf", 0]
    slow = next(s for s in body["slowest"] if s["trace_id"] == TRACE_ID)
    assert slow["route"] == "/api/v1/admin/monitoring/health"
    assert slow["path"] == "/api/v1/admin/monitoring/health"  # no query string
    assert slow["status"] == answer.status_code
    link = parse_qs(urlsplit(slow["logs"]).query)
    assert link["q"] == [f"attrs.trace_id:{TRACE_ID}"]
    around = url_window(link["from"][0], link["to"][0])
    assert around["from"] < slow["ts"] < around["to"]

    detail = client.get(
        API, query_string={"route": "/api/orders/<int:id>", "method": "get"}, headers=headers
    ).get_json()["detail"]
    assert detail["source"] == "raw"
    assert sum(n for _, _, n in detail["heatmap"]) == 101
    assert {le for _, le, _ in detail["heatmap"]} == {0.005, 0.05, 0.5}
    assert sum(p["count"] for p in detail["series"]) == 101
    assert detail["summary"]["p99"] == pytest.approx(orders["p99"])


def test_a_week_is_read_from_the_hourly_rollups_with_the_same_percentiles(make_app):
    app = make_app()
    store = EndpointStore(runtime_of(app).engine)
    now = time.time()
    start = (now // 3600 - 5) * 3600
    buckets = [0] * len(BUCKET_COLUMNS)
    buckets[2], buckets[12] = 9, 1
    for minute in range(0, 4 * 60, 10):  # four whole hours, an interval every ten minutes
        store.write(
            "h",
            start + minute * 60 + 1,
            [EndpointCounts("/a", "GET", 10, 0, 0, 1.0, tuple(buckets))],
        )
    headers = bearer(make_token(app, "analyst"))
    client = app.server.test_client()
    week = {"from": now - 7 * 86400, "to": now}
    raw = client.get(API, query_string={"from": start, "to": now}, headers=headers).get_json()
    store.rollup(now)
    with store.engine.begin() as conn:  # the intervals are gone: only the rollups answer
        conn.execute(endpoint_histograms.delete().where(endpoint_histograms.c.step == 0))
    rolled = client.get(API, query_string=week, headers=headers).get_json()
    assert rolled["source"] == "rollup_1h"
    (before,), (after,) = raw["items"], rolled["items"]
    assert after["count"] == before["count"] == 240
    for q in ("p50", "p95", "p99"):
        assert after[q] == pytest.approx(before[q])


def test_log_lines_within_a_request_carry_its_trace_id(make_app):
    app = make_app()
    rt = runtime_of(app)
    with app.server.test_request_context("/x", headers={"X-Request-Id": "req-42"}):
        logging.getLogger("pulseboard.test").warning("inside a request")
    logging.getLogger("pulseboard.test").warning("outside any request")
    rt.log_handler.flush()
    client = app.server.test_client()
    found = client.get(
        "/api/v1/admin/logs",
        query_string={"q": "attrs.trace_id:req-42", "from": time.time() - 60},
        headers=bearer(make_token(app, "admin")),
    ).get_json()["items"]
    assert [r["message"] for r in found] == ["inside a request"]


def test_the_tables_download_as_csv_and_json_and_are_audited(make_app):
    app = make_app(slow_request_ms=0)
    client = app.server.test_client()
    headers = bearer(make_token(app, "admin"))
    record_interval(app)
    runtime_of(app).timings.record("/api/a", "POST", 201, 0.02)
    client.get("/healthz", headers={"X-Request-Id": "probe-1"})
    record_interval(app)
    routes = client.get(f"{API}/export", query_string={"format": "csv"}, headers=headers)
    assert routes.status_code == 200
    assert "pulseboard-endpoints-routes-" in routes.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(routes.get_data(as_text=True))))
    assert {(r["route"], r["method"], r["count"]) for r in rows} >= {("/api/a", "POST", "1")}
    slow = client.get(
        f"{API}/export",
        query_string={"format": "json", "table": "slow", "route": "/healthz"},
        headers=headers,
    ).get_json()
    assert [s["trace_id"] for s in slow] == ["probe-1"]
    actions = [e.action for e in runtime_of(app).accounts.list_audit(limit=10)]
    assert actions.count("diagnostics.endpoints.export") == 2


BAD_EITHER = [
    ({"from": "yesterday"}, "from"),
    ({"from": "2026-01-02", "to": "2026-01-01"}, "from"),
    ({"limit": "0"}, "limit"),
    ({"limit": "100000"}, "limit"),
    ({"method": "G3T", "route": "/a"}, "method"),
    ({"route": "/a\x00", "method": "GET"}, "route"),
    ({"route": "x" * 301, "method": "GET"}, "route"),
    ({"bogus": "1"}, "bogus"),
]
"""Refused by the view and by the export."""
BAD_VIEW = [({"route": "/a"}, "method"), ({"method": "GET"}, "route")]
"""Refused by the view only: the detail is of one route and method, while the export's
slow requests may be filtered by either alone."""


def test_bad_input_is_a_400_naming_the_field(make_app):
    app = make_app()
    client = app.server.test_client()
    headers = bearer(make_token(app, "analyst"))
    cases = [(API, q, f) for q, f in BAD_EITHER + BAD_VIEW]
    cases += [(f"{API}/export", q, f) for q, f in BAD_EITHER]
    for path, query, field in cases:
        answer = client.get(path, query_string=query, headers=headers)
        assert answer.status_code == 400, (path, query, answer.get_json())
        assert field in answer.get_json()["error"]["fields"], (path, query, answer.get_json())


def test_export_formats_and_tables_are_checked_and_roles_hold(make_app):
    app = make_app()
    client = app.server.test_client()
    analyst = bearer(make_token(app, "analyst"))
    for query, field in (({"format": "xml"}, "format"), ({"table": "users"}, "table")):
        answer = client.get(f"{API}/export", query_string=query, headers=analyst)
        assert answer.status_code == 400
        assert field in answer.get_json()["error"]["fields"]
    assert client.get(API).status_code == 401
    assert client.get(API, headers=bearer(make_token(app, "ingest"))).status_code == 403
