"""Hostile HTTP: numbers no column holds, paths and methods that do not exist, request lines
and headers past the server's limits. Each gets a 4xx in the JSON error shape, never a 500."""

from __future__ import annotations

import pytest
import requests

from app.api.models import BIG_ID_MAX, ID_MAX
from tests.app.auth_helpers import bearer, error_code, make_token
from tests.app.test_processes import kill, start_server

HUGE = "99999999999999999999999"


@pytest.fixture
def admin(app):
    """A test client and the headers of an admin's bearer token."""
    return app.server.test_client(), bearer(make_token(app, "admin"))


def field_error(response) -> dict[str, str]:
    """The ``fields`` of a 400 error response."""
    assert response.status_code == 400, response.get_data(as_text=True)
    return response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("PATCH", f"/api/v1/admin/users/{HUGE}", "user_id"),
        ("PATCH", f"/api/v1/admin/users/{ID_MAX + 1}", "user_id"),
        ("POST", f"/api/v1/admin/users/{HUGE}/tokens", "user_id"),
        ("DELETE", f"/api/v1/admin/tokens/{HUGE}", "token_id"),
        ("DELETE", f"/api/v1/admin/tokens/{ID_MAX + 1}", "token_id"),
    ],
)
def test_an_id_past_what_the_database_holds_is_a_400_naming_it(admin, method, path, field):
    client, headers = admin
    body = {"disabled": False} if method == "PATCH" else {"name": "x"}
    response = client.open(path, method=method, headers=headers, json=body)
    assert field in field_error(response)


def test_the_largest_id_the_database_holds_is_simply_not_found(admin):
    client, headers = admin
    response = client.patch(
        f"/api/v1/admin/users/{ID_MAX}", headers=headers, json={"disabled": False}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/api/v1/admin/audit?cursor={HUGE}", "cursor"),
        (f"/api/v1/admin/audit?cursor={BIG_ID_MAX + 1}", "cursor"),
        ("/api/v1/admin/logs?cursor=inf:1", "cursor"),
        ("/api/v1/admin/logs?cursor=nan:1", "cursor"),
        ("/api/v1/admin/logs?cursor=1e400:1", "cursor"),
        ("/api/v1/admin/logs?cursor=-1e20:1", "cursor"),
        (f"/api/v1/admin/logs?cursor=1:{HUGE}", "cursor"),
        ("/api/v1/admin/logs?from=1e400", "from"),
        (f"/api/v1/admin/monitoring/metrics?max_points={HUGE}", "max_points"),
    ],
)
def test_a_number_no_query_can_use_is_a_400_naming_it(admin, path, field):
    client, headers = admin
    assert field in field_error(client.get(path, headers=headers))


def test_a_cursor_the_search_handed_out_still_pages(admin):
    client, headers = admin
    client.post(
        "/api/v1/logs",
        headers=headers,
        json=[{"message": f"m{i}"} for i in range(3)],
    )
    first = client.get("/api/v1/admin/logs?limit=2", headers=headers).get_json()
    rest = client.get(
        f"/api/v1/admin/logs?limit=2&cursor={first['next_cursor']}", headers=headers
    ).get_json()
    assert [r["message"] for r in first["items"] + rest["items"]] == ["m2", "m1", "m0"]


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_an_api_path_no_route_has_is_a_404_for_every_method(admin, method):
    client, headers = admin
    response = client.open("/api/v1/admin/no-such-thing", method=method, headers=headers)
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


def test_the_document_marks_healthz_public_and_the_rest_authenticated(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["paths"]["/healthz"]["get"]["security"] == []
    others = [
        op for path, ops in document["paths"].items() if path != "/healthz" for op in ops.values()
    ]
    assert others and all("security" not in op for op in others)
    assert document["security"] == [{"bearer": []}, {"session": []}]


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
