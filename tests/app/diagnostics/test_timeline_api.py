"""The incident timeline over HTTP: what happened in a window is on it (an alert's firing
span, its acknowledgement, a new and a spiking error group, an annotation, a leader change,
an audited action), what happened outside it is not; the ranked changes and the exports."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from collectors.scheduler import LEADER_GAINED
from storage.alerts import HistoryEntry, InstanceChange
from storage.logs import LogEntry
from storage.metrics import Sample
from storage.models import ErrorGroup, LogRecord
from tests.app.alert_helpers import firing, resolve, stored_rule
from tests.app.auth_helpers import bearer, make_token, runtime_of

TIMELINE = "/api/v1/admin/diagnostics/timeline"
CHANGES = "/api/v1/admin/diagnostics/changes"


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _error_rows(rt, fingerprint: str, times: list[float]) -> None:
    rows = [
        {
            "ts": _when(t),
            "level": "error",
            "source": "api",
            "host": "web-1",
            "message": "boom",
            "attrs": "{}",
            "fingerprint": fingerprint,
        }
        for t in times
    ]
    with rt.engine.begin() as conn:
        conn.execute(insert(LogRecord), rows)


def _group(rt, fingerprint: str, first_seen: float, title: str) -> None:
    with rt.engine.begin() as conn:
        conn.execute(
            insert(ErrorGroup).values(
                fingerprint=fingerprint,
                title=title,
                level="error",
                source="api",
                first_seen=first_seen,
                last_seen=time.time(),
                count=20,
                sample="boom",
            )
        )


@pytest.fixture
def incident(app):
    """Things that happened in the last ten minutes, and an alert long before them."""
    rt = runtime_of(app)
    now = time.time()
    rule = stored_rule(rt)
    old = firing(rt, rule, "db-9", ts=now - 5000)
    resolve(rt, old, now - 4900)
    alert = firing(rt, rule, "web-1", ts=now - 300)
    ack = HistoryEntry(ts=now - 250, event="acknowledged", actor="ops", reason="on it")
    rt.alerts.apply([InstanceChange(alert, [ack])])
    resolve(rt, alert, now - 100)
    _group(rt, "fp-new", now - 150, "KeyError in checkout")
    _group(rt, "fp-spike", now - 86400 * 3, "Timeout talking to payments")
    _error_rows(rt, "fp-spike", [now - 200 + i for i in range(15)])
    _error_rows(rt, "fp-steady", [now - 3000 + 60 * i for i in range(50)])
    rt.logs.write([LogEntry(_when(now - 240), "info", "pulseboard", "node-2", LEADER_GAINED)])
    rt.accounts.audit("user.create", actor="root", target="user:bob")
    return now


def test_the_window_holds_what_happened_in_it_and_nothing_else(app, client, incident):
    now = incident
    reader = bearer(make_token(app, "analyst"))
    annotated = client.post(
        "/api/v1/admin/annotations",
        json={"title": "deploy 2.0", "ts": now - 200},
        headers=bearer(make_token(app, "ingest")),
    )
    assert annotated.status_code == 201

    answer = client.get(TIMELINE, query_string={"from": now - 600, "to": now + 60}, headers=reader)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    events = body["events"]
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    kinds = {}
    for event in events:
        kinds.setdefault(event["kind"], []).append(event)
    fired = next(e for e in kinds["alert"] if e["detail"]["event"] == "firing")
    assert fired["ts_end"] == pytest.approx(now - 100)
    assert fired["severity"] == "critical"
    assert fired["link"].startswith("/alerts?rule=")
    assert all(e["detail"]["labels"]["host"] == "web-1" for e in kinds["alert"])
    assert [e["title"] for e in kinds["ack"]] == ["Disk almost full: acknowledged by ops"]
    assert [e["detail"]["fingerprint"] for e in kinds["error_new"]] == ["fp-new"]
    assert [e["detail"]["fingerprint"] for e in kinds["error_spike"]] == ["fp-spike"]
    assert kinds["error_spike"][0]["detail"]["count_in_window"] == 15
    assert kinds["error_spike"][0]["link"] == "/diagnostics?tab=errors&fingerprint=fp-spike"
    assert [e["title"] for e in kinds["annotation"]] == ["deploy 2.0"]
    assert [e["title"] for e in kinds["leader"]] == ["node-2 became the collector leader"]
    assert "root: user.create user:bob" in [e["title"] for e in kinds["audit"]]
    levels = {b["level"] for b in body["histogram"]["buckets"]}
    assert {"error", "info"} <= levels

    before = client.get(
        TIMELINE, query_string={"from": now - 5200, "to": now - 4000}, headers=reader
    ).get_json()
    assert {e["kind"] for e in before["events"]} == {"alert"}
    assert {e["detail"]["labels"]["host"] for e in before["events"]} == {"db-9"}


def test_the_timeline_export_has_one_row_per_event(app, client, incident):
    now = incident
    reader = bearer(make_token(app, "analyst"))
    window = {"from": now - 600, "to": now + 60}
    listed = client.get(TIMELINE, query_string=window, headers=reader).get_json()["events"]
    exported = client.get(
        TIMELINE + "/export", query_string={**window, "format": "csv"}, headers=reader
    )
    assert exported.status_code == 200
    assert "pulseboard-timeline-" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [r["title"] for r in rows] == [e["title"] for e in listed]
    assert runtime_of(app).accounts.list_audit(action="diagnostics.timeline.export")


def test_changes_rank_the_series_that_moved_and_export_as_json(app, client):
    rt = runtime_of(app)
    now = time.time()
    samples = []
    for i in range(150):
        t = now - 1500 + 10 * i
        samples.append(
            Sample(t, "db-1", "pg_locks_waiting", 40.0 if t >= now - 300 else 1.0 + i % 3)
        )
        samples.append(Sample(t, "db-1", "steady", 5.0 + (i * 7919) % 5))
    rt.metrics.write(samples)
    reader = bearer(make_token(app, "analyst"))
    window = {"from": now - 300, "to": now}
    answer = client.get(CHANGES, query_string=window, headers=reader)
    assert answer.status_code == 200, answer.get_json()
    top = answer.get_json()["items"][0]
    assert (top["name"], top["direction"]) == ("pg_locks_waiting", "up")
    assert top["after"] == pytest.approx(40.0)
    exported = client.get(
        CHANGES + "/export", query_string={**window, "format": "json"}, headers=reader
    )
    assert json.loads(exported.get_data())[0]["name"] == "pg_locks_waiting"


BAD_QUERIES = [
    (CHANGES, {"from": 1_800_000_000, "to": 1_800_000_010}, "from"),
    (CHANGES, {"from": 1_800_000_000, "to": 1_800_000_000 + 8 * 86400}, "from"),
    (CHANGES, {"limit": 0}, "limit"),
    (CHANGES + "/export", {"format": "xml"}, "format"),
    (TIMELINE, {"from": "soon"}, "from"),
    (TIMELINE, {"from": 1_800_000_100, "to": 1_800_000_000}, "from"),
    (TIMELINE + "/export", {"format": "pdf"}, "format"),
    ("/api/v1/admin/diagnostics/bundle", {"to": "nope"}, "to"),
]


def test_bad_queries_are_refused_naming_the_field(make_app):
    app = make_app()
    client = app.server.test_client()
    reader = bearer(make_token(app, "analyst"))
    for path, query, field in BAD_QUERIES:
        answer = client.get(path, query_string=query, headers=reader)
        assert answer.status_code == 400, (path, query, answer.get_json())
        assert field in answer.get_json()["error"]["fields"], (path, query)
