"""Downloads of series and of the audit log, on both backends: exactly what the series and
audit APIs return, as CSV and JSON, streamed, named after what and when, audited; who may
download, and bad parameters named."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from openapi_spec_validator import validate

from app.services import exports
from storage.metrics import Sample
from tests.app.auth_helpers import bearer, error_code, login, make_token, runtime_of

METRICS = "/api/v1/admin/monitoring/metrics"
METRICS_EXPORT = METRICS + "/export"
AUDIT = "/api/v1/admin/audit"
AUDIT_EXPORT = AUDIT + "/export"
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
HOUR = {"from": T0.timestamp(), "to": T1.timestamp()}
CPU = "system_cpu_usage_percent"
DISK = "system_disk_used_percent"


@pytest.fixture
def series(app):
    """An hour of CPU samples every 10 s on two hosts, disk samples for two mountpoints."""
    samples = [
        Sample(T0.timestamp() + i * 10, host, CPU, float(i % 37) + 0.25)
        for i in range(360)
        for host in ("web-1", "web-2")
    ]
    samples += [
        Sample(T0.timestamp() + 60 * i, "web-1", DISK, 40.0 + i / 3, {"mountpoint": mp})
        for i in range(60)
        for mp in ("/", '/data, "quoted"')
    ]
    runtime_of(app).metrics.write(samples)
    return app


def read(fmt: str, body: bytes) -> list[dict]:
    """A download read back with the standard parsers."""
    if fmt == "json":
        return json.loads(body)
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def points_of(api_body: dict) -> list[tuple]:
    """The series API's points as (name, host, labels, ts, avg, min, max)."""
    return [
        (s["name"], s["host"], s["labels"], ts, avg, low, high)
        for s in api_body["series"]
        for ts, avg, low, high in s["points"]
    ]


def rows_as_points(fmt: str, rows: list[dict]) -> list[tuple]:
    """Downloaded rows in the same shape, numbers and labels parsed back."""

    def labels(value):
        return value if fmt == "json" else json.loads(value)

    return [
        (
            r["name"],
            r["host"],
            labels(r["labels"]),
            epoch(r["ts"]),
            float(r["avg"]),
            float(r["min"]),
            float(r["max"]),
        )
        for r in rows
    ]


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize(
    "params",
    [
        {"name": [CPU], **HOUR, "max_points": 30},
        {"name": [CPU, DISK], **HOUR, "host": "web-1", "max_points": 500},
        {"name": [DISK], "from": T0.isoformat(), "to": (T0 + timedelta(minutes=20)).isoformat()},
    ],
)
def test_series_download_holds_exactly_the_points_the_series_query_returns(series, fmt, params):
    client = login(series, "analyst")
    expected = client.get(METRICS, query_string=params).get_json()
    assert points_of(expected), "the parameters select no points"

    response = client.get(METRICS_EXPORT, query_string={**params, "format": fmt})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.is_streamed
    assert response.mimetype == {"csv": "text/csv", "json": "application/json"}[fmt]
    rows = read(fmt, response.get_data())
    assert rows_as_points(fmt, rows) == points_of(expected)
    assert list(rows[0]) == ["name", "host", "labels", "ts", "avg", "min", "max"]
    if fmt == "csv":
        # Labels are canonical JSON text, times ISO 8601 UTC.
        canonical = {"{}", '{"mountpoint":"/"}', '{"mountpoint":"/data, \\"quoted\\""}'}
        assert {r["labels"] for r in rows} <= canonical
        assert rows[0]["ts"].endswith("Z") and "T" in rows[0]["ts"]


def test_series_download_is_named_after_the_metrics_and_the_range(series):
    client = login(series, "analyst")
    response = client.get(METRICS_EXPORT, query_string={"name": CPU, **HOUR})
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="pulseboard-metrics-system_cpu_usage_percent-'
        '20261128T100000Z-20261128T110000Z.csv"'
    )
    assert response.mimetype == "text/csv"  # csv unless asked otherwise
    response.close()
    both = client.get(METRICS_EXPORT, query_string={"name": [CPU, DISK], **HOUR, "format": "json"})
    assert both.headers["Content-Disposition"].endswith(
        f'filename="pulseboard-metrics-{CPU}+{DISK}-20261128T100000Z-20261128T110000Z.json"'
    )
    both.close()


