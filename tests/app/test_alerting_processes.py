"""Alerting end to end in real ``pulseboard serve`` processes, through the API only: a
metric rule fires from collected samples and its signed webhook arrives; a log rule fires
from ingested lines and its notification carries them; acknowledge, silence and resolve;
a leader killed between the state change and the send sends after the restart, once; two
servers on one database send once."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from app.auth import hash_password
from storage.accounts import AccountStore
from storage.db import make_engine, upgrade
from tests.app.test_processes import kill, start_server
from tests.conftest import truncate_tables, wait_until
from tests.receivers import Receiver, receiving

API = "/api/v1/admin/alerts"
SECRET = "hook-secret"
FAST = {
    "PULSEBOARD_WEBHOOK_ALLOW_PRIVATE": "1",
    "PULSEBOARD_ALERT_GROUP_WAIT": "0",
    "PULSEBOARD_ALERT_GROUP_INTERVAL": "0",
}


def tokens(database_url: str) -> dict[str, str]:
    """Bearer tokens of a new admin and a new ingest user of the database at ``url``."""
    engine = make_engine(database_url, pool_size=1)
    store = AccountStore(engine)
    out = {}
    for role in ("admin", "ingest"):
        account = store.add_user(f"e2e-{role}", role, hash_password("e2e-password-1"))
        out[role] = store.create_token(account.id, "e2e")[1]
    engine.dispose()
    return out


class Console:
    """The API of one running server, as an admin."""

    def __init__(self, port: int, token: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, path: str, body: dict, status: int = 201) -> dict:
        response = requests.post(self.base + path, json=body, headers=self.headers, timeout=10)
        assert response.status_code == status, response.text
        return response.json()

    def get(self, path: str, **params) -> dict:
        response = requests.get(self.base + path, params=params, headers=self.headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def put(self, path: str, body: dict) -> dict:
        response = requests.put(self.base + path, json=body, headers=self.headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def webhook(self, receiver: Receiver) -> int:
        body = {
            "name": "ops hook",
            "kind": "webhook",
            "url": receiver.url + "/hook",
            "secret": SECRET,
        }
        return self.post(f"{API}/channels", body)["id"]

    def alerts(self, **params) -> list[dict]:
        return self.get(API, **params)["items"]


def signed(request) -> bool:
    """Whether a webhook request carries a valid Pulseboard signature."""
    stamp = request.headers["X-Pulseboard-Timestamp"]
    mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + request.body, hashlib.sha256)
    return request.headers["X-Pulseboard-Signature"] == f"sha256={mac.hexdigest()}"


def statuses(receiver: Receiver) -> list[tuple[str, str]]:
    """(status, alertname) of every alert in every notification received."""
    return [
        (a["status"], a["labels"]["alertname"])
        for r in receiver.requests
        for a in r.json()["alerts"]
    ]


CPU_RULE = {
    "name": "CPU seen",
    "kind": "metric",
    "metric": "system_cpu_usage_percent",
    "group_by": ["host"],
    "reduce": "last",
    "window": 10,
    "op": ">=",
    "critical": 0,
    "interval": 1,
    # The first evaluation may come before the first sample: that is not an alert here.
    "no_data": "ok",
    "annotations": {"summary": "CPU on {{ labels.host }} at {{ value | round(1) }}%"},
}


@pytest.mark.timeout(180)
def test_rules_fire_notify_and_are_acknowledged_silenced_and_resolved(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'pulseboard.db'}"
    upgrade(url)
    keys = tokens(url)
    process, port = start_server(tmp_path, "web-1", url, **FAST)
    console = Console(port, keys["admin"])
    try:
        with receiving() as receiver:
            hook = console.webhook(receiver)
            rule = console.post(f"{API}/rules", {**CPU_RULE, "channels": [hook]})
            wait_until(lambda: ("firing", "CPU seen") in statuses(receiver), 30, 0.2)
            first = receiver.requests[0]
            assert signed(first)
            payload = first.json()
            assert payload["version"] == "4" and payload["status"] == "firing"
            (alert,) = [a for a in payload["alerts"] if a["labels"]["alertname"] == "CPU seen"]
            assert alert["labels"]["host"] == "web-1"
            assert alert["annotations"]["summary"].startswith("CPU on web-1 at ")

            (open_alert,) = console.alerts(rule_id=rule["id"])
            acked = console.post(f"{API}/{open_alert['id']}/ack", {"comment": "on it"}, 200)
            assert acked["acknowledged"]["comment"] == "on it"
            console.post(f"{API}/{open_alert['id']}/silence", {"comment": "maintenance"})
            silenced = console.get(f"{API}/{open_alert['id']}")
            assert silenced["silenced"] is True
            assert [h["event"] for h in silenced["history"]][:3] == [
                "firing",
                "notified",
                "acknowledged",
            ]

            # A log rule: ingested lines fire it, and the notification carries them.
            log_rule = {
                "name": "Checkout errors",
                "kind": "log",
                "query": "level>=error source:checkout",
                "aggregate": "count",
                "window": 60,
                "op": ">=",
                "critical": 3,
                "interval": 1,
                "channels": [hook],
            }
            console.post(f"{API}/rules", log_rule)
            lines = "\n".join(
                f'{{"level": "error", "source": "checkout", "message": "card declined #{n}"}}'
                for n in range(3)
            )
            ingest = requests.post(
                f"{console.base}/api/v1/logs",
                data=lines,
                headers={
                    "Authorization": f"Bearer {keys['ingest']}",
                    "Content-Type": "application/x-ndjson",
                },
                timeout=10,
            )
            assert ingest.status_code == 200, ingest.text
            wait_until(lambda: ("firing", "Checkout errors") in statuses(receiver), 30, 0.2)
            carried = next(
                a
                for r in receiver.requests
                for a in r.json()["alerts"]
                if a["labels"]["alertname"] == "Checkout errors"
            )
            assert [line["message"] for line in carried["lines"]] == [
                f"card declined #{n}" for n in range(3)
            ]

            # The silenced CPU alert resolves without telling anyone; the history says so.
            console.put(
                f"{API}/rules/{rule['id']}", {**CPU_RULE, "critical": 1000, "channels": [hook]}
            )
            wait_until(lambda: not console.alerts(rule_id=rule["id"]), 30, 0.2)
            (resolved,) = console.alerts(rule_id=rule["id"], state="resolved")

            def events() -> list[str]:
                return [h["event"] for h in console.get(f"{API}/{resolved['id']}")["history"]]

            # Delivery takes the "resolved" notification and marks it silenced instead.
            wait_until(lambda: "silenced" in events()[events().index("resolved") :], 30, 0.2)
            assert ("resolved", "CPU seen") not in statuses(receiver)
            closed = console.post(f"{API}/{resolved['id']}/close", {"comment": "done"}, 200)
            assert closed["closed"] is True
    finally:
        kill(process)


def outbox(database_url: str) -> list[tuple[str, str]]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT event, status FROM notification_outbox")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


@pytest.mark.timeout(180)
def test_a_leader_killed_before_sending_sends_after_the_restart_once(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'pulseboard.db'}"
    upgrade(url)
    keys = tokens(url)
    # A long group wait holds the notification in the outbox: the kill lands before the send.
    process, port = start_server(
        tmp_path, "web-1", url, **{**FAST, "PULSEBOARD_ALERT_GROUP_WAIT": "3600"}
    )
    with receiving() as receiver:
        try:
            console = Console(port, keys["admin"])
            hook = console.webhook(receiver)
            console.post(f"{API}/rules", {**CPU_RULE, "channels": [hook]})
            wait_until(lambda: ("firing", "pending") in outbox(url), 30, 0.2)
        finally:
            kill(process)
        assert receiver.requests == []
        (tmp_path / "again").mkdir()
        process, port = start_server(tmp_path / "again", "web-1", url, **FAST)
        try:
            wait_until(lambda: receiver.requests, 30, 0.2)
            time.sleep(3)  # room for a second, duplicate send to show up
            assert statuses(receiver) == [("firing", "CPU seen")]
        finally:
            kill(process)


@pytest.mark.timeout(180)
def test_two_servers_on_one_database_send_each_notification_once(tmp_path: Path, pg_url):
    truncate_tables(pg_url)
    keys = tokens(pg_url)
    first, port = start_server(tmp_path, "web-1", pg_url, **FAST)
    second, _ = start_server(tmp_path, "web-2", pg_url, **FAST)
    try:
        with receiving() as receiver:
            console = Console(port, keys["admin"])
            hook = console.webhook(receiver)
            console.post(f"{API}/rules", {**CPU_RULE, "group_by": [], "channels": [hook]})
            wait_until(lambda: receiver.requests, 30, 0.2)
            time.sleep(3)
            assert statuses(receiver) == [("firing", "CPU seen")]
    finally:
        kill(first)
        kill(second)
