"""Hostile HTTP: paths and methods that do not exist, request lines and headers past the
server's limits. Each gets a 4xx in the JSON error shape, never a 500."""

from __future__ import annotations

import pytest
import requests

from tests.app.auth_helpers import bearer, error_code, make_token
from tests.app.test_processes import kill, start_server


@pytest.fixture
def admin(app):
    """A test client and the headers of an admin's bearer token."""
    return app.server.test_client(), bearer(make_token(app, "admin"))


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_an_api_path_no_route_has_is_a_404_for_every_method(admin, method):
    client, headers = admin
    response = client.open("/api/v1/admin/alerts/rules", method=method, headers=headers)
    assert response.status_code == 404
    if method != "HEAD":
        assert error_code(response) == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/api/v1/logs", "OPTIONS, POST"),
        ("PUT", "/api/v1/logs", "OPTIONS, POST"),
        ("POST", "/api/v1/admin/users/1", "OPTIONS, PATCH"),
        ("DELETE", "/api/v1/admin/users", "GET, HEAD, OPTIONS, POST"),
        ("TRACE", "/api/v1/admin/me", "GET, HEAD, OPTIONS"),
    ],
)
def test_another_method_on_an_api_path_is_a_405_with_allow(admin, method, path, allowed):
    client, headers = admin
    response = client.open(path, method=method, headers=headers)
    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    assert error_code(response) == "method_not_allowed"


def test_options_on_an_api_path_lists_only_its_own_methods(admin):
    client, headers = admin
    response = client.options("/api/v1/admin/tokens/1", headers=headers)
    assert response.status_code == 200
    assert response.headers["Allow"] == "DELETE, OPTIONS"


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> str:
    """A real ``pulseboard serve`` on the embedded SQLite default: its base URL."""
    tmp_path = tmp_path_factory.mktemp("hostile")
    database_url = f"sqlite:///{tmp_path / 'pulseboard.db'}"
    process, port = start_server(tmp_path, "hostile", database_url)
    yield f"http://127.0.0.1:{port}"
    kill(process)


def test_a_request_line_past_the_servers_limit_is_a_json_414(served):
    response = requests.get(f"{served}/api/v1/admin/logs?q={'a' * 5000}", timeout=10)
    assert response.status_code == 414
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "request_uri_too_long"


@pytest.mark.parametrize(
    "headers",
    [{"X-Big": "b" * 9000}, {f"X-Many-{i}": "1" for i in range(120)}],
    ids=["one too large", "too many"],
)
def test_headers_past_the_servers_limits_are_a_json_431(served, headers):
    response = requests.get(f"{served}/healthz", headers=headers, timeout=10)
    assert response.status_code == 431
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "request_header_fields_too_large"
    assert requests.get(f"{served}/healthz", timeout=10).json() == {"status": "ok"}