def test_series_download_is_audited_at_start_and_end(series):
    client = login(series, "analyst", name="ana")
    rows = read("csv", client.get(METRICS_EXPORT, query_string={"name": CPU, **HOUR}).get_data())
    (start,) = runtime_of(series).accounts.list_audit(action="metrics.export")
    (end,) = runtime_of(series).accounts.list_audit(action="metrics.export.end")
    assert start.actor == end.actor == "ana"
    assert start.details["name"] == [CPU]
    assert start.details["from"] == "2026-11-28T10:00:00Z"
    assert start.details["file"].endswith(".csv")
    assert (end.details["rows"], end.details["completed"]) == (len(rows), True)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "name"),
        ({"from": HOUR["from"]}, "name"),
        ({"name": CPU, "format": "xlsx"}, "format"),
        ({"name": CPU, "format": "ndjson"}, "format"),
        ({"name": "no_such_metric"}, "name"),
        ({"name": CPU, "from": HOUR["to"], "to": HOUR["from"]}, "from"),
        ({"name": CPU, "to": "not a time"}, "to"),
        ({"name": CPU, "max_points": 0}, "max_points"),
        ({"name": CPU, "host": ""}, "host"),
        ({"name": CPU, "cursor": "1"}, "cursor"),
    ],
)
def test_bad_series_download_parameters_get_400_naming_the_field(series, query, field):
    client = login(series, "analyst")
    response = client.get(METRICS_EXPORT, query_string=query)
    assert response.status_code == 400
    assert error_code(response) == "invalid"
    assert field in response.get_json()["error"]["fields"]
    assert not runtime_of(series).accounts.list_audit(action="metrics.export")


def test_who_may_download(series):
    client = series.server.test_client()

    def status(path: str, token: str | None = None) -> int:
        query = {"name": CPU} if path == METRICS_EXPORT else {}
        headers = bearer(token) if token else {}
        with client.get(path, query_string=query, headers=headers) as response:
            return response.status_code

    analyst, admin = make_token(series, "analyst"), make_token(series, "admin")
    assert status(METRICS_EXPORT) == status(AUDIT_EXPORT) == 401
    assert status(METRICS_EXPORT, make_token(series, "ingest")) == 403
    assert status(METRICS_EXPORT, analyst) == status(METRICS_EXPORT, admin) == 200
    assert status(AUDIT_EXPORT, analyst) == 403
    assert status(AUDIT_EXPORT, admin) == 200


# -- the audit log ---------------------------------------------------------------------


@pytest.fixture
def audit_app(app, monkeypatch):
    """250 audit entries by two robots (batches of 100 while an export streams)."""
    monkeypatch.setattr(exports, "AUDIT_BATCH", 100)
    rt = runtime_of(app)
    for n in range(250):
        rt.accounts.audit(
            "note.odd" if n % 2 else "note.even",
            actor=f"robot-{n % 3}",
            target=f"t,{n}",
            remote_addr="10.0.0.7" if n % 5 == 0 else None,
            details={"n": n, "text": 'say "hi"\nbye'},
        )
    return app


def api_entries(client, **filters) -> list[dict]:
    """Every entry the audit API returns for ``filters``, page after page."""
    items, cursor = [], None
    while True:
        page = client.get(AUDIT, query_string={**filters, "limit": 1000, "cursor": cursor})
        assert page.status_code == 200, page.get_data(as_text=True)
        body = page.get_json()
        items += body["items"]
        if body["next_cursor"] is None:
            return items
        cursor = body["next_cursor"]


