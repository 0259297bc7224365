"""Annotations over HTTP: CI marks a deploy with an ingest token, admins annotate (audited),
analysts read; bad bodies are refused naming the field."""

from __future__ import annotations

import time

from tests.app.auth_helpers import bearer, error_code, make_token, runtime_of

ANNOTATIONS = "/api/v1/admin/annotations"


def test_an_ingest_token_marks_a_deploy_and_an_analyst_reads_it(app, client):
    before = time.time()
    created = client.post(
        ANNOTATIONS,
        json={"title": "deploy 1.4.2", "tags": ["deploy", "api"], "text": "by CI"},
        headers=bearer(make_token(app, "ingest")),
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["id"] >= 1 and body["ts"] >= before and body["ts_end"] is None
    assert body["author"].startswith("ingest-")
    reader = bearer(make_token(app, "analyst"))
    listed = client.get(ANNOTATIONS, query_string={"from": before - 60}, headers=reader)
    assert listed.status_code == 200
    assert [(a["title"], a["tags"]) for a in listed.get_json()["items"]] == [
        ("deploy 1.4.2", ["deploy", "api"])
    ]
    # A program's annotation is data, like its logs: not an audited change.
    assert runtime_of(app).accounts.list_audit(action="annotation.create") == []


def test_an_admins_annotation_is_audited_and_a_span_is_listed_where_it_overlaps(app, client):
    admin = bearer(make_token(app, "admin"))
    created = client.post(
        ANNOTATIONS,
        json={"title": "maintenance", "ts": 1_800_000_000, "ts_end": "2027-01-15T08:30:00Z"},
        headers=admin,
    )
    assert created.status_code == 201, created.get_json()
    entry = runtime_of(app).accounts.list_audit(action="annotation.create")[0]
    assert entry.target == f"annotation:{created.get_json()['id']}"
    inside = {"from": 1_800_000_100, "to": 1_800_000_200}
    outside = {"from": 1_700_000_000, "to": 1_700_000_100}
    assert len(client.get(ANNOTATIONS, query_string=inside, headers=admin).get_json()["items"]) == 1
    assert client.get(ANNOTATIONS, query_string=outside, headers=admin).get_json()["items"] == []


def test_an_analyst_cannot_annotate(app, client):
    answer = client.post(
        ANNOTATIONS, json={"title": "x"}, headers=bearer(make_token(app, "analyst"))
    )
    assert answer.status_code == 403


BAD_BODIES = [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"title": "a", "ts": 1_800_000_000, "ts_end": 1_799_999_999}, "ts_end"),
    ({"title": "a", "tags": ["ok", 3]}, "tags.1"),
    ({"title": "a", "tags": "deploy"}, "tags"),
    ({"title": "a", "tags": ["x" * 65]}, "tags.0"),
    ({"title": "a", "ts": "yesterday"}, "ts"),
    ({"title": "a", "text": "x" * 10_001}, "text"),
    ({"title": "a", "colour": "red"}, "colour"),
]


def test_bad_bodies_and_ranges_are_refused_naming_the_field(make_app):
    # Validation comes before the store: one backend says it for both.
    app = make_app()
    client = app.server.test_client()
    admin = bearer(make_token(app, "admin"))
    for body, field in BAD_BODIES:
        answer = client.post(ANNOTATIONS, json=body, headers=admin)
        assert answer.status_code == 400, (body, answer.get_json())
        assert error_code(answer) == "invalid"
        assert field in answer.get_json()["error"]["fields"], (body, answer.get_json())
    backwards = {"from": 1_800_000_100, "to": 1_800_000_000}
    answer = client.get(ANNOTATIONS, query_string=backwards, headers=admin)
    assert answer.status_code == 400
    assert "from" in answer.get_json()["error"]["fields"]
