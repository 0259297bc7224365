"""GET /api/v1/admin/logs/count: exact counts with the search filters, and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.app.log_helpers import T0, write_minutely

COUNT = "/api/v1/admin/logs/count"


@pytest.fixture
def reader(app, accounts):
    """Headers of an analyst's token, with 25 records written a minute apart."""
    write_minutely(app, "request {i} done in 100% time")
    return {"Authorization": f"Bearer {accounts.token('analyst')}"}


MATCHES = [
    ({"q": "-source:pulseboard"}, 25),
    ({"q": "DONE -source:pulseboard"}, 25),
    ({"q": '"request 1"'}, 11),
    ({"q": "100%"}, 25),
    ({"q": "0%"}, 25),
    ({"q": "-done"}, 0),
    ({"level": "error", "source": "worker"}, 3),
    ({"host": "web-0", "q": "done"}, 9),
    ({"q": "done", "from": T0.timestamp(), "to": (T0 + timedelta(minutes=10)).timestamp()}, 10),
    ({"q": "'; DROP TABLE log_records; --"}, 0),
]
MISTAKES = [
    ({"q": "level:loud"}, "q"),
    ({"q": '"unclosed'}, "q"),
    ({"q": "done\x00"}, "q"),
    ({"q": "x" * 5000}, "q"),
    ({"level": "loud"}, "level"),
    ({"source": ""}, "source"),
    ({"from": 200, "to": 100}, "from"),
    ({"from": "yesterday"}, "from"),
    ({"to": "nan"}, "to"),
    ({"bogus": "1"}, "bogus"),
]


def test_count_matches_the_search_filters(client, reader):
    for params, expected in MATCHES:
        response = client.get(COUNT, query_string=params, headers=reader)
        assert response.status_code == 200, (params, response.get_json())
        assert response.get_json() == {"count": expected, "exact": True}, params


def test_bad_count_input_gets_400_naming_the_field(client, reader):
    for params, field in MISTAKES:
        response = client.get(COUNT, query_string=params, headers=reader)
        assert response.status_code == 400, params
        assert field in response.get_json()["error"]["fields"], params


def test_count_needs_a_reader(client, accounts):
    assert client.get(COUNT).status_code == 401
    ingest = {"Authorization": f"Bearer {accounts.token('ingest')}"}
    assert client.get(COUNT, headers=ingest).status_code == 403


def test_the_operation_is_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    op = doc["paths"][COUNT]["get"]
    assert "estimate" in op["summary"]
    assert op["x-roles"] == ["admin", "analyst"]
    assert "LogCount" in doc["components"]["schemas"]
