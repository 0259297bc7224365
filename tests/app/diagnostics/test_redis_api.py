"""The Redis diagnostics API on both backends against a Redis of the test's own: slow
commands (history and the server's list), latency, memory, big-keys jobs with progress and
cancellation, downloads, roles and bad input."""

from __future__ import annotations

import csv
import io

import pytest
import redis

from collectors.redis import target_name
from tests.app.auth_helpers import bearer, make_token, runtime_of
from tests.conftest import wait_until
from tests.services import ThrowawayRedis

REDIS = "/api/v1/admin/diagnostics/redis"
BIGKEYS = f"{REDIS}/bigkeys"
EXPORT = f"{REDIS}/export"


@pytest.fixture
def server(diagnostic_redis: ThrowawayRedis) -> ThrowawayRedis:
    return diagnostic_redis


@pytest.fixture
def watched(make_app, database_url, server):
    """An app watching ``server`` (and a second Redis that is not there)."""
    return make_app(database_url=database_url, monitor_redis=(server.url, "redis://127.0.0.1:1/0"))


@pytest.fixture
def admin(watched) -> dict:
    return bearer(make_token(watched, "admin"))


def fields(response) -> dict:
    return response.get_json()["error"].get("fields", {})


def finished(client, headers, job_id: str) -> dict:
    """The job once it has ended, and every ``done`` seen while polling."""
    seen: list[int] = []

    def ended():
        job = client.get(f"{BIGKEYS}/{job_id}", headers=headers).get_json()
        seen.append(job["done"])
        return job if job["state"] != "running" else None

    job = wait_until(ended, timeout=20, interval=0.02)
    job["seen"] = seen
    return job


def test_without_a_watched_redis_the_section_says_what_to_set(app):
    client, headers = app.server.test_client(), bearer(make_token(app, "admin"))
    body = client.get(REDIS, headers=headers).get_json()
    assert body["available"] is False and body["targets"] == []
    assert "PULSEBOARD_REDIS_URL" in body["reason"] and "PULSEBOARD_MONITOR_REDIS" in body["reason"]
    refused = client.post(BIGKEYS, json={}, headers=headers)
    assert refused.status_code == 400 and "no Redis is watched" in fields(refused)["target"]


def test_a_debug_sleep_shows_in_the_slowlog_the_latency_and_the_stored_history(
    watched, admin, server
):
    client, target = watched.server.test_client(), target_name(server.url)
    redis.Redis.from_url(server.url).execute_command("DEBUG", "SLEEP", "0.2")

    body = client.get(REDIS, headers=admin).get_json()
    assert body["available"] and body["target"] == target
    assert body["targets"] == [target, "127.0.0.1:1/0"]
    (sleep,) = [e for e in body["slowlog"] if e["command"] == "DEBUG SLEEP 0.2"]
    assert sleep["duration_us"] >= 200_000 and sleep["stored"] is False
    (event,) = [e for e in body["latency"]["latest"] if e["event"] == "command"]
    assert event["max_ms"] >= 200 and body["latency"]["enabled"]
    assert body["memory"]["used_memory_bytes"] > 0 and body["memory"]["maxmemory_policy"]

    # The leader's copy keeps it after the server forgets it.
    (job,) = [j for j in runtime_of(watched).scheduler.jobs if j.name == "redis-slowlog"]
    assert job.fn() >= 1
    redis.Redis.from_url(server.url).slowlog_reset()
    again = client.get(REDIS, headers=admin).get_json()
    (kept,) = [e for e in again["slowlog"] if e["command"] == "DEBUG SLEEP 0.2"]
    assert kept["stored"] is True and kept["id"] == sleep["id"]
    before = client.get(REDIS, query_string={"to": sleep["ts"] - 1}, headers=admin).get_json()
    assert all(e["id"] != sleep["id"] for e in before["slowlog"])

    down = client.get(REDIS, query_string={"target": "127.0.0.1:1/0"}, headers=admin).get_json()
    assert down["available"] is False and "does not answer" in down["reason"]

    csv_text = client.get(EXPORT, query_string={"format": "csv"}, headers=admin).get_data(True)
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert any(r["command"] == "DEBUG SLEEP 0.2" and r["target"] == target for r in rows)
    assert runtime_of(watched).accounts.list_audit(action="diagnostics.redis.export")


