"""The dependency checks API on both backends: create, list, replace and delete with the
role rules, audited; a taken name; bad bodies naming the field; uptime from probe_success;
the download; and the dependency status of the summary."""

from __future__ import annotations

import csv
import io
import time

import pytest

from app.services.diagnostics.checks import dependencies
from storage.metrics import Sample
from tests.app.auth_helpers import AUDIT, bearer, make_token, runtime_of

CHECKS = "/api/v1/admin/checks"
EXPORT = "/api/v1/admin/diagnostics/checks/export"
WEB = {"name": "web", "kind": "http", "url": "https://example.internal/health", "keyword": "ok"}
PORT = {"name": "db port", "kind": "tcp", "host": "10.0.0.5", "port": 5432, "interval": 10}
DNS = {"name": "db.internal", "kind": "dns"}


@pytest.fixture
def tokens(app) -> dict[str, dict[str, str]]:
    return {role: bearer(make_token(app, role)) for role in ("admin", "analyst", "ingest")}


def test_admins_create_replace_and_delete_checks_that_readers_list(app, client, tokens):
    admin, analyst = tokens["admin"], tokens["analyst"]
    created = [client.post(CHECKS, json=body, headers=admin) for body in (WEB, PORT, DNS)]
    assert [r.status_code for r in created] == [201, 201, 201]
    web, port, dns = (r.get_json() for r in created)
    assert (web["expect_status"], web["verify_tls"], web["interval"], web["timeout"]) == (
        200,
        True,
        30,
        5,
    )
    assert port["target"] == "10.0.0.5:5432"
    assert (dns["host"], dns["target"]) == ("db.internal", "db.internal")
    listed = client.get(CHECKS, headers=analyst).get_json()["items"]
    assert [c["name"] for c in listed] == ["db port", "db.internal", "web"]
    assert listed[2]["up"] is None
    assert listed[2]["uptime"] == {"24h": None, "7d": None, "30d": None}

    replaced = client.put(
        f"{CHECKS}/{port['id']}", json={**PORT, "port": 6432, "timeout": 2.5}, headers=admin
    )
    assert replaced.status_code == 200
    assert (replaced.get_json()["port"], replaced.get_json()["timeout"]) == (6432, 2.5)
    assert client.delete(f"{CHECKS}/{dns['id']}", headers=admin).status_code == 204
    assert client.delete(f"{CHECKS}/{dns['id']}", headers=admin).status_code == 404
    assert client.put(f"{CHECKS}/{dns['id']}", json=DNS, headers=admin).status_code == 404
    assert len(client.get(CHECKS, headers=admin).get_json()["items"]) == 2

    audit = client.get(f"{AUDIT}?action=check.", headers=admin).get_json()["items"]
    actions = sorted(e["action"] for e in audit)
    assert actions == ["check.create"] * 3 + ["check.delete", "check.replace"]


def test_roles(app, client, tokens):
    saved = client.post(CHECKS, json=WEB, headers=tokens["admin"]).get_json()
    for role in ("analyst", "ingest"):
        headers = tokens[role]
        assert client.post(CHECKS, json=PORT, headers=headers).status_code == 403
        assert client.put(f"{CHECKS}/{saved['id']}", json=WEB, headers=headers).status_code == 403
        assert client.delete(f"{CHECKS}/{saved['id']}", headers=headers).status_code == 403
    assert client.get(CHECKS, headers=tokens["ingest"]).status_code == 403
    assert client.get(EXPORT, headers=tokens["ingest"]).status_code == 403
    assert client.get(CHECKS).status_code == 401


def test_a_taken_name_is_a_conflict_naming_name(app, client, tokens):
    admin = tokens["admin"]
    client.post(CHECKS, json=WEB, headers=admin)
    other = client.post(CHECKS, json=PORT, headers=admin).get_json()
    again = client.post(CHECKS, json={**PORT, "name": "web"}, headers=admin)
    assert again.status_code == 409
    assert set(again.get_json()["error"]["fields"]) == {"name"}
    renamed = client.put(f"{CHECKS}/{other['id']}", json={**PORT, "name": "web"}, headers=admin)
    assert renamed.status_code == 409


