"""The generic webhook: Alertmanager's webhook body (version 4) with ``ackURL``, signed
with HMAC-SHA256 over the exact bytes when a secret is set, and the receiver's answer
judged by its status (no redirects followed)."""

from __future__ import annotations

import hashlib
import hmac

from app.alerting import channels
from tests.alerting.channels.conftest import LOCAL, alert, free_port, notification

SECRET = "s3cret-for-the-hook"


def test_the_body_is_alertmanagers_webhook_v4_with_an_ack_url(receiver):
    config = channels.validate("webhook", {"url": receiver.url + "/hook"}, LOCAL)
    answer = channels.send("webhook", config, notification(), LOCAL)
    assert (answer.ok, answer.status, answer.answer) == (True, 200, '{"ok": true}')
    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.headers["Content-Type"].startswith("application/json")
    body = request.json()
    assert body == {
        "version": "4",
        "groupKey": "3:{host=web-1}",
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "ops",
        "groupLabels": {"alertname": "Disk almost full", "host": "web-1"},
        "commonLabels": alert().labels,
        "commonAnnotations": alert().annotations,
        "externalURL": "http://pulse.example",
        "alerts": [
            {
                "status": "firing",
                "labels": alert().labels,
                "annotations": alert().annotations,
                "startsAt": "2027-01-15T08:00:00.000Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://pulse.example/alerts/rules/3",
                "fingerprint": "a1b2c3d4e5f60718",
                "ackURL": "http://pulse.example/alerts/7?ack=1",
            }
        ],
    }
    assert "X-Pulseboard-Signature" not in request.headers


def test_common_labels_are_those_every_alert_shares_and_resolved_alerts_carry_ends_at(receiver):
    web2 = alert(
        id=8,
        status="resolved",
        ends_at=1_800_000_600.0,
        labels={**alert().labels, "host": "web-2"},
    )
    channels.send("webhook", {"url": receiver.url}, notification(alert(), web2), LOCAL)
    body = receiver.requests[0].json()
    assert body["commonLabels"] == {
        "alertname": "Disk almost full",
        "severity": "critical",
        "mountpoint": "/",
    }
    assert [a["endsAt"] for a in body["alerts"]] == [
        "0001-01-01T00:00:00Z",
        "2027-01-15T08:10:00.000Z",
    ]


def test_with_a_secret_the_receiver_can_verify_the_hmac_of_the_bytes_it_got(receiver):
    config = channels.validate("webhook", {"url": receiver.url, "secret": SECRET}, LOCAL)
    assert config == {"url": receiver.url, "secret": SECRET}
    assert channels.send("webhook", config, notification(), LOCAL).ok
    [request] = receiver.requests
    timestamp = request.headers["X-Pulseboard-Timestamp"]
    assert timestamp.isdigit()
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert request.headers["X-Pulseboard-Signature"] == "sha256=" + expected.hexdigest()


def test_a_receiver_that_fails_with_500_is_worth_retrying(receiver):
    receiver.reply(500, "database down")
    answer = channels.send("webhook", {"url": receiver.url}, notification(), LOCAL)
    assert (answer.ok, answer.status, answer.answer, answer.retry) == (
        False,
        500,
        "database down",
        True,
    )


def test_a_receiver_that_refuses_with_400_is_not_retried(receiver):
    receiver.reply(400, "bad payload")
    answer = channels.send("webhook", {"url": receiver.url}, notification(), LOCAL)
    assert (answer.ok, answer.status, answer.retry) == (False, 400, False)


def test_429_and_408_are_worth_retrying(receiver):
    receiver.reply(429, "slow down")
    receiver.reply(408, "timeout")
    answers = [channels.send("webhook", {"url": receiver.url}, notification(), LOCAL) for _ in "ab"]
    assert [(a.status, a.retry) for a in answers] == [(429, True), (408, True)]


def test_a_receiver_that_is_down_is_worth_retrying():
    url = f"http://127.0.0.1:{free_port()}/hook"
    answer = channels.send("webhook", {"url": url}, notification(), LOCAL)
    assert (answer.ok, answer.status, answer.retry) == (False, None, True)
    assert answer.answer


def test_a_redirect_is_not_followed(receiver):
    receiver.reply(302, "", Location="http://169.254.169.254/latest/meta-data/")
    answer = channels.send("webhook", {"url": receiver.url}, notification(), LOCAL)
    assert (answer.ok, answer.status, answer.retry) == (False, 302, False)
    assert "169.254.169.254" in answer.answer
    assert len(receiver.requests) == 1


def test_the_answer_keeps_the_first_500_characters_of_the_reply(receiver):
    receiver.reply(200, "x" * 2000)
    assert (
        channels.send("webhook", {"url": receiver.url}, notification(), LOCAL).answer == "x" * 500
    )


def test_credentials_in_the_url_are_sent_as_basic_auth_not_as_part_of_the_address(receiver):
    url = receiver.url.replace("http://", "http://ops:pa%40ss@") + "/hook"
    assert channels.send("webhook", {"url": url}, notification(), LOCAL).ok
    [request] = receiver.requests
    assert request.headers["Authorization"] == "Basic b3BzOnBhQHNz"
    assert request.headers["Host"] == receiver.url.removeprefix("http://")


def test_validate_keeps_only_the_kinds_fields_and_an_unknown_kind_is_refused(receiver):
    config = {"url": receiver.url, "secret": "", "name": "ops", "to": ["a@b.c"]}
    assert channels.validate("webhook", config, LOCAL) == {"url": receiver.url}
    try:
        channels.validate("pager", config, LOCAL)
    except channels.ChannelConfigError as exc:
        assert exc.field == "kind"
    else:
        raise AssertionError("an unknown kind was accepted")


def test_a_log_rules_alert_carries_its_matching_lines(receiver):
    lines = ({"ts": 1_800_000_000.5, "level": "error", "source": "api", "message": "boom"},)
    channels.send("webhook", {"url": receiver.url}, notification(alert(lines=lines)), LOCAL)
    assert receiver.requests[0].json()["alerts"][0]["lines"] == [
        {"ts": 1_800_000_000.5, "level": "error", "source": "api", "message": "boom"}
    ]


def test_the_external_url_falls_back_to_the_servers(receiver):
    channels.send("webhook", {"url": receiver.url}, notification(external_url=""), LOCAL)
    assert receiver.requests[0].json()["externalURL"] == LOCAL.external_url
