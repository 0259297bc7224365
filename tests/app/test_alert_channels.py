"""Channels as the Alerts page changes them, on both backends, against a real receiver on
127.0.0.1: stored sealed, read masked, a secret kept when left out, internal addresses
refused without the setting, names unique, Test answering with the receiver's reply."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.services import Conflict, FieldError, NotFound, alert_channels
from app.services.accounts import Actor

NOW = 1_772_000_000.0
SECRET = "a-signing-secret-42"


class Receiver(ThreadingHTTPServer):
    """Keeps each request's headers and body; answers ``status`` with ``answer``."""

    requests: list[tuple[dict, bytes]]
    status = 200
    answer = b'{"ok": true}'


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append((dict(self.headers), body))
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(self.server.answer)))
        self.end_headers()
        self.wfile.write(self.server.answer)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running receiver on 127.0.0.1."""
    server = Receiver(("127.0.0.1", 0), _Handler)
    server.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def rt(make_app, database_url):
    """The runtime of an app that may send to 127.0.0.1, on each backend."""
    return make_app(database_url=database_url, webhook_allow_private=True).server.extensions[
        "pulseboard"
    ]


@pytest.fixture
def admin(rt) -> Actor:
    account, _ = rt.accounts.credentials("admin")
    return Actor(account, "127.0.0.1")


def url_of(receiver: Receiver, path: str = "/hook/abc123def456") -> str:
    return f"http://127.0.0.1:{receiver.server_address[1]}{path}"


def test_a_channel_is_stored_sealed_and_read_masked(rt, admin, receiver) -> None:
    body = {"name": "ops", "kind": "webhook", "url": url_of(receiver), "secret": SECRET}
    shown = alert_channels.create_channel(rt, admin, body, NOW)
    assert shown["secret"] != SECRET and SECRET not in json.dumps(shown)
    assert "abc123def456" not in shown["url"]
    [stored] = rt.channels.list()
    assert SECRET not in json.dumps(stored.config)
    assert alert_channels.config_of(rt, stored) == {"url": url_of(receiver), "secret": SECRET}
    assert alert_channels.list_channels(rt) == [shown]
    [entry] = rt.accounts.list_audit(action="alert_channel.create")
    assert SECRET not in json.dumps(entry.details)


def test_replacing_a_channel_keeps_the_secret_and_url_left_out(rt, admin, receiver) -> None:
    body = {"name": "ops", "kind": "webhook", "url": url_of(receiver), "secret": SECRET}
    channel_id = alert_channels.create_channel(rt, admin, body, NOW)["id"]
    shown = alert_channels.replace_channel(
        rt, admin, channel_id, {"name": "ops 2", "kind": "webhook", "enabled": False}, NOW + 1
    )
    assert (shown["name"], shown["enabled"]) == ("ops 2", False)
    stored = rt.channels.get(channel_id)
    assert alert_channels.config_of(rt, stored) == {"url": url_of(receiver), "secret": SECRET}


def test_test_sends_a_signed_sample_and_shows_the_receivers_answer(rt, admin, receiver) -> None:
    body = {"name": "ops", "kind": "webhook", "url": url_of(receiver), "secret": SECRET}
    channel_id = alert_channels.create_channel(rt, admin, body, NOW)["id"]
    assert alert_channels.test_channel(rt, admin, channel_id, NOW) == {
        "ok": True,
        "status": 200,
        "answer": '{"ok": true}',
    }
    [(headers, sent)] = receiver.requests
    payload = json.loads(sent)
    assert payload["receiver"] == "ops" and payload["alerts"][0]["labels"]["alertname"]
    stamp = headers["X-Pulseboard-Timestamp"]
    expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + sent, hashlib.sha256).hexdigest()
    assert headers["X-Pulseboard-Signature"] == f"sha256={expected}"
    receiver.status, receiver.answer = 503, b"down for maintenance"
    answer = alert_channels.test_channel(rt, admin, channel_id, NOW)
    assert answer == {"ok": False, "status": 503, "answer": "down for maintenance"}


def test_bad_channels_are_refused_naming_the_field(rt, admin, receiver) -> None:
    good = {"name": "ops", "kind": "webhook", "url": url_of(receiver)}
    alert_channels.create_channel(rt, admin, good, NOW)
    with pytest.raises(Conflict) as caught:
        alert_channels.create_channel(rt, admin, good, NOW)
    assert caught.value.fields == {"name": "taken by another channel"}
    for body, field in [
        ({**good, "name": "x", "kind": "pager"}, "kind"),
        ({**good, "name": " "}, "name"),
        ({**good, "name": "x", "url": "ftp://example.com/"}, "url"),
        ({**good, "name": "x", "enabled": "yes"}, "enabled"),
    ]:
        with pytest.raises(FieldError) as caught:
            alert_channels.create_channel(rt, admin, body, NOW)
        assert caught.value.field == field, body
    with pytest.raises(NotFound):
        alert_channels.test_channel(rt, admin, 999, NOW)


def test_internal_addresses_are_refused_without_the_setting(make_app, receiver) -> None:
    rt = make_app().server.extensions["pulseboard"]
    account, _ = rt.accounts.credentials("admin")
    with pytest.raises(FieldError) as caught:
        alert_channels.create_channel(
            rt,
            Actor(account, None),
            {"name": "ops", "kind": "webhook", "url": url_of(receiver)},
            NOW,
        )
    assert caught.value.field == "url"
    assert rt.channels.list() == []


def test_deleting_a_channel_is_audited(rt, admin, receiver) -> None:
    body = {"name": "ops", "kind": "webhook", "url": url_of(receiver)}
    channel_id = alert_channels.create_channel(rt, admin, body, NOW)["id"]
    alert_channels.delete_channel(rt, admin, channel_id, NOW)
    assert rt.channels.list() == []
    assert [e.target for e in rt.accounts.list_audit(action="alert_channel.delete")] == [
        f"channel:{channel_id}"
    ]
    with pytest.raises(NotFound):
        alert_channels.delete_channel(rt, admin, channel_id, NOW)


def test_the_delivery_job_opens_the_sealed_config_to_send(rt, admin, receiver) -> None:
    body = {"name": "ops", "kind": "webhook", "url": url_of(receiver)}
    alert_channels.create_channel(rt, admin, body, NOW)
    [stored] = rt.channels.list()
    send = alert_channels.sealed_sender(rt.settings.secret_key)
    notification = alert_channels.sample("ops", "http://pulseboard.example", NOW)
    answer = send(stored.kind, stored.config, notification, alert_channels.context(rt))
    assert answer.ok and len(receiver.requests) == 1
