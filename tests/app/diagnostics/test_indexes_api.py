"""GET /diagnostics/indexes and /tables: the hints of indexes and tables a test creates."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from tests.app.auth_helpers import bearer, make_token, runtime_of
from tests.pg_locks import fresh_database, libpq
from tests.services import pg_admin_url

INDEXES = "/api/v1/admin/diagnostics/indexes"
TABLES = "/api/v1/admin/diagnostics/tables"


@pytest.fixture(scope="module")
def watched() -> Iterator[str]:
    """A database with an unused index, a duplicate one, and a sequence nearly full."""
    with fresh_database(pg_admin_url()) as url:
        with psycopg.connect(libpq(url), autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE orders (id serial PRIMARY KEY, customer int, placed date);"
                "CREATE INDEX orders_placed ON orders (placed);"
                "CREATE INDEX orders_customer ON orders (customer);"
                "CREATE INDEX orders_customer_placed ON orders (customer, placed);"
                "CREATE TABLE tickets (id smallserial PRIMARY KEY);"
                "SELECT setval('tickets_id_seq', 30000);"
            )
        yield url


@pytest.fixture
def client_of(make_app, watched):
    """A test client of an app watching ``watched``, and an analyst's headers."""
    app = make_app(monitor_postgres=(watched,))
    return app, bearer(make_token(app, "analyst"))


def test_unused_and_duplicate_indexes_the_test_made_are_reported_with_their_fix(client_of):
    app, analyst = client_of
    body = app.server.test_client().get(INDEXES, headers=analyst).get_json()
    unused = {row["index"]: row for row in body["unused"]["items"]}
    assert {"orders_placed", "orders_customer", "orders_customer_placed"} <= set(unused)
    assert "orders_pkey" not in unused  # a primary key is never "unused"
    assert unused["orders_placed"]["fix"] == 'DROP INDEX CONCURRENTLY "public"."orders_placed";'
    [duplicate] = body["duplicate"]["items"]
    assert duplicate["index"] == "orders_customer"
    assert duplicate["covered_by"] == "orders_customer_placed"
    assert body["invalid"]["items"] == [] and body["missing"]["items"] == []
    assert body["unused"]["advice"] and body["duplicate"]["title"] == "Duplicate indexes"


def test_tables_report_a_sequence_near_its_column_limit_and_every_database_age(client_of, watched):
    app, analyst = client_of
    body = app.server.test_client().get(TABLES, headers=analyst).get_json()
    [tickets] = [r for r in body["sequences"]["items"] if r["sequence"] == "tickets_id_seq"]
    assert tickets["limit"] == 32767 and tickets["percent_used"] > 90
    assert tickets["fix"] == 'ALTER TABLE "public"."tickets" ALTER COLUMN "id" TYPE bigint;'
    ages = {row["database"]: row for row in body["wraparound"]["items"]}
    assert ages[watched.rsplit("/", 1)[1]]["xid_age"] >= 0
    assert {"maintenance", "cache"} <= set(body)


def test_hints_download_as_csv_and_json_and_bad_input_is_named(client_of):
    app, analyst = client_of
    client = app.server.test_client()
    csv = client.get(f"{INDEXES}/export?kind=duplicate&format=csv", headers=analyst)
    assert csv.status_code == 200
    header, *rows = csv.get_data(as_text=True).splitlines()
    assert header == "schema,table,index,covered_by,size_bytes,definition,fix"
    assert len(rows) == 1 and "orders_customer" in rows[0]
    sequences = client.get(f"{TABLES}/export?kind=sequences&format=json", headers=analyst)
    assert any(row["sequence"] == "tickets_id_seq" for row in json.loads(sequences.get_data()))
    for path, query, field in (
        (f"{INDEXES}/export", "kind=bloat", "kind"),
        (f"{TABLES}/export", "kind=unused", "kind"),
        (f"{TABLES}/export", "format=xml", "format"),
        (INDEXES, "database=elsewhere:5432/db", "database"),
        (TABLES, "databases=x", "databases"),
    ):
        response = client.get(f"{path}?{query}", headers=analyst)
        assert 400 <= response.status_code < 500, (path, query)
        assert field in response.get_json()["error"]["fields"], (path, query)
    actions = [e.action for e in runtime_of(app).accounts.list_audit(action="diagnostics.")]
    assert actions.count("diagnostics.indexes.export") == 1
    assert actions.count("diagnostics.tables.export") == 1
