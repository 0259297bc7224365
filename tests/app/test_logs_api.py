"""GET /api/v1/admin/logs and /histogram: search, paging, filters and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.app.log_helpers import T0, write_minutely

LOGS = "/api/v1/admin/logs"


@pytest.fixture
def reader(app, accounts):
    """Headers of an analyst's token, with 25 records written a minute apart."""
    write_minutely(app, "request {i} done")
    return {"Authorization": f"Bearer {accounts.token('analyst')}"}


def test_search_pages_newest_first_until_the_end(client, reader):
    seen, cursor = [], None
    while True:
        params = {"q": "request -source:pulseboard", "limit": 10, "from": T0.timestamp()}
        if cursor:
            params["cursor"] = cursor
        body = client.get(LOGS, query_string=params, headers=reader).get_json()
        seen += [item["message"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"request {i} done" for i in range(24, -1, -1)]


def test_shorthand_filters_and_time_range(client, reader):
    body = client.get(
        LOGS,
        headers=reader,
        query_string={
            "level": "error",
            "source": "worker",
            "from": T0.timestamp(),
            "to": (T0 + timedelta(minutes=20)).timestamp(),
        },
    ).get_json()
    assert [i["message"] for i in body["items"]] == ["request 10 done", "request 0 done"]


def test_histogram_counts_levels(client, reader):
    body = client.get(
        LOGS + "/histogram",
        headers=reader,
        query_string={
            "q": "-source:pulseboard",
            "from": T0.timestamp(),
            "to": (T0 + timedelta(minutes=25)).timestamp(),
            "buckets": 5,
        },
    ).get_json()
    assert body["step"] == 300
    errors = sum(b["count"] for b in body["buckets"] if b["level"] == "error")
    infos = sum(b["count"] for b in body["buckets"] if b["level"] == "info")
    assert (errors, infos) == (5, 20)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "level:loud"}, "q"),
        ({"q": '"unclosed'}, "q"),
        ({"level": "loud"}, "level"),
        ({"cursor": "nonsense"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 10**6}, "limit"),
        ({"from": 200, "to": 100}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"q": "x" * 5000}, "q"),
        ({"bogus": "1"}, "bogus"),
    ],
)
def test_bad_search_input_gets_400_naming_the_field(client, reader, params, field):
    response = client.get(LOGS, query_string=params, headers=reader)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["fields"]


def test_search_needs_a_reader(client, accounts):
    assert client.get(LOGS).status_code == 401
    ingest = {"Authorization": f"Bearer {accounts.token('ingest')}"}
    assert client.get(LOGS, headers=ingest).status_code == 403
