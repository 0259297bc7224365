"""The database going away: every request that needs it answers 503 with Retry-After in the
JSON error shape (pages: a plain 503 page; the live tail: an error frame and a close code),
health says down without needing the database, and everything answers normally once the
database is back."""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import websocket
from werkzeug.serving import make_server

from app import create_app, ids
from app.settings import Settings
from storage.db import upgrade
from tests.app.auth_helpers import bearer, csrf_of, runtime_of
from tests.conftest import Accounts
from tests.services import ThrowawayPostgres

HEALTH = "/api/v1/admin/monitoring/health"
READS = (
    "/api/v1/admin/logs",
    "/api/v1/admin/logs/count",
    "/api/v1/admin/logs/histogram",
    "/api/v1/admin/monitoring/metrics",
    "/api/v1/admin/users",
    "/api/v1/admin/tokens",
    "/api/v1/admin/audit",
)
"""A bearer GET of each API family that reads the database."""
INGEST = "/api/v1/logs"
EXPORT = "/api/v1/admin/logs/export"
DASH_UPDATE = "/_dash-update-component"
TAIL = "/api/v1/admin/logs/stream"
TRY_AGAIN_LATER = 1013


@dataclass
class Deployment:
    """An app on a cluster the test stops and starts, served over real HTTP too, with an
    admin token used once (so it is cached) and a logged-in admin browser session."""

    app: object
    database: ThrowawayPostgres
    base: str
    token: str = ""
    session: object = None

    def ingest(self, token: str | None = None):
        return self.app.server.test_client().post(
            INGEST,
            data=b'{"message": "hello"}\n',
            headers={**bearer(token or self.token), "Content-Type": "application/x-ndjson"},
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Deployment]:
    """One cluster and one app for the module: making them is most of each test's time."""
    database = ThrowawayPostgres()
    database.start()
    upgrade(database.url)
    data_dir = tmp_path_factory.mktemp("database-down")
    settings = Settings(
        data_dir=data_dir,
        database_url=database.url,
        redis_url=None,
        secret_key=secrets.token_urlsafe(16),
        admin_password="admin-password-1",
        start_scheduler=False,
        hostname="test-host",
    )
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Deployment(app, database, f"ws://127.0.0.1:{server.server_port}")
    server.shutdown()
    runtime_of(app).close()
    database.remove()


@pytest.fixture
def deployment(served: Deployment) -> Iterator[Deployment]:
    """The module's deployment with the database up, a fresh cached token and session."""
    accounts = Accounts(served.app)
    served.token = accounts.token("admin")
    served.session = accounts.login(served.app.server.test_client(), "admin")
    client = served.app.server.test_client()
    assert client.get(READS[0], headers=bearer(served.token)).status_code == 200
    yield served
    with contextlib.suppress(subprocess.CalledProcessError):
        served.database.start()  # a test that failed while it was down


def dash_hosts_callback() -> dict:
    """A Dash request for the Overview's host list, which reads the metrics store."""
    return {
        "output": f"..{ids.OVERVIEW_HOST}.options...{ids.OVERVIEW_HOST_GROUP}.style..",
        "outputs": [
            {"id": ids.OVERVIEW_HOST, "property": "options"},
            {"id": ids.OVERVIEW_HOST_GROUP, "property": "style"},
        ],
        "inputs": [{"id": ids.OVERVIEW_REFRESH, "property": "n_intervals", "value": 1}],
        "changedPropIds": [f"{ids.OVERVIEW_REFRESH}.n_intervals"],
        "state": [],
    }


def every_kind_of_request(d: Deployment) -> dict[str, object]:
    """One response of each kind a caller may send, by name."""
    client = d.app.server.test_client()
    responses = {f"GET {path}": client.get(path, headers=bearer(d.token)) for path in READS}
    responses["session GET"] = d.session.get(READS[0])
    responses["ingest"] = d.ingest()
    responses["export"] = client.post(EXPORT, json={"format": "csv"}, headers=bearer(d.token))
    responses["Dash callback, token"] = client.post(
        DASH_UPDATE, json=dash_hosts_callback(), headers=bearer(d.token)
    )
    responses["Dash callback, session"] = d.session.post(
        DASH_UPDATE, json=dash_hosts_callback(), headers={"X-CSRFToken": csrf_of(d.session)}
    )
    return responses


def assert_unavailable(response, what: str) -> None:
    assert response.status_code == 503, (what, response.status_code, response.get_data()[:300])
    assert int(response.headers["Retry-After"]) >= 1, what
    error = response.get_json()["error"]
    assert error["code"] == "unavailable" and "database" in error["message"], what


def open_tail(d: Deployment, token: str):
    return websocket.create_connection(
        f"{d.base}{TAIL}?backlog=0", timeout=10, header=[f"Authorization: Bearer {token}"]
    )


def test_every_request_answers_503_with_retry_after_while_down_and_normally_after(deployment):
    deployment.database.stop()
    for what, response in every_kind_of_request(deployment).items():
        assert_unavailable(response, what)
    deployment.database.start()
    for what, response in every_kind_of_request(deployment).items():
        assert response.status_code == 200, (what, response.get_data()[:300])


def test_a_token_not_in_the_cache_cannot_be_checked_and_answers_503(deployment):
    runtime_of(deployment.app).token_cache.clear()
    deployment.database.stop()
    client = deployment.app.server.test_client()
    for path in (HEALTH, READS[0]):
        assert_unavailable(client.get(path, headers=bearer(deployment.token)), path)
    assert_unavailable(deployment.ingest(), "ingest")
    deployment.database.start()
    assert client.get(READS[0], headers=bearer(deployment.token)).status_code == 200


def test_health_says_down_without_the_database_for_a_token_or_a_session(deployment):
    deployment.database.stop()
    client = deployment.app.server.test_client()
    for response in (
        client.get(HEALTH, headers=bearer(deployment.token)),
        deployment.session.get(HEALTH),
    ):
        assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
        body = response.get_json()
        assert body["status"] == "down"
        assert body["components"]["database"]["status"] == "down"
    deployment.database.start()
    assert client.get(HEALTH, headers=bearer(deployment.token)).get_json()["status"] != "down"


def test_pages_get_a_plain_503_page(deployment):
    browser = deployment.app.server.test_client()
    browser.get("/login")
    deployment.database.stop()
    response = browser.post(
        "/login",
        data={"name": "admin", "password": "wrong", "csrf_token": csrf_of(browser)},
    )
    assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
    assert response.mimetype == "text/html"
    assert "database" in response.get_data(as_text=True)


def test_the_live_tail_sends_an_error_frame_and_a_close_code_then_works_again(deployment):
    deployment.database.stop()
    ws = open_tail(deployment, deployment.token)
    frame = json.loads(ws.recv())
    assert frame["type"] == "error" and frame["code"] == "unavailable"
    assert "database" in frame["message"] and frame["retry_after"] >= 1
    opcode, payload = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(payload[:2], "big") == TRY_AGAIN_LATER
    ws.close()
    deployment.database.start()
    ws = open_tail(deployment, deployment.token)
    assert json.loads(ws.recv())["type"] == "ready"
    ws.close()


def test_a_saturated_writer_still_answers_429_with_retry_after_while_down(deployment):
    slots = runtime_of(deployment.app).ingest_slots
    deployment.database.stop()
    held = 0
    while slots.acquire(blocking=False):
        held += 1
    try:
        response = deployment.ingest()
    finally:
        for _ in range(held):
            slots.release()
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    assert response.get_json()["error"]["code"] == "busy"
