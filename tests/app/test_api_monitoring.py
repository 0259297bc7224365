"""The monitoring API: liveness, health, metrics catalogue and series, bad input, OpenAPI."""

from __future__ import annotations

import time

import pytest
from openapi_spec_validator import validate
from sqlalchemy.engine import make_url

from app.api.models import Catalogue, HealthResponse, SeriesResponse
from storage.metrics import Sample
from tests.conftest import Accounts
from tests.services import TcpProxy

HEALTH = "/api/v1/admin/monitoring/health"
METRICS = "/api/v1/admin/monitoring/metrics"


@pytest.fixture
def reader(client, accounts):
    """A client logged in as an analyst."""
    return accounts.login(client, "analyst")


@pytest.fixture
def seeded(app):
    """An hour of CPU samples every 5 s and disk samples for two mountpoints."""
    rt = app.server.extensions["pulseboard"]
    now = time.time()
    samples = [
        Sample(now - 3600 + i * 5, "test-host", "system_cpu_usage_percent", float(i % 50))
        for i in range(720)
    ]
    samples += [
        Sample(now - 10, "test-host", "system_disk_used_percent", 40.0 + n, {"mountpoint": mp})
        for n, mp in enumerate(["/", "/data"])
    ]
    rt.metrics.write(samples)
    return now


def test_healthz_is_public_and_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_health_reports_each_component_and_matches_its_model(reader):
    response = reader.get(HEALTH)
    body = response.get_json()
    HealthResponse.model_validate(body)
    assert set(body["components"]) >= {"database", "redis", "scheduler", "disk"}
    assert body["components"]["database"]["status"] == "ok"
    # The test app does not start its scheduler, so health must say so.
    assert body["components"]["scheduler"]["status"] == "degraded"
    assert body["status"] == "degraded"
    assert response.status_code == 200


def test_health_is_503_while_the_database_is_down_and_recovers(make_app, pg_url):
    url = make_url(pg_url)
    proxy = TcpProxy(url.port or 5432)
    proxy.start()
    try:
        app = make_app(database_url=url.set(port=proxy.port).render_as_string(hide_password=False))
        client = Accounts(app).login(app.server.test_client(), "admin")
        proxy.cut()
        response = client.get(HEALTH)
        assert response.status_code == 503
        body = response.get_json()
        assert body["status"] == "down"
        assert body["components"]["database"]["status"] == "down"
        proxy.restore()
        assert client.get(HEALTH).status_code == 200
    finally:
        proxy.cut()


def test_catalogue_lists_fields_with_latest_values(reader, seeded):
    body = reader.get(METRICS).get_json()
    Catalogue.model_validate(body)
    by_name = {m["name"]: m for m in body["metrics"]}
    cpu = by_name["system_cpu_usage_percent"]
    assert cpu["unit"] == "percent"
    assert cpu["series"][0]["value"] == float(719 % 50)
    disks = {
        s["labels"]["mountpoint"]: s["value"] for s in by_name["system_disk_used_percent"]["series"]
    }
    assert disks == {"/": 40.0, "/data": 41.0}
    assert body["hosts"] == ["test-host"]


def test_series_are_bucketed_to_at_most_max_points(reader, seeded):
    response = reader.get(
        METRICS,
        query_string={
            "name": "system_cpu_usage_percent",
            "from": seeded - 3600,
            "to": seeded,
            "max_points": 60,
        },
    )
    body = response.get_json()
    SeriesResponse.model_validate(body)
    (series,) = body["series"]
    assert 55 <= len(series["points"]) <= 60
    assert body["step"] == 60 and body["source"] == "raw"
    for _ts, avg, low, high in series["points"]:
        assert low <= avg <= high


