"""GET /api/v1/admin/diagnostics/errors, /errors/{fingerprint} and /errors/export on both
backends: records ingested through POST /api/v1/logs grouped, roles, the download audited,
and bad input answered with a 400 (or 404) naming the field."""

from __future__ import annotations

import json
import time

import pytest

from storage.log_fingerprint import fingerprint
from tests.app.auth_helpers import bearer, error_code, login, make_token, runtime_of

URL = "/api/v1/admin/diagnostics/errors"


@pytest.fixture
def seeded(app):
    """Three error records of two groups and an info record, sent through the ingest API."""
    now = time.time()
    records = [
        {
            "ts": now - 120,
            "level": "error",
            "source": "api",
            "host": "web-1",
            "message": "order 1 failed",
        },
        {
            "ts": now - 60,
            "level": "error",
            "source": "api",
            "host": "web-2",
            "message": "order 2 failed",
        },
        {
            "ts": now - 30,
            "level": "critical",
            "source": "db",
            "host": "db-1",
            "message": "disk full",
        },
        {
            "ts": now - 10,
            "level": "info",
            "source": "api",
            "host": "web-1",
            "message": "order 3 ok",
        },
    ]
    body = "\n".join(json.dumps(r) for r in records)
    answer = app.server.test_client().post(
        "/api/v1/logs",
        data=body,
        headers={**bearer(make_token(app, "ingest")), "Content-Type": "application/x-ndjson"},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return app


def test_ingested_errors_are_listed_as_groups_most_records_first(seeded):
    client = login(seeded, "analyst")
    items = client.get(URL, query_string={"limit": 10}).get_json()["items"]
    assert [(i["title"], i["count"], i["new"]) for i in items] == [
        ("order <int> failed", 2, True),
        ("disk full", 1, True),
    ]
    top = items[0]
    assert top["hosts"] == ["web-1", "web-2"] and top["sources"] == ["api"]
    assert top["sample"] == "order 2 failed" and top["total"] == 2
    assert sum(top["sparkline"]) == 2 and top["last_seen"].endswith("Z")
    only_db = client.get(URL, query_string={"q": "source:db"}).get_json()["items"]
    assert [i["title"] for i in only_db] == ["disk full"]


def test_one_group_in_detail_with_the_link_to_its_records(seeded):
    client = login(seeded, "analyst")
    fp = fingerprint("error", "api", "order 1 failed").fingerprint
    detail = client.get(f"{URL}/{fp}").get_json()
    assert detail["count"] == 2 and sum(p["count"] for p in detail["series"]) == 2
    assert detail["logs_url"] == f"/logs?q=fingerprint%3A{fp}&range=1h"
    logs = client.get("/api/v1/admin/logs", query_string={"q": f"fingerprint:{fp}"}).get_json()
    assert [r["message"] for r in logs["items"]] == ["order 2 failed", "order 1 failed"]


def test_the_download_holds_the_groups_and_is_audited(seeded):
    client = login(seeded, "analyst")
    answer = client.get(f"{URL}/export", query_string={"format": "csv"})
    assert answer.status_code == 200
    lines = answer.get_data(as_text=True).splitlines()
    assert lines[0].startswith("fingerprint,title,level,first_seen")
    assert len(lines) == 3
    as_json = client.get(f"{URL}/export", query_string={"format": "json"}).get_json()
    assert [g["title"] for g in as_json] == ["order <int> failed", "disk full"]
    audited = runtime_of(seeded).accounts.list_audit(action="diagnostics.errors.export")
    assert len(audited) == 2


BAD = [
    (URL, {"limit": 0}, "limit"),
    (URL, {"limit": "many"}, "limit"),
    (URL, {"from": "yesterday"}, "from"),
    (URL, {"from": 2000, "to": 1000}, "from"),
    (URL, {"new_only": "perhaps"}, "new_only"),
    (URL, {"q": '"open'}, "q"),
    (URL, {"q": "fingerprint:XYZ"}, "q"),
    (URL, {"bogus": 1}, "bogus"),
    (f"{URL}/export", {"format": "xml"}, "format"),
    (f"{URL}/NOT-HEX", {}, "fingerprint"),
    (f"{URL}/{'a' * 33}", {}, "fingerprint"),
    (f"{URL}/abc", {"to": "soon"}, "to"),
]


def test_bad_input_is_a_400_naming_the_field(app):
    client = login(app, "analyst")
    for path, query, field in BAD:
        answer = client.get(path, query_string=query)
        assert answer.status_code == 400, (path, query, answer.get_data(as_text=True))
        assert field in answer.get_json()["error"].get("fields", {}), answer.get_json()


def test_an_unknown_group_is_a_404(app):
    answer = login(app, "analyst").get(f"{URL}/{'0' * 16}")
    assert answer.status_code == 404 and error_code(answer) == "not_found"


def test_only_admins_and_analysts_read_error_groups(app):
    client = app.server.test_client()
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=bearer(make_token(app, "ingest"))).status_code == 403
    assert client.get(URL, headers=bearer(make_token(app, "admin"))).status_code == 200
