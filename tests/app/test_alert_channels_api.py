"""The channels API on both backends against a real receiver on 127.0.0.1: masked reads,
a kept secret, Test with the receiver's answer, roles, internal addresses and bad bodies."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest

from tests.app.alert_helpers import ALERTS
from tests.app.auth_helpers import AUDIT, bearer, make_token
from tests.receivers import Receiver, receiving

CHANNELS = ALERTS + "/channels"
SECRET = "a-signing-secret-42"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as running:
        yield running


def url_of(receiver: Receiver) -> str:
    """A hook URL on ``receiver`` with a token-like path segment (masked on read)."""
    return f"{receiver.url}/hook/abc123def456"


@pytest.fixture
def app(make_app, database_url):
    """An app that may send to 127.0.0.1, on each backend."""
    return make_app(database_url=database_url, webhook_allow_private=True)


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.fixture
def admin(app):
    return bearer(make_token(app, "admin"))


@pytest.fixture
def analyst(app):
    return bearer(make_token(app, "analyst"))


def signed_by(secret: str, headers: dict, body: bytes) -> bool:
    stamp = headers["X-Pulseboard-Timestamp"]
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return headers["X-Pulseboard-Signature"] == f"sha256={mac}"


def test_a_channel_is_read_masked_tested_replaced_and_deleted(
    client, admin, analyst, receiver: Receiver
):
    body = {"name": "ops hook", "kind": "webhook", "url": url_of(receiver), "secret": SECRET}
    created = client.post(CHANNELS, json=body, headers=admin)
    assert created.status_code == 201, created.get_json()
    channel = created.get_json()
    assert (channel["name"], channel["kind"], channel["enabled"]) == ("ops hook", "webhook", True)
    assert SECRET not in json.dumps(channel) and "abc123def456" not in channel["url"]
    url = f"{CHANNELS}/{channel['id']}"
    for read in (client.get(url, headers=analyst), client.get(CHANNELS, headers=analyst)):
        assert read.status_code == 200
        assert SECRET not in read.get_data(as_text=True)
        assert "abc123def456" not in read.get_data(as_text=True)

    renamed = client.put(url, json={"name": "ops", "kind": "webhook"}, headers=admin)
    assert renamed.status_code == 200, renamed.get_json()
    assert renamed.get_json()["name"] == "ops"

    tested = client.post(f"{url}/test", headers=admin)
    assert tested.status_code == 200, tested.get_json()
    assert tested.get_json() == {"ok": True, "status": 200, "answer": '{"ok": true}'}
    (sent,) = receiver.requests
    assert signed_by(SECRET, sent.headers, sent.body)  # the saved secret was kept on replace
    assert sent.json()["version"] == "4"

    assert client.delete(url, headers=admin).status_code == 204
    assert client.get(url, headers=analyst).status_code == 404
    actions = client.get(
        AUDIT, query_string={"action": "alert_channel."}, headers=admin
    ).get_json()["items"]
    assert [a["action"] for a in actions] == [
        "alert_channel.delete",
        "alert_channel.test",
        "alert_channel.replace",
        "alert_channel.create",
    ]


def test_test_answers_with_the_receivers_refusal(client, admin, receiver: Receiver):
    receiver.reply(500, "receiver broke")
    body = {"name": "flaky", "kind": "webhook", "url": url_of(receiver)}
    channel = client.post(CHANNELS, json=body, headers=admin).get_json()
    tested = client.post(f"{CHANNELS}/{channel['id']}/test", headers=admin).get_json()
    assert tested == {"ok": False, "status": 500, "answer": "receiver broke"}


def test_only_admins_change_or_test_channels(client, admin, analyst, receiver: Receiver):
    body = {"name": "ops", "kind": "webhook", "url": url_of(receiver)}
    assert client.post(CHANNELS, json=body, headers=analyst).status_code == 403
    channel = client.post(CHANNELS, json=body, headers=admin).get_json()
    url = f"{CHANNELS}/{channel['id']}"
    assert client.put(url, json=body, headers=analyst).status_code == 403
    assert client.post(f"{url}/test", headers=analyst).status_code == 403
    assert client.delete(url, headers=analyst).status_code == 403
    assert receiver.requests == []


def test_internal_addresses_are_refused_without_the_setting(make_app, database_url):
    app = make_app(database_url=database_url)
    client = app.server.test_client()
    admin = bearer(make_token(app, "admin"))
    for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://169.254.169.254/"):
        body = {"name": "inside", "kind": "webhook", "url": url}
        refused = client.post(CHANNELS, json=body, headers=admin)
        assert refused.status_code == 400, url
        assert "url" in refused.get_json()["error"]["fields"], url


def test_bad_channel_bodies_get_400_naming_the_field(client, admin, receiver: Receiver):
    hook = url_of(receiver)
    for body, field in [
        ({"name": "x", "kind": "pager", "url": hook}, "kind"),
        ({"name": "x", "kind": "webhook"}, "url"),
        ({"name": "x", "kind": "webhook", "url": "ftp://example.com/"}, "url"),
        ({"name": "", "kind": "webhook", "url": hook}, "name"),
        ({"name": "x", "kind": "email", "to": ["ops@example.com"]}, "kind"),  # no SMTP set
        ({"name": "x", "kind": "email", "to": ["not an address"]}, "to.0"),
        ({"name": "x", "kind": "dingtalk", "url": hook, "at_mobiles": ["call me"]}, "at_mobiles.0"),
        ({"name": "x", "kind": "webhook", "url": hook, "secret": "s" * 600}, "secret"),
        ({"name": "x", "kind": "webhook", "url": hook, "token": "t"}, "token"),
    ]:
        response = client.post(CHANNELS, json=body, headers=admin)
        assert response.status_code == 400, (body, response.get_json())
        assert field in response.get_json()["error"]["fields"], (body, response.get_json())


def test_a_taken_channel_name_gets_409_naming_name(client, admin, receiver: Receiver):
    body = {"name": "ops", "kind": "webhook", "url": url_of(receiver)}
    assert client.post(CHANNELS, json=body, headers=admin).status_code == 201
    taken = client.post(CHANNELS, json=body, headers=admin)
    assert taken.status_code == 409 and "name" in taken.get_json()["error"]["fields"]


def test_unknown_channels_get_404(client, admin):
    body = {"name": "x", "kind": "webhook", "url": "http://127.0.0.1:9/"}
    assert client.get(f"{CHANNELS}/999999", headers=admin).status_code == 404
    assert client.put(f"{CHANNELS}/999999", json=body, headers=admin).status_code == 404
    assert client.delete(f"{CHANNELS}/999999", headers=admin).status_code == 404
    assert client.post(f"{CHANNELS}/999999/test", headers=admin).status_code == 404