def test_the_big_keys_job_finds_the_big_key_and_reports_its_progress(watched, admin, server):
    client = watched.server.test_client()
    r = redis.Redis.from_url(server.url)
    r.mset({f"small:{i}": "x" for i in range(3000)})
    r.set("big", "x" * 1_000_000)

    started = client.post(BIGKEYS, json={"top": 5}, headers=admin)
    assert started.status_code == 202, started.get_json()
    job = finished(client, admin, started.get_json()["id"])

    assert job["state"] == "done" and job["progress"] == 1.0
    assert job["done"] == job["total"] == 3001
    assert job["seen"] == sorted(job["seen"])
    assert job["result"][0]["key"] == "big" and job["result"][0]["type"] == "string"
    assert job["result"][0]["bytes"] > 1_000_000 and len(job["result"]) == 5
    (audit,) = runtime_of(watched).accounts.list_audit(action="diagnostics.redis.bigkeys")
    assert audit.target == target_name(server.url)
    shown = client.get(REDIS, headers=admin).get_json()["bigkeys"]
    assert shown["id"] == job["id"] and shown["state"] == "done"

    export = client.get(
        EXPORT, query_string={"table": "bigkeys", "job": job["id"], "format": "json"}, headers=admin
    )
    assert export.get_json()[0] == job["result"][0]
    assert "redis-bigkeys" in export.headers["Content-Disposition"]


def test_a_big_keys_job_can_be_cancelled_and_keeps_what_it_found(watched, admin, server):
    client = watched.server.test_client()
    r = redis.Redis.from_url(server.url)
    for start in range(0, 20_000, 5000):
        r.mset({f"k:{i}": "x" for i in range(start, start + 5000)})

    job_id = client.post(BIGKEYS, json={}, headers=admin).get_json()["id"]
    assert client.post(BIGKEYS, json={}, headers=admin).status_code == 409  # one at a time
    cancelled = client.post(f"{BIGKEYS}/{job_id}/cancel", headers=admin)
    assert cancelled.status_code == 200 and cancelled.get_json()["cancel_requested"]
    job = finished(client, admin, job_id)

    assert job["state"] == "cancelled"
    assert 0 < job["done"] < job["total"] == 20_000 and job["result"]
    assert client.post(f"{BIGKEYS}/{job_id}/cancel", headers=admin).status_code == 409
    assert runtime_of(watched).accounts.list_audit(action="diagnostics.redis.bigkeys.cancel")


def test_analysts_read_but_neither_start_nor_cancel_a_scan(watched, admin):
    client, analyst = watched.server.test_client(), bearer(make_token(watched, "analyst"))
    assert client.get(REDIS, headers=analyst).status_code == 200
    assert client.post(BIGKEYS, json={}, headers=analyst).status_code == 403
    job_id = client.post(BIGKEYS, json={"max_keys": 1.0}, headers=admin).get_json()["id"]
    assert client.get(f"{BIGKEYS}/{job_id}", headers=analyst).status_code == 200
    assert client.post(f"{BIGKEYS}/{job_id}/cancel", headers=analyst).status_code == 403
    assert finished(client, admin, job_id)["state"] == "done"


BAD_INPUT = [
    ("get", REDIS, {"query_string": {"target": "nowhere:1/0"}}, "target"),
    ("get", REDIS, {"query_string": {"from": "yesterday"}}, "from"),
    ("get", REDIS, {"query_string": {"from": "200", "to": "100"}}, "from"),
    ("get", REDIS, {"query_string": {"limit": "5"}}, "limit"),
    ("post", BIGKEYS, {"json": {"max_keys": 0}}, "max_keys"),
    ("post", BIGKEYS, {"json": {"top": "ten"}}, "top"),
    ("post", BIGKEYS, {"json": {"target": "x" * 500}}, "target"),
    ("post", BIGKEYS, {"json": {"target": "elsewhere:6379/0"}}, "target"),
    ("get", f"{BIGKEYS}/not-a-job", {}, "job_id"),
    ("post", f"{BIGKEYS}/{'z' * 32}/cancel", {}, "job_id"),
    ("get", EXPORT, {"query_string": {"table": "keys"}}, "table"),
    ("get", EXPORT, {"query_string": {"table": "bigkeys"}}, "job"),
    ("get", EXPORT, {"query_string": {"format": "xml"}}, "format"),
]
"""Requests each refused with a 400 naming the field: method, path, request arguments."""


def test_bad_input_is_refused_naming_the_field_and_an_unknown_job_is_not_found(watched, admin):
    client = watched.server.test_client()
    for method, path, kwargs, field in BAD_INPUT:
        response = getattr(client, method)(path, headers=admin, **kwargs)
        assert response.status_code == 400, (path, kwargs, response.get_data(as_text=True))
        assert field in fields(response), (path, kwargs, fields(response))

    assert client.get(f"{BIGKEYS}/{'0' * 32}", headers=admin).status_code == 404
    assert client.post(f"{BIGKEYS}/{'0' * 32}/cancel", headers=admin).status_code == 404
    missing = client.get(EXPORT, query_string={"table": "bigkeys", "job": "0" * 32}, headers=admin)
    assert missing.status_code == 404
