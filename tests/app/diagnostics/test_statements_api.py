"""The Statements API: the ranking over a range, one statement's history, EXPLAIN with its
role rules, the download, what it says when there is nothing to read, and bad input."""

from __future__ import annotations

import json

import psycopg
import pytest

from app.callbacks.diagnostics.statements import ranking
from collectors.pg_connection import libpq_url, target_name
from collectors.pg_statements import StatementCollector
from storage.diagnostics.statements import StatementStore
from tests.app.auth_helpers import bearer, make_token, runtime_of

BASE = "/api/v1/admin/diagnostics"
SLOW = "SELECT pg_sleep(0.1)"


def run(url: str, *statements: str) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture
def watched(make_app, statements_pg_url):
    """An app watching a database in which a slow statement ran between 1000 and 1060,
    and only fast ones between 1060 and 1120."""
    app = make_app(monitor_postgres=(statements_pg_url,))
    collector = StatementCollector([statements_pg_url], StatementStore(runtime_of(app).engine))
    run(statements_pg_url, "CREATE TABLE t (id int)")
    collector.collect(1000.0)
    run(statements_pg_url, *["SELECT 1"] * 10, SLOW, SLOW)
    collector.collect(1060.0)
    run(statements_pg_url, *["SELECT 1"] * 10)
    collector.collect(1120.0)
    collector.close()
    return app, target_name(statements_pg_url)


def get(app, path: str, role: str = "analyst", **params):
    return app.server.test_client().get(
        f"{BASE}{path}", query_string=params, headers=bearer(make_token(app, role))
    )


def explain(app, role: str = "analyst", **body):
    return app.server.test_client().post(
        f"{BASE}/explain", json=body, headers=bearer(make_token(app, role))
    )


def test_the_slow_statement_tops_the_range_that_holds_it_and_downloads(watched):
    app, database = watched
    holding = get(app, "/statements", **{"from": 1000, "to": 1100, "database": database})
    assert holding.status_code == 200, holding.get_json()
    body = holding.get_json()
    assert body["available"] is True and "reason" not in body
    top = body["items"][0]
    assert top["query"] == "SELECT pg_sleep($1)" and top["calls"] == 2
    assert top["mean_time_ms"] >= 100 and 0 < top["share_of_total"] <= 1
    assert top["database"] == database
    later = get(app, "/statements", **{"from": 1100, "to": 1200}).get_json()
    assert "SELECT pg_sleep($1)" not in [i["query"] for i in later["items"]]
    by_calls = get(app, "/statements", order="calls", limit=1, **{"from": 1000, "to": 1200})
    assert [i["query"] for i in by_calls.get_json()["items"]] == ["SELECT $1"]

    # The download holds the same ranking.
    csv = get(app, "/statements/export", format="csv", **{"from": 1000, "to": 1100})
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0].startswith("database,queryid,query,calls,total_time_ms")
    assert "SELECT pg_sleep($1)" in lines[1]
    data = get(
        app, "/statements/export", format="json", order="calls", **{"from": 1000, "to": 1100}
    )
    rows = json.loads(data.get_data(as_text=True))
    assert rows[0]["query"] == "SELECT $1" and rows[0]["calls"] == 10
    actions = [a.action for a in runtime_of(app).accounts.list_audit()]
    assert actions.count("diagnostics.statements.export") == 2


def test_a_statement_shows_its_text_and_history(watched):
    app, database = watched
    items = get(app, "/statements", **{"from": 1000, "to": 1200}).get_json()["items"]
    queryid = next(i["queryid"] for i in items if i["query"] == "SELECT $1")
    detail = get(app, f"/statements/{queryid}", **{"from": 1000, "to": 1200})
    assert detail.status_code == 200, detail.get_json()
    body = detail.get_json()
    assert body["query"] == "SELECT $1" and body["database"] == database
    assert body["calls"] == 20
    assert [p["calls"] for p in body["history"]] == [10, 10]
    assert get(app, "/statements/12345", **{"from": 1000, "to": 1200}).status_code == 404
    bad = get(app, "/statements/drop-table")
    assert bad.status_code == 400 and "queryid" in bad.get_json()["error"]["fields"]


def test_explain_gives_plans_and_analyze_is_for_admins_only_and_audited(watched):
    app, database = watched
    plain = explain(app, database=database, query="SELECT * FROM t WHERE id = 7")
    assert plain.status_code == 200, plain.get_json()
    body = plain.get_json()
    assert body["plan"][0]["Plan"]["Node Type"] == "Seq Scan" and "Seq Scan on t" in body["text"]
    assert explain(app, database=database, query="DELETE FROM t").status_code == 200
    refused = explain(app, database=database, query="SELECT count(*) FROM t", analyze=True)
    assert refused.status_code == 403
    analyzed = explain(
        app, "admin", database=database, query="SELECT count(*) FROM t", analyze=True
    )
    assert analyzed.status_code == 200 and "actual time" in analyzed.get_json()["text"]
    audit = runtime_of(app).accounts.list_audit(action="diagnostics.explain.analyze")
    assert [(a.target, a.details["query"]) for a in audit] == [(database, "SELECT count(*) FROM t")]
    dml = explain(app, "admin", database=database, query="DELETE FROM t", analyze=True)
    assert dml.status_code == 400 and "never done for" in dml.get_json()["error"]["fields"]["query"]


