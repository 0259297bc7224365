"""GET /api/v1/admin/monitoring/diagnostics: the top of every section in one answer, and
a part that cannot answer left empty and named rather than failing the whole summary."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import psycopg

from app.api.models import DiagnosticsSummary
from collectors.pg_connection import libpq_url
from collectors.pg_statements import StatementCollector
from storage.diagnostics.statements import StatementStore
from storage.logs import LogEntry
from tests.app.auth_helpers import bearer, make_token, runtime_of

API = "/api/v1/admin/monitoring/diagnostics"
SLOW = "SELECT pg_sleep(0.05)"


def summary(app, role: str = "analyst", **params):
    return app.server.test_client().get(
        API, query_string=params, headers=bearer(make_token(app, role))
    )


def test_the_summary_holds_the_top_of_every_section(make_app, statements_pg_url):
    app = make_app(monitor_postgres=(statements_pg_url,))
    rt = runtime_of(app)
    now = time.time()
    collector = StatementCollector([statements_pg_url], StatementStore(rt.engine))
    collector.collect(now - 60)
    with psycopg.connect(libpq_url(statements_pg_url), autocommit=True) as conn:
        for _ in range(3):
            conn.execute(SLOW)
    collector.collect(now - 30)
    collector.close()
    rt.timings.record("/api/orders", "GET", 200, 0.02)
    recorder = next(j for j in rt.scheduler.jobs if j.name == "endpoints-record")
    assert rt.scheduler.lock.try_acquire()
    recorder.fn()
    moment = datetime.fromtimestamp(now - 10, UTC)
    rt.logs.write([LogEntry(moment, "error", "api", "web-1", "payment 4711 failed")] * 2)
    admin = bearer(make_token(app, "admin"))
    client = app.server.test_client()
    made = client.post(
        "/api/v1/admin/checks",
        json={"name": "self", "kind": "tcp", "host": "127.0.0.1", "port": 9},
        headers=admin,
    )
    assert made.status_code == 201, made.get_json()

    answer = summary(app, **{"from": now - 300})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    DiagnosticsSummary.model_validate(body)  # as the OpenAPI document says
    assert body["unavailable"] == {}
    assert body["slow_queries"][0]["query"].startswith("SELECT pg_sleep")
    assert body["slow_queries"][0]["calls"] == 3
    orders = next(e for e in body["endpoints"] if e["route"] == "/api/orders")
    assert orders["count"] == 1 and sum(n for _, n in orders["buckets"]) == 1
    group = body["error_groups"][0]
    assert group["count"] == 2 and group["title"] == "payment <int> failed"
    kinds = {d["name"]: d["kind"] for d in body["dependencies"]}
    assert kinds["self"] == "tcp" and kinds["scheduler"] == "scheduler"
    assert set(body["db_pool"]) == {"size", "in_use", "overflow", "waiting"}


def test_a_part_that_cannot_answer_is_named_and_the_rest_still_shown(make_app):
    app = make_app()  # SQLite, nothing watched: no statements to rank
    body = summary(app).get_json()
    assert body["slow_queries"] == []
    assert "PULSEBOARD_MONITOR_POSTGRES" in body["unavailable"]["slow_queries"]
    assert set(body["unavailable"]) == {"slow_queries"}
    assert {d["name"] for d in body["dependencies"]} >= {"database", "redis", "scheduler"}


def test_roles_and_bad_ranges(make_app):
    app = make_app()
    assert summary(app, role="ingest").status_code == 403
    assert app.server.test_client().get(API).status_code == 401
    backwards = summary(app, **{"from": 2000, "to": 1000})
    assert backwards.status_code == 400
    assert "from" in backwards.get_json()["error"]["fields"]
    assert summary(app, **{"from": "yesterday"}).get_json()["error"]["fields"].keys() == {"from"}
    assert summary(app, extra="1").status_code == 400
