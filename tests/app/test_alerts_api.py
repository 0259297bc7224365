"""The alerting API on both backends: alerts and the people's actions on them (history, audit,
live messages), rules, silences, the delivery log, the history download, roles and bad input."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from storage.alerts import InstanceChange
from storage.channels import ChannelRecord
from storage.live import ALERTS_CHANNEL
from storage.metrics import Sample
from tests.app.alert_helpers import (
    ALERTS,
    DELIVERIES,
    EXPORT,
    RULES,
    SILENCES,
    firing,
    metric_rule,
    resolve,
    stored_rule,
)
from tests.app.auth_helpers import AUDIT, bearer, error_code, make_token, runtime_of


def utc(text: str) -> bool:
    """Whether ``text`` is an ISO 8601 time in UTC."""
    return datetime.fromisoformat(text).utcoffset() == timedelta(0)


@pytest.fixture
def rt(app):
    return runtime_of(app)


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.fixture
def admin(app):
    return bearer(make_token(app, "admin"))


@pytest.fixture
def analyst(app):
    return bearer(make_token(app, "analyst"))


@pytest.fixture
def rule(rt):
    return stored_rule(rt)


@pytest.fixture
def channel(rt):
    return rt.channels.create(ChannelRecord(name="ops hook", kind="webhook", config={}), 0.0)


@pytest.fixture
def messages(rt):
    """The alert messages published on the live bus during the test."""
    subscription = rt.bus.subscribe(ALERTS_CHANNEL)

    def take() -> list[dict]:
        found = []
        while (message := subscription.get(timeout=0.2)) is not None:
            found.append(message)
        return found

    yield take
    subscription.close()


def audit_actions(client, admin, prefix: str) -> list[str]:
    items = client.get(AUDIT, query_string={"action": prefix}, headers=admin).get_json()["items"]
    return [entry["action"] for entry in items]


def fields(response) -> dict:
    return response.get_json()["error"].get("fields", {})


# -- alerts ------------------------------------------------------------------------------------


def test_open_alerts_are_listed_with_their_rule_acknowledgement_and_silence(
    rt, client, analyst, rule
):
    web1 = firing(rt, rule, "web-1")
    web2 = resolve(rt, firing(rt, rule, "web-2"))
    page = client.get(ALERTS, headers=analyst).get_json()
    assert page["next_cursor"] is None
    (item,) = page["items"]
    assert item["id"] == web1.id
    assert (item["rule_id"], item["rule_name"], item["state"], item["severity"]) == (
        rule.id,
        "Disk almost full",
        "firing",
        "critical",
    )
    assert item["labels"] == {"host": "web-1", "mountpoint": "/"}
    assert item["value"] == 97.5
    assert item["acknowledged"] is None and item["closed"] is False
    assert item["silenced"] is False and item["flapping"] is False
    for key in ("active_at", "fired_at"):
        assert utc(item[key])
    assert item["resolved_at"] is None

    def ids(**query) -> list[int]:
        listed = client.get(ALERTS, query_string=query, headers=analyst).get_json()
        return [i["id"] for i in listed["items"]]

    assert ids(state="resolved") == [web2.id]
    assert ids(state="all") == [web2.id, web1.id]
    assert ids(state="firing") == [web1.id]
    assert ids(state="all", severity="warning") == []
    assert ids(state="all", rule_id=rule.id + 1000) == []


def test_alerts_are_paged_newest_first(rt, client, analyst, rule):
    made = [firing(rt, rule, f"web-{i}").id for i in range(5)]
    first = client.get(ALERTS, query_string={"limit": 2}, headers=analyst).get_json()
    assert [i["id"] for i in first["items"]] == made[:-3:-1]
    seen = [i["id"] for i in first["items"]]
    cursor = first["next_cursor"]
    while cursor is not None:
        page = client.get(
            ALERTS, query_string={"limit": 2, "cursor": cursor}, headers=analyst
        ).get_json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert seen == made[::-1]


def test_one_alert_comes_with_its_history_and_notifications(rt, client, analyst, rule, channel):
    alert = firing(rt, rule, channel_id=channel.id)
    detail = client.get(f"{ALERTS}/{alert.id}", headers=analyst).get_json()
    assert detail["id"] == alert.id and detail["rule_name"] == rule.name
    assert [(h["event"], h["from"], h["to"]) for h in detail["history"]] == [
        ("pending", "normal", "pending"),
        ("firing", "pending", "firing"),
    ]
    assert detail["history"][1]["reason"] == "value 97.5 > threshold"
    (note,) = detail["notifications"]
    assert (note["channel_id"], note["channel"], note["status"], note["attempts"]) == (
        channel.id,
        "ops hook",
        "pending",
        0,
    )
    assert (note["last_code"], note["last_answer"], note["sent_at"]) == (None, None, None)
    assert utc(note["created_at"])


def test_acknowledging_records_who_why_until_in_history_audit_and_stream(
    rt, client, admin, analyst, rule, messages
):
    alert = firing(rt, rule)
    until = time.time() + 3600
    response = client.post(
        f"{ALERTS}/{alert.id}/ack",
        json={"comment": "on it", "until": until},
        headers=analyst,
    )
    assert response.status_code == 200, response.get_json()
    acked = response.get_json()["acknowledged"]
    assert acked["by"].startswith("analyst-") and acked["comment"] == "on it"
    assert utc(acked["until"]) and utc(acked["at"])
    listed = client.get(ALERTS, headers=analyst).get_json()["items"][0]
    assert listed["acknowledged"] == acked

    history = client.get(f"{ALERTS}/{alert.id}", headers=analyst).get_json()["history"]
    assert (history[-1]["event"], history[-1]["actor"], history[-1]["reason"]) == (
        "acknowledged",
        acked["by"],
        "on it",
    )
    assert audit_actions(client, admin, "alert.") == ["alert.acknowledged"]
    (message,) = messages()
    assert (message["type"], message["event"]) == ("alert", "acknowledged")
    assert message["alert"]["id"] == alert.id and message["alert"]["acknowledged"] == acked


def test_unack_comment_and_close_follow_the_alert_through_its_life(
    rt, client, admin, analyst, rule, messages
):
    alert = firing(rt, rule)
    url = f"{ALERTS}/{alert.id}"
    unacked = client.post(f"{url}/unack", json={"comment": "x"}, headers=analyst)
    assert (
        unacked.status_code == 409 and "not acknowledged" in unacked.get_json()["error"]["message"]
    )

    assert client.post(f"{url}/ack", json={}, headers=analyst).status_code == 200
    back = client.post(f"{url}/unack", json={"comment": "not fixed"}, headers=analyst)
    assert back.status_code == 200 and back.get_json()["acknowledged"] is None
    noted = client.post(f"{url}/comment", json={"comment": "disk on order"}, headers=analyst)
    assert noted.status_code == 200

    early = client.post(f"{url}/close", json={"comment": "done"}, headers=analyst)
    assert early.status_code == 409 and error_code(early) == "conflict"
    assert "once it is resolved; it is firing" in early.get_json()["error"]["message"]
    resolve(rt, rt.alerts.get_instance(alert.id), ts=time.time())
    late_ack = client.post(f"{url}/ack", json={"comment": "x"}, headers=analyst)
    assert late_ack.status_code == 409
    closed = client.post(f"{url}/close", json={"comment": "replaced the disk"}, headers=analyst)
    assert closed.status_code == 200
    assert closed.get_json()["closed"] is True
    again = client.post(f"{url}/close", json={"comment": "again"}, headers=analyst)
    assert again.status_code == 409

    events = [h["event"] for h in client.get(url, headers=analyst).get_json()["history"]]
    assert events == [
        "pending",
        "firing",
        "acknowledged",
        "unacknowledged",
        "commented",
        "resolved",
        "closed",
    ]
    assert [m["event"] for m in messages()] == [
        "acknowledged",
        "unacknowledged",
        "commented",
        "closed",
    ]
    assert sorted(audit_actions(client, admin, "alert.")) == [
        "alert.acknowledged",
        "alert.closed",
        "alert.commented",
        "alert.unacknowledged",
    ]


BAD_ACTIONS = [
    ("ack", {"until": time.time() - 60}, "until"),
    ("ack", {"until": "yesterday"}, "until"),
    ("ack", {"comment": 5}, "comment"),
    ("ack", {"comment": "x" * 4001}, "comment"),
    ("ack", {"by": "someone else"}, "by"),
    ("comment", {"comment": "a\x00b"}, "comment"),
    ("silence", {"duration": 10}, "duration"),
    ("silence", {"duration": "1h"}, "duration"),
]


def test_bad_action_bodies_get_400_naming_the_field(rt, client, analyst, rule):
    alert = firing(rt, rule)
    for path, body, field in BAD_ACTIONS:
        response = client.post(f"{ALERTS}/{alert.id}/{path}", json=body, headers=analyst)
        assert response.status_code == 400, (path, body, response.get_json())
        assert field in fields(response), (path, body, fields(response))


MISSING_IDS = [
    ("get", f"{ALERTS}/999999", 404),
    ("post", f"{ALERTS}/999999/ack", 404),
    ("post", f"{ALERTS}/999999/silence", 404),
    ("get", f"{ALERTS}/99999999999", 400),
    ("get", f"{RULES}/999999", 404),
    ("put", f"{RULES}/999999", 404),
    ("delete", f"{RULES}/999999", 404),
    ("get", f"{RULES}/0", 400),
    ("delete", f"{SILENCES}/999999", 404),
    ("get", f"{SILENCES}/999999", 404),
]


def test_unknown_ids_get_404_and_ids_out_of_range_400(client, admin):
    for method, path, status in MISSING_IDS:
        body = metric_rule() if method == "put" else {}
        response = getattr(client, method)(path, json=body, headers=admin)
        assert response.status_code == status, (method, path, response.get_json())


BAD_ALERT_QUERIES = [
    ({"state": "burning"}, "state"),
    ({"severity": "info"}, "severity"),
    ({"limit": 0}, "limit"),
    ({"cursor": "abc"}, "cursor"),
    ({"from": "2026-11-28T11:00:00Z", "to": "2026-11-28T10:00:00Z"}, "from"),
    ({"colour": "red"}, "colour"),
]


def test_bad_alert_queries_get_400_naming_the_field(client, analyst):
    for query, field in BAD_ALERT_QUERIES:
        response = client.get(ALERTS, query_string=query, headers=analyst)
        assert response.status_code == 400, query
        assert field in fields(response), (query, fields(response))


# -- rules -------------------------------------------------------------------------------------


def test_a_rule_is_created_read_replaced_and_listed(rt, client, admin, analyst):
    rt.metrics.write([Sample(time.time(), "web-1", "system_disk_used_percent", 50.0)])
    created = client.post(RULES, json=metric_rule(), headers=admin)
    assert created.status_code == 201, created.get_json()
    rule = created.get_json()
    assert rule["warnings"] == []
    assert (rule["name"], rule["kind"], rule["metric"], rule["for"], rule["version"]) == (
        "Disk almost full",
        "metric",
        "system_disk_used_percent",
        60,
        1,
    )
    assert rule["created_by"].startswith("admin-") and utc(rule["created_at"])
    assert "query" not in rule

    read = client.get(f"{RULES}/{rule['id']}", headers=analyst).get_json()
    assert read == {k: v for k, v in rule.items() if k != "warnings"}
    replaced = client.put(
        f"{RULES}/{rule['id']}", json=metric_rule(critical=97, critical_clear=95), headers=admin
    )
    assert replaced.status_code == 200
    assert (replaced.get_json()["critical"], replaced.get_json()["version"]) == (97, 2)
    names = [r["name"] for r in client.get(RULES, headers=analyst).get_json()["items"]]
    assert "Disk almost full" in names and names == sorted(names)
    assert audit_actions(client, admin, "alert_rule.") == [
        "alert_rule.replace",
        "alert_rule.create",
    ]


def test_a_rule_on_a_metric_not_seen_yet_is_accepted_with_a_warning(client, admin):
    created = client.post(RULES, json=metric_rule(metric="app_queue_depth"), headers=admin)
    assert created.status_code == 201
    (warning,) = created.get_json()["warnings"]
    assert "app_queue_depth" in warning and "it may appear later" in warning


def test_a_log_rule_is_stored_with_its_query(client, admin):
    body = {
        "name": "API errors",
        "kind": "log",
        "query": "level>=error source:api",
        "aggregate": "count",
        "group_by": ["host"],
        "critical": 10,
    }
    created = client.post(RULES, json=body, headers=admin)
    assert created.status_code == 201, created.get_json()
    rule = created.get_json()
    assert (rule["query"], rule["aggregate"], rule["warnings"]) == (
        "level>=error source:api",
        "count",
        [],
    )
    assert "metric" not in rule


BAD_RULES = [
    ({"critical": None, "warning": None}, "critical"),
    ({"warning_clear": 90}, "warning_clear"),
    ({"query": "level>=error"}, "query"),
    ({"reduce": "median"}, "reduce"),
    ({"window": 0}, "window"),
    ({"name": "   "}, "name"),
    ({"metric": "bad name"}, "metric"),
    ({"colour": "red"}, "colour"),
    ({"enabled": 1}, "enabled"),
    ({"channels": [999]}, "channels"),
]


def test_a_bad_rule_body_gets_400_naming_the_field(client, admin):
    for overrides, field in BAD_RULES:
        response = client.post(RULES, json=metric_rule(**overrides), headers=admin)
        assert response.status_code == 400, (overrides, response.get_json())
        assert field in fields(response), (overrides, fields(response))


def test_a_log_query_that_does_not_parse_is_refused_with_its_position(client, admin):
    body = {"name": "Bad", "kind": "log", "query": "level>=", "aggregate": "count", "critical": 1}
    response = client.post(RULES, json=body, headers=admin)
    assert response.status_code == 400
    assert "position" in fields(response)["query"]


def test_a_taken_name_gets_409_naming_name(rt, client, admin):
    stored_rule(rt, "Taken")
    response = client.post(RULES, json=metric_rule("Taken"), headers=admin)
    assert response.status_code == 409 and "name" in fields(response)
    other = client.post(RULES, json=metric_rule("Other"), headers=admin).get_json()
    renamed = client.put(f"{RULES}/{other['id']}", json=metric_rule("Taken"), headers=admin)
    assert renamed.status_code == 409 and "name" in fields(response)


def test_a_rule_may_name_existing_channels(client, admin, channel):
    created = client.post(RULES, json=metric_rule(channels=[channel.id]), headers=admin)
    assert created.status_code == 201 and created.get_json()["channels"] == [channel.id]


def test_deleting_a_rule_resolves_its_open_alerts(rt, client, admin, analyst, rule, messages):
    alert = firing(rt, rule)
    assert client.delete(f"{RULES}/{rule.id}", headers=admin).status_code == 204
    assert client.get(f"{RULES}/{rule.id}", headers=analyst).status_code == 404
    detail = client.get(f"{ALERTS}/{alert.id}", headers=analyst).get_json()
    assert detail["state"] == "normal" and detail["resolved_at"] is not None
    last = detail["history"][-1]
    assert (last["event"], last["reason"], last["from"], last["to"]) == (
        "resolved",
        "rule deleted",
        "firing",
        "normal",
    )
    assert last["actor"].startswith("admin-")
    assert [(m["event"], m["alert"]["id"]) for m in messages()] == [("resolved", alert.id)]
    assert audit_actions(client, admin, "alert_rule.") == ["alert_rule.delete"]


def test_deleting_a_rule_tells_its_channels_that_its_alerts_ended(rt, client, admin, channel):
    made = client.post(RULES, json=metric_rule(channels=[channel.id]), headers=admin).get_json()
    alert = firing(rt, rt.alerts.get_rule(made["id"]))
    assert client.delete(f"{RULES}/{made['id']}", headers=admin).status_code == 204
    rows, _ = rt.outbox.deliveries(instance_id=alert.id)
    assert [(r.event, r.channel_id, r.payload["status"]) for r in rows] == [
        ("resolved", channel.id, "resolved")
    ]


def test_only_admins_change_rules(client, analyst, rule):
    assert client.get(RULES, headers=analyst).status_code == 200
    assert client.post(RULES, json=metric_rule("New"), headers=analyst).status_code == 403
    assert client.put(f"{RULES}/{rule.id}", json=metric_rule(), headers=analyst).status_code == 403
    assert client.delete(f"{RULES}/{rule.id}", headers=analyst).status_code == 403


def test_only_readers_read(app, client):
    ingest = bearer(make_token(app, "ingest"))
    for path in (ALERTS, RULES, SILENCES, DELIVERIES, EXPORT, f"{ALERTS}/1", f"{RULES}/1"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=ingest).status_code == 403, path


# -- silences ----------------------------------------------------------------------------------


def test_a_silence_mutes_matching_alerts_until_it_is_expired(
    rt, client, admin, analyst, rule, messages
):
    web1 = firing(rt, rule, "web-1")
    firing(rt, rule, "web-2")
    body = {
        "matchers": {"alertname": rule.name, "host": "web-1"},
        "ends_at": time.time() + 3600,
        "comment": "disk swap",
    }
    created = client.post(SILENCES, json=body, headers=analyst)
    assert created.status_code == 201, created.get_json()
    silence = created.get_json()
    assert silence["state"] == "active" and silence["author"].startswith("analyst-")
    assert silence["weekly"] is None and silence["comment"] == "disk swap"
    listed = {
        i["labels"]["host"]: i for i in client.get(ALERTS, headers=analyst).get_json()["items"]
    }
    assert (listed["web-1"]["silenced"], listed["web-1"]["silences"]) == (True, [silence["id"]])
    assert listed["web-2"]["silenced"] is False
    assert [(m["event"], m["alert"]["id"]) for m in messages()] == [("silenced", web1.id)]

    expired = client.delete(f"{SILENCES}/{silence['id']}", headers=analyst)
    assert expired.status_code == 200 and expired.get_json()["state"] == "expired"
    listed = client.get(ALERTS, headers=analyst).get_json()["items"]
    assert not any(i["silenced"] for i in listed)
    assert client.get(SILENCES, headers=analyst).get_json()["items"] == []
    (kept,) = client.get(SILENCES, query_string={"state": "all"}, headers=analyst).get_json()[
        "items"
    ]
    assert kept["id"] == silence["id"]
    assert audit_actions(client, admin, "alert_silence.") == [
        "alert_silence.expire",
        "alert_silence.create",
    ]


def test_a_weekly_silence_is_pending_outside_its_window(client, analyst):
    now = time.gmtime()
    other_day = (now.tm_wday + 3) % 7
    body = {
        "matchers": {"host": "db-1"},
        "ends_at": time.time() + 30 * 86400,
        "weekly": {"days": [other_day], "start": "02:00", "end": "04:00"},
    }
    created = client.post(SILENCES, json=body, headers=analyst)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["state"] == "pending"
    assert created.get_json()["weekly"] == body["weekly"]


def test_silence_this_alert_for_an_hour(rt, client, analyst, rule):
    alert = firing(rt, rule)
    before = time.time()
    response = client.post(
        f"{ALERTS}/{alert.id}/silence", json={"comment": "deploy"}, headers=analyst
    )
    assert response.status_code == 201, response.get_json()
    silence = response.get_json()
    assert silence["matchers"] == {"alertname": rule.name, "host": "web-1", "mountpoint": "/"}
    stored = rt.alerts.get_silence(silence["id"])
    assert 3599 <= stored.ends_at - before <= 3601 + (time.time() - before)
    detail = client.get(f"{ALERTS}/{alert.id}", headers=analyst).get_json()
    assert detail["silenced"] is True
    assert detail["history"][-1]["event"] == "silenced"
    assert detail["history"][-1]["reason"].endswith(": deploy")


BAD_SILENCES = [
    ({"matchers": {}}, "matchers"),
    ({"matchers": {"bad name": "x"}}, "matchers.bad name.[key]"),
    ({"ends_at": "2026-01-01T00:00:00Z"}, "ends_at"),
    ({"starts_at": time.time() + 7200}, "ends_at"),
    ({"weekly": {"days": [7], "start": "02:00", "end": "04:00"}}, "weekly.days.0"),
    ({"weekly": {"days": [1], "start": "25:00", "end": "04:00"}}, "weekly.start"),
    ({"weekly": {"days": [], "start": "01:00", "end": "04:00"}}, "weekly.days"),
    ({"author": "someone"}, "author"),
]


def test_bad_silences_get_400_naming_the_field(client, analyst):
    for overrides, field in BAD_SILENCES:
        body = {"matchers": {"host": "web-1"}, "ends_at": time.time() + 3600, **overrides}
        response = client.post(SILENCES, json=body, headers=analyst)
        assert response.status_code == 400, (overrides, response.get_json())
        assert field in fields(response), (overrides, fields(response))


# -- deliveries, export, /metrics --------------------------------------------------------------


def test_the_delivery_log_is_newest_first_and_filtered(rt, client, analyst, rule, channel):
    alerts = [firing(rt, rule, f"web-{i}", channel_id=channel.id) for i in range(3)]
    page = client.get(DELIVERIES, query_string={"limit": 2}, headers=analyst).get_json()
    assert [d["alert_id"] for d in page["items"]] == [alerts[2].id, alerts[1].id]
    rest = client.get(
        DELIVERIES, query_string={"cursor": page["next_cursor"]}, headers=analyst
    ).get_json()
    assert [d["alert_id"] for d in rest["items"]] == [alerts[0].id]
    assert rest["next_cursor"] is None
    assert {d["channel"] for d in page["items"]} == {"ops hook"}
    sent = client.get(DELIVERIES, query_string={"status": "sent"}, headers=analyst).get_json()
    assert sent["items"] == []
    other = client.get(DELIVERIES, query_string={"channel_id": channel.id + 1}, headers=analyst)
    assert other.get_json()["items"] == []
    bad = client.get(DELIVERIES, query_string={"status": "lost"}, headers=analyst)
    assert bad.status_code == 400 and "status" in fields(bad)


def test_the_history_download_holds_every_line_of_the_range(rt, client, admin, analyst, rule):
    t0 = time.time() - 3600
    one = firing(rt, rule, "web-1", ts=t0)
    firing(rt, rule, "web-2", ts=t0 + 600)
    client.post(f"{ALERTS}/{one.id}/ack", json={"comment": "mine"}, headers=analyst)
    response = client.get(EXPORT, headers=analyst)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    disposition = response.headers["Content-Disposition"]
    assert 'filename="pulseboard-alert-history-start-' in disposition and '.csv"' in disposition
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0]) == [
        "ts",
        "alert_id",
        "rule",
        "labels",
        "event",
        "from",
        "to",
        "severity",
        "value",
        "reason",
        "actor",
    ]
    assert [(r["alert_id"], r["event"]) for r in rows] == [
        (str(one.id), "pending"),
        (str(one.id), "firing"),
        (str(one.id + 1), "pending"),
        (str(one.id + 1), "firing"),
        (str(one.id), "acknowledged"),
    ]
    assert rows[1]["labels"] == '{"host":"web-1","mountpoint":"/"}'
    assert (rows[1]["rule"], rows[1]["severity"], rows[1]["value"]) == (
        rule.name,
        "critical",
        "97.5",
    )
    assert rows[-1]["actor"].startswith("analyst-") and rows[-1]["reason"] == "mine"

    ranged = client.get(
        EXPORT,
        query_string={"from": t0 + 300, "to": t0 + 900, "format": "json", "event": "firing"},
        headers=analyst,
    )
    assert ranged.headers["Content-Type"] == "application/json"
    assert [(r["alert_id"], r["event"]) for r in ranged.get_json()] == [(one.id + 1, "firing")]
    assert ranged.get_json()[0]["labels"] == {"host": "web-2", "mountpoint": "/"}
    assert audit_actions(client, admin, "alerts.") == ["alerts.export.end", "alerts.export"] * 2


BAD_EXPORTS = [
    ({"format": "xml"}, "format"),
    ({"from": "2026-11-28T11:00:00Z", "to": "2026-11-28T10:00:00Z"}, "from"),
    ({"rule_id": -1}, "rule_id"),
    ({"event": "Firing!"}, "event.0"),
]


def test_bad_history_download_parameters_get_400_naming_the_field(client, analyst):
    for query, field in BAD_EXPORTS:
        response = client.get(EXPORT, query_string=query, headers=analyst)
        assert response.status_code == 400, (query, response.get_json())
        assert field in fields(response), (query, fields(response))


def test_metrics_export_alerts_like_prometheus(rt, client, rule):
    firing(rt, rule, "web-1")
    pending = firing(rt, rule, "web-2", severity="warning")
    rt.alerts.apply([InstanceChange(replace(pending, state="pending"))])
    resolve(rt, firing(rt, rule, "web-3"))
    text = client.get("/metrics").get_data(as_text=True)
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "ALERTS"]
    assert family.type == "gauge"
    found = sorted(((s.labels, s.value) for s in family.samples), key=repr)
    assert found == sorted(
        [
            (
                {
                    "alertname": rule.name,
                    "alertstate": "firing",
                    "severity": "critical",
                    "host": "web-1",
                    "mountpoint": "/",
                },
                1.0,
            ),
            (
                {
                    "alertname": rule.name,
                    "alertstate": "pending",
                    "severity": "warning",
                    "host": "web-2",
                    "mountpoint": "/",
                },
                1.0,
            ),
        ],
        key=repr,
    )


def test_a_silence_matches_the_labels_of_the_rule_too(rt, client, admin, analyst):
    created = client.post(RULES, json=metric_rule(labels={"team": "ops"}), headers=admin)
    rule = rt.alerts.get_rule(created.get_json()["id"])
    firing(rt, rule)
    body = {"matchers": {"team": "ops", "severity": "critical"}, "ends_at": time.time() + 60}
    assert client.post(SILENCES, json=body, headers=analyst).status_code == 201
    (item,) = client.get(ALERTS, headers=analyst).get_json()["items"]
    assert item["silenced"] is True


# -- preview -----------------------------------------------------------------------------------


def test_the_preview_shows_the_series_thresholds_and_where_the_rule_would_fire(rt, client, analyst):
    end = time.time()
    start = end - 3600
    rt.metrics.write(
        [
            Sample(start + 10 * i, "web-1", "system_disk_used_percent", 99.0 if i > 180 else 50.0)
            for i in range(360)
        ]
    )
    body = {
        **metric_rule(matchers={}, group_by=["host"], window=60, interval=60),
        "from": start,
        "to": end,
    }
    response = client.post(f"{RULES}/preview", json=body, headers=analyst)
    assert response.status_code == 200, response.get_json()
    preview = response.get_json()
    (series,) = preview["series"]
    assert series["labels"] == {"host": "web-1"}
    assert all(start < ts <= end for ts, _ in series["points"])
    assert preview["thresholds"]["critical"] == 95 and preview["thresholds"]["op"] == ">"
    fired = [t for t in preview["transitions"] if t["to"] == "firing"]
    assert fired and fired[0]["severity"] == "critical"
    assert fired[0]["ts"] > start + 1800
    assert rt.alerts.open_instances() == []  # a preview stores nothing


def test_bad_previews_get_400_naming_the_field(client, analyst):
    now = time.time()
    for body, field in [
        ({**metric_rule(), "critical": None, "warning": None}, "critical"),
        ({**metric_rule(), "from": now, "to": now - 60}, "from"),
        ({**metric_rule(), "from": now - 40 * 86400, "to": now}, "from"),
        ({**metric_rule(), "to": "soon"}, "to"),
    ]:
        response = client.post(f"{RULES}/preview", json=body, headers=analyst)
        assert response.status_code == 400, (body, response.get_json())
        assert field in fields(response), (body, fields(response))
