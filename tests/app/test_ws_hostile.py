"""Hostile and malformed upgrades to every WebSocket route of a real ``pulseboard serve``: each
is answered at once with a clear 4xx in the JSON error shape, never a 500, a 101 or silence,
and the server goes on serving."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from tests.app.auth_helpers import migrated_with_reader
from tests.app.test_processes import kill, start_server

ROUTES = (
    "/api/v1/admin/monitoring/stream",
    "/api/v1/admin/alerts/stream",
    "/api/v1/admin/logs/stream",
)
SECRET = "same-secret-for-both"
"""The secret key ``start_server`` gives every server (sessions are signed with it)."""
PASSWORD = "password-123"


@dataclass
class Served:
    port: int
    token: str
    user: str
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """``pulseboard serve`` on SQLite, with an analyst who has a token and a password."""
    tmp_path = tmp_path_factory.mktemp("ws-hostile")
    url = f"sqlite:///{tmp_path / 'pulseboard.db'}"
    token = migrated_with_reader(url, PASSWORD)
    process, port = start_server(tmp_path, "hostile", url)
    yield Served(port, token, "reader", tmp_path / "hostile" / "server.log")
    kill(process)


def upgrade_headers(served: Served, **changes: str | None) -> dict[str, str]:
    """A valid upgrade with a bearer token, changed by ``changes`` (None drops a header;
    underscores in a name stand for dashes)."""
    headers = {
        "Host": f"127.0.0.1:{served.port}",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
        "Authorization": f"Bearer {served.token}",
    }
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return headers


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict:
        assert self.headers.get("content-type") == "application/json", self
        return json.loads(self.body)["error"]


def send(served: Served, path: str, headers: dict[str, str], method: str = "GET") -> Answer:
    """Send one request over a raw socket and read the whole answer (failing, not hanging,
    when none comes within seconds)."""
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"the server closed without an answer: {data!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        answer_headers = {
            k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)
        }
        length = int(answer_headers.get("content-length", 0))
        while len(body) < length:
            chunk = sock.recv(65536)
            assert chunk, "the answer ended early"
            body += chunk
    return Answer(int(status_line.split()[1]), answer_headers, body)


def session_cookie(served: Served, **changes) -> str:
    """A logged-in session cookie from the login form, re-signed with ``changes``."""
    browser = requests.Session()
    page = browser.get(f"{served.base}/login", timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = browser.post(
        f"{served.base}/login",
        data={"name": served.user, "password": PASSWORD, "csrf_token": csrf},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    cookie = browser.cookies["session"]
    if not changes:
        return cookie
    app = Flask(__name__)
    app.secret_key = SECRET
    signer = SecureCookieSessionInterface().get_signing_serializer(app)
    return signer.dumps({**signer.loads(cookie), **changes})


@pytest.mark.parametrize("path", ROUTES)
def test_a_valid_upgrade_is_switched(served, path):
    answer = send(served, path, upgrade_headers(served))
    assert answer.status == 101


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    ("changes", "status", "says"),
    [
        ({"Sec-WebSocket-Key": None}, 400, "Sec-WebSocket-Key"),
        ({"Sec-WebSocket-Key": "not a key at all"}, 400, "Sec-WebSocket-Key"),
        ({"Sec-WebSocket-Key": base64.b64encode(b"short").decode()}, 400, "Sec-WebSocket-Key"),
        ({"Sec-WebSocket-Key": "A" * 6000}, 400, "Sec-WebSocket-Key"),
        ({"Sec-WebSocket-Version": "8"}, 426, "13"),
        ({"Sec-WebSocket-Version": None}, 400, "Sec-WebSocket-Version"),
        ({"Upgrade": None}, 426, "upgrade"),
        ({"Connection": None}, 426, "upgrade"),
        ({"Upgrade": "h2c"}, 426, "upgrade"),
    ],
    ids=[
        "no key",
        "a key that is not base64",
        "a key of 5 bytes",
        "a huge key",
        "version 8",
        "no version",
        "no Upgrade",
        "no Connection: Upgrade",
        "an upgrade to another protocol",
    ],
)
def test_a_malformed_upgrade_is_a_clear_4xx(served, path, changes, status, says):
    answer = send(served, path, upgrade_headers(served, **changes))
    assert answer.status == status, answer
    error = answer.error()
    assert error["message"] and says in error["message"], error
    if says == "13":
        assert answer.headers["sec-websocket-version"] == "13"
    elif status == 426:
        assert answer.headers["upgrade"] == "websocket"


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_another_method_is_refused(served, path, method):
    answer = send(served, path, upgrade_headers(served), method=method)
    assert answer.status in (400, 405), answer
    assert answer.error()["message"]


@pytest.mark.parametrize("path", ROUTES)
def test_an_upgrade_with_headers_past_the_limits_is_a_431(served, path):
    answer = send(served, path, upgrade_headers(served, X_Big="b" * 9000))
    assert answer.status == 431
    assert answer.error()["code"] == "request_header_fields_too_large"


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer pb_not-a-token", "Basic cmVhZGVyOnBhc3N3b3JkLTEyMw=="],
    ids=["none", "an unknown token", "basic auth"],
)
def test_an_unauthenticated_upgrade_is_a_401(served, path, authorization):
    answer = send(served, path, upgrade_headers(served, Authorization=authorization))
    assert answer.status == 401
    assert answer.error()["code"] == "unauthorized"


@pytest.mark.parametrize("path", ROUTES)
def test_a_session_opens_a_websocket_until_it_has_expired(served, path):
    origin = {"Origin": served.base, "Authorization": None}
    fresh = session_cookie(served)
    assert (
        send(served, path, upgrade_headers(served, Cookie=f"session={fresh}", **origin)).status
        == 101
    )
    idle = session_cookie(served, seen=int(time.time()) - 9 * 3600)
    answer = send(served, path, upgrade_headers(served, Cookie=f"session={idle}", **origin))
    assert answer.status == 401
    assert answer.error()["code"] == "unauthorized"
    forged = fresh[:-4] + ("AAAA" if not fresh.endswith("AAAA") else "BBBB")
    answer = send(served, path, upgrade_headers(served, Cookie=f"session={forged}", **origin))
    assert answer.status == 401


def test_the_server_still_serves_after_the_hostile_upgrades(served):
    assert requests.get(f"{served.base}/healthz", timeout=5).json() == {"status": "ok"}
    assert send(served, ROUTES[0], upgrade_headers(served)).status == 101


def test_nothing_hostile_was_an_internal_error(served):
    log = served.log.read_text()
    # What Flask logs for an unhandled error, and what a failing stream route logs.
    assert "Exception on " not in log and not re.search(r"WebSocket \S+ failed", log), log