BAD = [
    ({**WEB, "kind": "icmp"}, "kind"),
    ({**WEB, "url": "ftp://example.internal/"}, "url"),
    ({**WEB, "url": "file:///etc/passwd"}, "url"),
    ({**WEB, "url": "http://user:pw@example.internal/"}, "url"),
    ({**WEB, "url": "http://exa mple/"}, "url"),
    ({**WEB, "url": "http://example.internal:99999/"}, "url"),
    ({"name": "w", "kind": "http"}, "url"),
    ({**WEB, "port": 80}, "port"),
    ({**WEB, "expect_status": 700}, "expect_status"),
    ({**WEB, "verify_tls": "no"}, "verify_tls"),
    ({**PORT, "port": 0}, "port"),
    ({**PORT, "port": 65536}, "port"),
    ({**PORT, "port": "5432"}, "port"),
    ({"name": "p", "kind": "tcp", "host": "db"}, "port"),
    ({**PORT, "host": "bad host!"}, "host"),
    ({**PORT, "url": "http://x/"}, "url"),
    ({**PORT, "interval": 4}, "interval"),
    ({**PORT, "interval": 10**9}, "interval"),
    ({**PORT, "timeout": 11}, "timeout"),
    ({**PORT, "timeout": 0}, "timeout"),
    ({**PORT, "timeout": 61, "interval": 120}, "timeout"),
    ({"name": "not a host!", "kind": "dns"}, "name"),
    ({**DNS, "host": "-bad-.example"}, "host"),
    ({**DNS, "keyword": "x"}, "keyword"),
    ({**WEB, "name": ""}, "name"),
    ({**WEB, "name": "x\u0000y"}, "name"),
    ({**WEB, "extra": 1}, "extra"),
]


def test_bad_bodies_are_400_naming_the_field(make_app):
    app = make_app()
    client, admin = app.server.test_client(), bearer(make_token(app, "admin"))
    for body, field in BAD:
        response = client.post(CHECKS, json=body, headers=admin)
        assert response.status_code == 400, (body, response.get_json())
        assert field in response.get_json()["error"]["fields"], (body, response.get_json())
    assert client.get(CHECKS, headers=admin).get_json()["items"] == []


def test_bad_ids_and_formats_are_4xx(make_app):
    app = make_app()
    client, admin = app.server.test_client(), bearer(make_token(app, "admin"))
    assert client.put(f"{CHECKS}/0", json=WEB, headers=admin).status_code == 400
    assert client.delete(f"{CHECKS}/99999999999", headers=admin).status_code in (400, 404)
    assert client.post(CHECKS, data="[]", headers=admin).status_code == 415
    assert client.get(f"{EXPORT}?format=xml", headers=admin).status_code == 400


def _probes(app, name: str, values: list[float], now: float) -> None:
    runtime_of(app).metrics.write(
        [
            Sample(now - 60 * i, "test-host", "probe_success", v, {"check": name})
            for i, v in enumerate(values)
        ]
    )


def test_uptime_comes_from_probe_success_and_the_download_has_it(app, client, tokens):
    admin = tokens["admin"]
    client.post(CHECKS, json=WEB, headers=admin)
    now = time.time()
    _probes(app, "web", [1, 1, 1, 0], now)
    _probes(app, "web", [0, 0, 0, 0], now - 2 * 86400)
    (web,) = client.get(CHECKS, headers=admin).get_json()["items"]
    assert web["uptime"] == {"24h": 75.0, "7d": 37.5, "30d": 37.5}

    response = client.get(f"{EXPORT}?format=csv", headers=tokens["analyst"])
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    (row,) = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    assert (row["name"], row["uptime_24h"], row["target"]) == ("web", "75.0", WEB["url"])
    as_json = client.get(f"{EXPORT}?format=json", headers=admin).get_json()
    assert as_json[0]["uptime_7d"] == 37.5
    audit = client.get(f"{AUDIT}?action=diagnostics.checks.export", headers=admin).get_json()
    assert len(audit["items"]) >= 2


def test_the_dependency_status_has_every_check_and_the_platform(app, client, tokens):
    client.post(CHECKS, json=PORT, headers=tokens["admin"])
    items = {d["name"]: d for d in dependencies(runtime_of(app))}
    assert set(items) == {"db port", "database", "redis", "scheduler"}
    assert items["db port"] == {
        "name": "db port",
        "kind": "tcp",
        "up": None,
        "latency_ms": None,
        "detail": "",
    }
    assert items["database"]["kind"] in ("postgres", "sqlite")
    assert items["database"]["up"] is True
    assert items["database"]["latency_ms"] >= 0
    assert items["redis"]["kind"] == "redis"
    assert items["scheduler"]["up"] is False  # not started in this test app