BAD_EXPLAINS = [
    ({"query": "SELECT * FROM t WHERE id = $1"}, "query", "paste it with values"),
    ({"query": "SELECT 1; SELECT 2"}, "query", "more than one statement"),
    ({"query": "TRUNCATE t"}, "query", "must be a SELECT"),
    ({"query": "SELECT * FROM nowhere"}, "query", "PostgreSQL refused it"),
    ({"query": ""}, "query", "at least 1"),
    ({"query": "SELECT 1", "database": "elsewhere:5432/x"}, "database", "not a watched"),
    ({"query": "SELECT 1", "analyze": "yes"}, "analyze", "boolean"),
    ({"query": "SELECT 1", "extra": 1}, "extra", "not permitted"),
    ({"database": 5, "query": "SELECT 1"}, "database", "string"),
]
BAD_RANKINGS = [
    ({"order": "fastest"}, "order"),
    ({"limit": 0}, "limit"),
    ({"limit": 100000}, "limit"),
    ({"from": 2000, "to": 1000}, "from"),
    ({"from": "yesterday"}, "from"),
    ({"database": "elsewhere:5432/x"}, "database"),
    ({"colour": "red"}, "colour"),
]


def test_bad_input_is_refused_naming_the_field(watched):
    app, database = watched
    for body, field, says in BAD_EXPLAINS:
        response = explain(app, **{"database": database, **body})
        assert response.status_code == 400, (body, response.get_json())
        assert says in response.get_json()["error"]["fields"][field], body
    for params, field in BAD_RANKINGS:
        response = get(app, "/statements", **params)
        assert response.status_code == 400, params
        assert field in response.get_json()["error"]["fields"], params
    for params, field in BAD_RANKINGS[:5]:
        response = get(app, "/statements/export", **params)
        assert response.status_code == 400, params
        assert field in response.get_json()["error"]["fields"], params
    assert get(app, "/statements/export", format="xml").status_code == 400
    detail = get(app, "/statements/1", **{"from": 2000, "to": 1000})
    assert detail.status_code == 400 and "from" in detail.get_json()["error"]["fields"]


def test_only_admins_and_analysts_read_statements(make_app):
    app = make_app()
    assert get(app, "/statements", role="ingest").status_code == 403
    assert app.server.test_client().get(f"{BASE}/statements").status_code == 401


def test_without_the_extension_the_api_says_what_to_change(make_app, pg_url, statements_pg_url):
    app = make_app(monitor_postgres=(pg_url,))
    body = get(app, "/statements").get_json()
    assert body["available"] is False and body["items"] == []
    assert "shared_preload_libraries = 'pg_stat_statements'" in body["reason"]
    assert "CREATE EXTENSION" in body["reason"]
    # Of two databases, the one that can be read is shown and the other named.
    both = make_app(monitor_postgres=(statements_pg_url, pg_url))
    body = get(both, "/statements").get_json()
    assert body["available"] is True
    assert body["reason"].startswith(f"{target_name(pg_url)}: pg_stat_statements is not loaded")
    alone = get(both, "/statements", database=target_name(statements_pg_url)).get_json()
    assert alone["available"] is True and "reason" not in alone


def test_with_nothing_watched_the_api_says_how_to_add_a_database(make_app):
    body = get(make_app(), "/statements").get_json()
    assert body == {"available": False, "reason": body["reason"], "items": []}
    assert "PULSEBOARD_MONITOR_POSTGRES" in body["reason"]


def test_the_page_shows_what_to_change_when_there_is_nothing_to_read(make_app):
    app = make_app()
    with app.server.test_request_context():
        rows, notice, csv, _ = ranking("1h", None, "", "total_time")
    assert rows == [] and "PULSEBOARD_MONITOR_POSTGRES" in str(notice)
    assert csv.startswith("/api/v1/admin/diagnostics/statements/export?")


def test_the_leader_collects_statements_only_when_a_database_is_watched(
    make_app, statements_pg_url
):
    jobs = {
        j.name: j
        for j in runtime_of(make_app(monitor_postgres=(statements_pg_url,))).scheduler.jobs
    }
    assert jobs["statements"].fn() == 0  # the first reading: the baseline
    run(statements_pg_url, SLOW)
    assert jobs["statements"].fn() > 0
    assert jobs["statements-maintain"].fn() == 0
    idle = {j.name for j in runtime_of(make_app()).scheduler.jobs}
    assert not idle & {"statements", "statements-maintain"}