def test_series_accept_repeated_names_and_iso_times(reader, seeded):
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seeded - 600))
    response = reader.get(
        METRICS + f"?name=system_cpu_usage_percent&name=system_disk_used_percent&from={start}"
    )
    assert response.status_code == 200
    names = sorted(s["name"] for s in response.get_json()["series"])
    assert names == [
        "system_cpu_usage_percent",
        "system_disk_used_percent",
        "system_disk_used_percent",
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"name": "no_such_metric"}, "name"),
        ({"name": "system_cpu_usage_percent", "from": 2000, "to": 1000}, "from"),
        ({"name": "system_cpu_usage_percent", "max_points": 0}, "max_points"),
        ({"name": "system_cpu_usage_percent", "max_points": 10**9}, "max_points"),
        ({"name": "system_cpu_usage_percent", "max_points": "many"}, "max_points"),
        ({"name": "system_cpu_usage_percent", "from": "yesterday-ish"}, "from"),
        ({"name": "system_cpu_usage_percent", "to": "9999-99-99T99:99"}, "to"),
        ({"name": "system_cpu_usage_percent", "from": "nan"}, "from"),
        ({"name": "system_cpu_usage_percent", "from": "1e300"}, "from"),
        ({"name": "x" * 5000}, "name"),
        ({"name": "<script>alert(1)</script>"}, "name"),
        ({"name": "system_cpu_usage_percent", "host": ""}, "host"),
        ({"name": "system_cpu_usage_percent", "frm": "1"}, "frm"),
    ],
)
def test_bad_query_strings_get_400_naming_the_parameter(reader, seeded, query, field):
    response = reader.get(METRICS, query_string=query)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error


def test_monitoring_endpoints_need_credentials(client):
    for path in (HEALTH, METRICS):
        response = client.get(path)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"


def test_ingest_role_may_not_read_monitoring(client, accounts):
    token = accounts.token("ingest")
    response = client.get(HEALTH, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


def test_bearer_token_reads_monitoring(client, accounts):
    token = accounts.token("analyst")
    response = client.get(METRICS, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_openapi_document_is_generated_from_the_models(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    op = doc["paths"]["/api/v1/admin/monitoring/metrics"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert set(params) == {"name", "from", "to", "host", "max_points"}
    assert params["max_points"]["schema"]["maximum"] == 10000
    assert "SeriesResponse" in doc["components"]["schemas"]
    assert "HealthResponse" in doc["components"]["schemas"]
    validate(doc)  # a valid OpenAPI 3.1 document, as clients and schemathesis read it


def test_health_is_degraded_not_down_while_redis_is_away(make_app, throwaway_redis):
    app = make_app(redis_url=throwaway_redis.url)
    client = Accounts(app).login(app.server.test_client(), "analyst")
    assert client.get(HEALTH).get_json()["components"]["redis"]["status"] == "ok"
    throwaway_redis.stop()
    response = client.get(HEALTH)
    body = response.get_json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["components"]["redis"]["status"] == "degraded"
    throwaway_redis.start()
    assert client.get(HEALTH).get_json()["components"]["redis"]["status"] == "ok"


def test_health_shows_each_collector_and_a_failing_one_degrades(make_app):
    app = make_app()
    rt = app.server.extensions["pulseboard"]
    rt.scheduler.elect()  # leader: collects once at once
    client = Accounts(app).login(app.server.test_client(), "analyst")
    body = client.get(HEALTH).get_json()
    system = body["components"]["collector:system"]
    assert system["status"] == "ok" and system["info"]["runs"] == 1
    assert system["info"]["last_duration"] > 0

    def broken(now):
        raise OSError("no /proc here")

    rt.collectors[0].collect = broken
    rt.scheduler.collect()
    system = client.get(HEALTH).get_json()["components"]["collector:system"]
    assert system["status"] == "degraded"
    assert system["detail"] == "OSError: no /proc here"
    rt.scheduler.shutdown()


def test_a_monitored_redis_that_is_down_shows_in_health_and_degrades(make_app, throwaway_redis):
    app = make_app(monitor_redis=(throwaway_redis.url,))
    rt = app.server.extensions["pulseboard"]
    client = Accounts(app).login(app.server.test_client(), "analyst")
    rt.scheduler.elect()
    name = f"target:redis:127.0.0.1:{throwaway_redis.port}/0"
    assert client.get(HEALTH).get_json()["components"][name]["status"] == "ok"
    throwaway_redis.stop()
    rt.scheduler.collect()
    body = client.get(HEALTH).get_json()
    assert body["components"][name]["status"] == "down"
    assert body["status"] == "degraded"
    assert body["components"]["collector:redis"]["status"] == "ok"  # no exception storm
    rt.scheduler.shutdown()
