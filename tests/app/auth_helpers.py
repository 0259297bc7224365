"""Users, tokens, logins and remote addresses for the auth and accounts API tests.

Users are created with one argon2 hash computed once: each hash costs a noticeable while,
and these tests create many users.
"""

from __future__ import annotations

import functools
import re
import uuid

from app import auth
from storage.accounts import AccountStore
from storage.db import make_engine, upgrade

PASSWORD = "password-123"
ME = "/api/v1/admin/me"
USERS = "/api/v1/admin/users"
TOKENS = "/api/v1/admin/tokens"
AUDIT = "/api/v1/admin/audit"


def runtime_of(app):
    """The Pulseboard runtime of a Dash app."""
    return app.server.extensions["pulseboard"]


@functools.cache
def password_hash() -> str:
    """The argon2 hash of PASSWORD."""
    return auth.hash_password(PASSWORD)


def make_user(app, role: str, name: str | None = None) -> tuple[str, int]:
    """A new user with ``role`` and PASSWORD; its name and id."""
    name = name or f"{role}-{uuid.uuid4().hex[:8]}"
    return name, runtime_of(app).accounts.add_user(name, role, password_hash()).id


def make_token(app, role: str) -> str:
    """A bearer token of a new user with ``role``."""
    return runtime_of(app).accounts.create_token(make_user(app, role)[1], "test")[1]


def bearer(token: str) -> dict[str, str]:
    """The Authorization header carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


def login_form(client, name: str, password: str):
    """Fetch the login form, then post ``name`` and ``password`` with its CSRF token."""
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": csrf})


def login(app, role: str, name: str | None = None):
    """A test client logged in as a new user with ``role``."""
    client = app.server.test_client()
    response = login_form(client, make_user(app, role, name)[0], PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def csrf_of(client) -> str:
    """The CSRF token of a logged-in test client's session."""
    with client.session_transaction() as sess:
        return sess["csrf"]


def error_code(response) -> str | None:
    """The ``error.code`` of a JSON error response."""
    body = response.get_json(silent=True) or {}
    return body.get("error", {}).get("code")


class Browser:
    """A test client whose every request comes from one remote address."""

    def __init__(self, app, address: str) -> None:
        self.client = app.server.test_client()
        self.environ_base = {"REMOTE_ADDR": address}

    def get(self, path: str, **kwargs):
        """GET from this address."""
        return self.client.get(path, environ_base=self.environ_base, **kwargs)

    def post(self, path: str, **kwargs):
        """POST from this address."""
        return self.client.post(path, environ_base=self.environ_base, **kwargs)


def migrated_with_reader(url: str, password: str = PASSWORD) -> str:
    """Migrate the database at ``url`` and add the analyst ``reader`` with ``password``; a
    bearer token of that analyst."""
    upgrade(url)
    engine = make_engine(url)
    accounts = AccountStore(engine)
    account = accounts.add_user("reader", "analyst", auth.hash_password(password))
    token = accounts.create_token(account.id, "test")[1]
    engine.dispose()
    return token