def same_entries(fmt: str, rows: list[dict]) -> list[dict]:
    """Downloaded audit rows in the API's shape."""
    return [
        {
            "id": int(r["id"]),
            "ts": epoch(r["ts"]),
            "actor": r["actor"] or None,
            "action": r["action"],
            "target": r["target"] or None,
            "remote_addr": r["remote_addr"] or None,
            "details": r["details"] if fmt == "json" else json.loads(r["details"]),
        }
        for r in rows
    ]


def as_api(items: list[dict]) -> list[dict]:
    return [{**item, "ts": datetime.fromisoformat(item["ts"]).timestamp()} for item in items]


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize(
    "filters",
    [
        {"actor": "robot-1"},
        {"action": "note."},
        {"action": "note.odd", "actor": "robot-2"},
    ],
)
def test_audit_download_holds_every_entry_the_audit_api_returns(audit_app, fmt, filters):
    client = login(audit_app, "admin")
    expected = api_entries(client, **filters)
    assert len(expected) > 40
    response = client.get(AUDIT_EXPORT, query_string={**filters, "format": fmt})
    assert response.status_code == 200
    assert response.is_streamed
    rows = read(fmt, response.get_data())
    assert list(rows[0]) == ["id", "ts", "actor", "action", "target", "remote_addr", "details"]
    assert same_entries(fmt, rows) == as_api(expected)


def test_audit_download_without_filters_has_no_page_limit(audit_app):
    client = login(audit_app, "admin", name="boss")
    rows = read("json", client.get(AUDIT_EXPORT, query_string={"format": "json"}).get_data())
    # Everything up to and including this download's own start entry; its end comes later.
    expected = [e for e in api_entries(client) if e["action"] != "audit.export.end"]
    assert same_entries("json", rows) == as_api(expected)
    assert len(rows) > 250
    assert rows[0]["action"] == "audit.export" and rows[0]["actor"] == "boss"
    (end,) = runtime_of(audit_app).accounts.list_audit(action="audit.export.end")
    assert (end.details["rows"], end.details["completed"]) == (len(rows), True)


def test_audit_download_keeps_to_the_time_range(audit_app):
    rt = runtime_of(audit_app)
    entries = rt.accounts.list_audit(action="note.", limit=1000)
    middle = entries[len(entries) // 2].ts
    start, end = middle - timedelta(milliseconds=1), middle + timedelta(seconds=1)
    client = login(audit_app, "admin")
    filters = {"action": "note.", "from": start.isoformat(), "to": end.isoformat()}
    expected = api_entries(client, **filters)
    assert 0 < len(expected) < len(entries)
    response = client.get(AUDIT_EXPORT, query_string=filters)
    assert same_entries("csv", read("csv", response.get_data())) == as_api(expected)
    stamps = response.headers["Content-Disposition"]
    assert f"pulseboard-audit-{start:%Y%m%dT%H%M%S}Z-{end:%Y%m%dT%H%M%S}Z.csv" in stamps


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"format": "xml"}, "format"),
        ({"from": 2000, "to": 1000}, "from"),
        ({"from": "soon"}, "from"),
        ({"actor": ""}, "actor"),
        ({"limit": 5}, "limit"),
    ],
)
def test_bad_audit_download_parameters_get_400_naming_the_field(audit_app, query, field):
    response = login(audit_app, "admin").get(AUDIT_EXPORT, query_string=query)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["fields"]


def test_downloads_are_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    validate(doc)
    series_op = doc["paths"]["/api/v1/admin/monitoring/metrics/export"]["get"]
    params = {p["name"]: p for p in series_op["parameters"]}
    assert set(params) == {"name", "from", "to", "host", "max_points", "format"}
    assert params["name"]["required"] is True
    assert params["format"]["schema"]["enum"] == ["csv", "json"]
    assert set(series_op["responses"]["200"]["content"]) == {
        "text/csv; charset=utf-8",
        "application/json",
    }
    audit_op = doc["paths"]["/api/v1/admin/audit/export"]["get"]
    assert {p["name"] for p in audit_op["parameters"]} == {
        "actor",
        "action",
        "from",
        "to",
        "format",
    }
    assert audit_op["x-roles"] == ["admin"]
