"""Who may do what: every registered route and callback against every role, CSRF,
revocation, sessions, login throttling, hostile login input, secrets and headers.

Tests of the guard alone run on one app (SQLite); those whose answer comes from the
database run on both backends (the ``app`` fixture).
"""

from __future__ import annotations

import html
import logging
import re
import time
from dataclasses import dataclass, field

import pytest
from dash import Input, Output
from sqlalchemy import text

from app import auth
from app.token_cache import DEFAULT_TTL, TokenCache
from storage.accounts import token_digest
from storage.login_throttle import LoginThrottle
from tests.app.auth_helpers import (
    AUDIT,
    ME,
    PASSWORD,
    TOKENS,
    USERS,
    Browser,
    bearer,
    csrf_of,
    error_code,
    login,
    login_form,
    make_token,
    make_user,
    runtime_of,
)
from tests.conftest import wait_until
from tests.storage.test_login_throttle import Clock

DASH_UPDATE = "/_dash-update-component"
PLACEHOLDER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>")


@pytest.fixture
def web(make_app):
    """One app on SQLite, for tests of the guard that no backend changes."""
    return make_app()


# -- helpers -------------------------------------------------------------------------------


@dataclass
class Caller:
    """A client with the credentials of one role (``role`` None: anonymous)."""

    label: str
    role: str | None
    client: object
    headers: dict[str, str] = field(default_factory=dict)


def callers(app) -> list[Caller]:
    """Anonymous, a bearer token of each role, and browser sessions of each role.

    Ingest accounts cannot log in; their session is forged (as if signed with the key) to
    show that a session gives an ingest user no more than its token would.
    """
    server = app.server
    found = [Caller("anonymous", None, server.test_client())]
    for role in ("ingest", "analyst", "admin"):
        found.append(
            Caller(f"{role} token", role, server.test_client(), bearer(make_token(app, role)))
        )
    for role in ("analyst", "admin"):
        client = login(app, role)
        found.append(Caller(f"{role} session", role, client, {auth.CSRF_HEADER: csrf_of(client)}))
    ingest = server.test_client()
    name, user_id = make_user(app, "ingest")
    with ingest.session_transaction() as sess:
        sess.update(uid=user_id, name=name, role="ingest", seen=int(time.time()), csrf="c")
    found.append(Caller("ingest session", "ingest", ingest, {auth.CSRF_HEADER: "c"}))
    return found


def fill(rule: str) -> str:
    """A concrete path for a rule: ids that exist nowhere, a plain word for other values."""
    return PLACEHOLDER.sub(lambda m: "999999" if m.group(1) == "int" else "matrix", rule)


def program_path(path: str) -> bool:
    """API and Dash's own routes answer programs (401); the rest are pages (redirect)."""
    return path.startswith(("/api/", "/_")) or path == "/metrics"


def routes(app) -> list[tuple[str, str, bool, tuple[str, ...] | None]]:
    """(method, path, websocket, declared roles) of every registered rule, logout last."""
    found = []
    for rule in app.server.url_map.iter_rules():
        allowed = auth.declared_roles(app.server, rule.endpoint)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, fill(rule.rule), rule.websocket, allowed))
    return sorted(found, key=lambda r: r[1] == "/logout")


def server_callbacks(app) -> dict[str, tuple[str, ...] | None]:
    """Output key -> declared roles of every server-side callback."""
    app.server.test_client().get("/healthz")  # Dash adds its page-routing callback on setup
    return {
        output: auth.callback_roles(app.server, output)
        for output, entry in app.callback_map.items()
        if "callback" in entry
    }


def undeclared(app) -> list[str]:
    """Every route and server-side callback that declares no roles."""
    missing = [
        f"callback {output}" for output, roles in server_callbacks(app).items() if roles is None
    ]
    return [
        f"route {rule.rule} ({rule.endpoint})"
        for rule in app.server.url_map.iter_rules()
        if auth.declared_roles(app.server, rule.endpoint) is None
    ] + missing


def _dependency(spec: str) -> dict:
    component, prop = spec.rsplit(".", 1)
    return {"id": component, "property": prop.split("@", 1)[0]}


def dash_body(app, output: str) -> dict:
    """The body Dash's renderer posts to run the callback writing ``output``."""
    entry = app.callback_map[output]
    multi = output.startswith("..")
    return {
        "output": output,
        "outputs": [_dependency(p) for p in output.strip(".").split("...")]
        if multi
        else _dependency(output),
        "inputs": [{**dep, "value": None} for dep in entry["inputs"]],
        "state": [{**dep, "value": None} for dep in entry.get("state", [])],
        "changedPropIds": [],
    }


# -- the role matrix -----------------------------------------------------------------------


def test_every_route_answers_each_role_as_its_declaration_says(web):
    problems = []
    checked = 0
    for caller in callers(web):
        for method, path, websocket, allowed in routes(web):
            assert allowed is not None, f"{path} declares no roles"
            role = caller.role
            if auth.PUBLIC in allowed:
                expected = "open"
            elif role is None:
                expected = "401" if program_path(path) else "login"
            else:
                expected = "allowed" if role in allowed else "403"
            if websocket and expected in ("open", "allowed"):
                continue  # a real upgrade needs a real server: tests/app/test_ws_stream.py
            headers = dict(caller.headers)
            if websocket:
                headers.update(Upgrade="websocket", Connection="Upgrade")
            response = caller.client.open(path, method=method, headers=headers)
            status, location = response.status_code, response.headers.get("Location", "")
            guard_redirect = status == 302 and location.startswith("/login?next=")
            ok = {
                "open": status not in (401, 403) and not guard_redirect,
                "allowed": status not in (401, 403) and not guard_redirect,
                "401": status == 401 and error_code(response) == "unauthorized",
                "login": guard_redirect,
                "403": status == 403 and error_code(response) == "forbidden",
            }[expected]
            checked += 1
            if not ok or status >= 500:
                problems.append(f"{caller.label}: {method} {path} -> {status} {location}")
    assert not problems, "\n".join(problems)
    assert checked > 100


def test_every_route_and_server_callback_declares_its_roles(web):
    assert undeclared(web) == []
    assert ("admin", "analyst") in server_callbacks(web).values()


def test_an_undeclared_route_or_callback_is_refused_and_flagged(web):
    ran: list[str] = []
    web.server.add_url_rule("/throwaway", "throwaway", lambda: ran.append("route") or "hi")
    web.callback(Output("throwaway-out", "children"), Input("throwaway-in", "value"))(
        lambda value: ran.append("callback") or "hi"
    )
    assert undeclared(web) == ["route /throwaway (throwaway)", "callback throwaway-out.children"]
    admin = bearer(make_token(web, "admin"))
    client = web.server.test_client()
    response = client.get("/throwaway", headers=admin)
    assert response.status_code == 403 and error_code(response) == "forbidden"
    body = dash_body(web, "throwaway-out.children")
    response = client.post(DASH_UPDATE, json=body, headers=admin)
    assert response.status_code == 403 and error_code(response) == "forbidden"
    assert ran == []


# -- forged Dash callbacks -----------------------------------------------------------------


def test_a_forged_admin_only_callback_is_refused_for_an_analyst(web):
    ran: list[object] = []

    @auth.callback(
        web, Output("admin-only-out", "children"), Input("admin-only-in", "value"), roles=("admin",)
    )
    def admin_only(value):
        ran.append(value)
        return "done"

    body = dash_body(web, "admin-only-out.children")
    analyst = login(web, "analyst")
    response = analyst.post(DASH_UPDATE, json=body, headers={auth.CSRF_HEADER: csrf_of(analyst)})
    assert response.status_code == 403 and error_code(response) == "forbidden"
    token = bearer(make_token(web, "analyst"))
    assert web.server.test_client().post(DASH_UPDATE, json=body, headers=token).status_code == 403
    assert ran == []
    admin = login(web, "admin")
    response = admin.post(DASH_UPDATE, json=body, headers={auth.CSRF_HEADER: csrf_of(admin)})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "done" in response.get_data(as_text=True) and ran == [None]


def test_every_declared_callback_refuses_the_roles_it_does_not_name(web):
    declared = server_callbacks(web)
    problems = []
    for caller in callers(web):
        for output, allowed in declared.items():
            if caller.role is not None and caller.role in (allowed or ()):
                continue
            response = caller.client.post(
                DASH_UPDATE, json=dash_body(web, output), headers=caller.headers
            )
            if response.status_code != (401 if caller.role is None else 403):
                problems.append(f"{caller.label}: {output[:60]} -> {response.status_code}")
    assert not problems, "\n".join(problems)


def test_an_analyst_runs_the_overview_callbacks(web):
    overview = [o for o in server_callbacks(web) if "overview-" in o]
    assert len(overview) >= 2
    analyst = login(web, "analyst")
    token = bearer(make_token(web, "analyst"))
    for output in overview:
        body = dash_body(web, output)
        response = analyst.post(
            DASH_UPDATE, json=body, headers={auth.CSRF_HEADER: csrf_of(analyst)}
        )
        # 204: the callback ran and had nothing to change (PreventUpdate); refused is 403.
        assert response.status_code in (200, 204), response.get_data(as_text=True)[:500]
        if response.status_code == 200:
            assert "response" in response.get_json()
        status = web.server.test_client().post(DASH_UPDATE, json=body, headers=token).status_code
        assert status == response.status_code


# -- CSRF and logout -----------------------------------------------------------------------


@pytest.mark.parametrize("sent", [None, "", "wrong-token", "w\u00e9ird-\u00fc"])
def test_cookie_posts_without_the_right_csrf_token_are_refused_and_change_nothing(web, sent):
    rt = runtime_of(web)
    admin = login(web, "admin")
    headers = {} if sent is None else {auth.CSRF_HEADER: sent}
    new_user = {"name": "csrf-victim", "role": "admin", "password": "x" * 12}
    response = admin.post(USERS, json=new_user, headers=headers)
    assert response.status_code == 403 and error_code(response) == "csrf"
    assert rt.accounts.credentials("csrf-victim") is None

    token_id, token = rt.accounts.create_token(make_user(web, "analyst")[1], "keep")
    response = admin.delete(f"{TOKENS}/{token_id}", headers=headers)
    assert response.status_code == 403 and error_code(response) == "csrf"
    assert web.server.test_client().get(ME, headers=bearer(token)).status_code == 200

    overview = next(o for o in server_callbacks(web) if "overview-" in o)
    response = admin.post(DASH_UPDATE, json=dash_body(web, overview), headers=headers)
    assert response.status_code == 403 and error_code(response) == "csrf"

    right = {auth.CSRF_HEADER: csrf_of(admin)}
    assert admin.post(USERS, json=new_user, headers=right).status_code == 201


def test_bearer_token_posts_need_no_csrf_token(web):
    response = web.server.test_client().post(
        USERS,
        json={"name": "by-token", "role": "analyst", "password": "x" * 12},
        headers=bearer(make_token(web, "admin")),
    )
    assert response.status_code == 201


def test_logout_is_a_post_with_the_csrf_token(web):
    client = login(web, "analyst")
    client.get("/logout")  # no logout route for GET: Dash's catch-all serves the console
    assert client.get(ME).status_code == 200
    response = client.post("/logout")
    assert response.status_code == 403 and error_code(response) == "csrf"
    assert client.get(ME).status_code == 200
    assert runtime_of(web).accounts.list_audit(action="logout") == []
    response = client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get(ME).status_code == 401
    assert len(runtime_of(web).accounts.list_audit(action="logout")) == 1


def test_a_login_csrf_token_that_is_not_ascii_gets_a_login_error(web):
    client = web.server.test_client()
    client.get("/login")
    name, _ = make_user(web, "admin")
    response = client.post(
        "/login", data={"name": name, "password": PASSWORD, "csrf_token": "\u00e9t\u00e9"}
    )
    assert response.status_code == 400
    assert "session expired" in response.get_data(as_text=True)
    assert client.get(ME).status_code == 401


# -- tokens, disabled users, sessions ------------------------------------------------------


def test_a_revoked_token_is_refused_at_once(app):
    rt = runtime_of(app)
    token_id, token = rt.accounts.create_token(make_user(app, "analyst")[1], "t")
    client = app.server.test_client()
    assert client.get(ME, headers=bearer(token)).status_code == 200
    assert rt.token_cache.get(token_digest(token)) is not None  # cached, yet refused below
    admin = bearer(make_token(app, "admin"))
    assert client.delete(f"{TOKENS}/{token_id}", headers=admin).status_code == 204
    assert client.get(ME, headers=bearer(token)).status_code == 401


def test_revocation_reaches_another_process_through_redis(make_app, database_url, shared_redis_url):
    first = make_app(database_url=database_url, redis_url=shared_redis_url)
    second = make_app(database_url=database_url, redis_url=shared_redis_url)
    for each in (first, second):
        wait_until(lambda each=each: runtime_of(each).bus._listening.is_set(), 5)
    admin = bearer(make_token(first, "admin"))
    token_id, token = runtime_of(first).accounts.create_token(make_user(first, "analyst")[1], "t")
    other = second.server.test_client()
    assert other.get(ME, headers=bearer(token)).status_code == 200
    cached_at = time.monotonic()
    assert runtime_of(second).token_cache.get(token_digest(token)) is not None
    revoked = first.server.test_client().delete(f"{TOKENS}/{token_id}", headers=admin)
    assert revoked.status_code == 204
    wait_until(lambda: runtime_of(second).token_cache.get(token_digest(token)) is None, 2)
    assert time.monotonic() - cached_at < DEFAULT_TTL  # the bus cleared it, not the TTL
    assert other.get(ME, headers=bearer(token)).status_code == 401


def test_without_redis_another_process_honours_a_revocation_within_the_ttl(make_app, database_url):
    first = make_app(database_url=database_url)
    second = make_app(database_url=database_url)
    now = [1000.0]
    runtime_of(second).token_cache = TokenCache(clock=lambda: now[0])
    admin = bearer(make_token(first, "admin"))
    token_id, token = runtime_of(first).accounts.create_token(make_user(first, "analyst")[1], "t")
    other = second.server.test_client()
    assert other.get(ME, headers=bearer(token)).status_code == 200
    revoked = first.server.test_client().delete(f"{TOKENS}/{token_id}", headers=admin)
    assert revoked.status_code == 204
    assert first.server.test_client().get(ME, headers=bearer(token)).status_code == 401
    # What the module promises: another process may answer from its cache until the TTL.
    now[0] += DEFAULT_TTL - 0.5
    assert other.get(ME, headers=bearer(token)).status_code == 200
    now[0] += 1.0
    assert other.get(ME, headers=bearer(token)).status_code == 401


def test_a_disabled_users_token_and_session_are_refused_at_once(app):
    client = app.server.test_client()
    admin = bearer(make_token(app, "admin"))
    name, user_id = make_user(app, "analyst")
    token = bearer(runtime_of(app).accounts.create_token(user_id, "t")[1])
    browser = app.server.test_client()
    assert login_form(browser, name, PASSWORD).status_code == 302
    assert client.get(ME, headers=token).status_code == 200
    assert browser.get(ME).status_code == 200
    response = client.patch(f"{USERS}/{user_id}", json={"disabled": True}, headers=admin)
    assert response.status_code == 200
    assert client.get(ME, headers=token).status_code == 401
    assert browser.get(ME).status_code == 401
    assert browser.get("/").headers["Location"].startswith("/login")
    assert login_form(app.server.test_client(), name, PASSWORD).status_code == 401


def test_a_demoted_admins_token_loses_admin_rights_at_once(app):
    client = app.server.test_client()
    _, user_id = make_user(app, "admin")
    token = bearer(runtime_of(app).accounts.create_token(user_id, "t")[1])
    assert client.get(USERS, headers=token).status_code == 200
    other = bearer(make_token(app, "admin"))
    demoted = client.patch(f"{USERS}/{user_id}", json={"role": "analyst"}, headers=other)
    assert demoted.status_code == 200
    assert client.get(USERS, headers=token).status_code == 403
    assert client.get(ME, headers=token).get_json()["role"] == "analyst"


def test_an_idle_session_expires(web):
    idle = runtime_of(web).settings.session_idle_minutes * 60
    client = login(web, "analyst")
    with client.session_transaction() as sess:
        sess["seen"] = int(time.time()) - idle + 60
    assert client.get(ME).status_code == 200  # inside the limit, and the clock restarts
    with client.session_transaction() as sess:
        assert sess["seen"] >= int(time.time()) - 5
        sess["seen"] = int(time.time()) - idle - 5
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.get(ME).status_code == 401


# -- brute force ---------------------------------------------------------------------------


def test_repeated_failed_logins_slow_down_then_lock_that_user_out_at_that_address(app):
    rt = runtime_of(app)
    clock = Clock()
    rt.logins = LoginThrottle(rt.engine, clock=clock)
    victim, _ = make_user(app, "analyst")
    attacker = Browser(app, "203.0.113.9")
    answers = []
    while len(answers) < 8:
        response = login_form(attacker, victim, f"guess-{len(answers)}")
        wait = int(response.headers.get("Retry-After", 0))
        answers.append((response.status_code, wait))
        if response.status_code == 429 and wait <= rt.logins.policy.max_delay:
            clock.advance(wait)  # told to slow down: the guesser waits, then goes on
    # Three guesses are checked at once, then each waits a doubling delay; the fifth locks.
    assert answers == [(401, 0)] * 3 + [(429, 1), (401, 0), (429, 2), (401, 0), (429, 900)]
    assert "Too many failed logins; try again later." in response.get_data(as_text=True)

    response = login_form(attacker, victim, PASSWORD)  # the right password, but locked
    assert response.status_code == 429 and attacker.get(ME).status_code == 401
    owner = Browser(app, "198.51.100.20")  # the victim from another address only waits
    response = login_form(owner, victim, PASSWORD)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "4")
    assert "wait 4 s, then try again" in response.get_data(as_text=True)
    clock.advance(4)
    assert login_form(owner, victim, PASSWORD).status_code == 302
    assert owner.get(ME).status_code == 200

    failures = rt.accounts.list_audit(action="login.failure", actor=victim)
    assert len(failures) == 5 and {f.remote_addr for f in failures} == {"203.0.113.9"}
    throttled = rt.accounts.list_audit(action="login.throttled", actor=victim)
    assert [t.details["reason"] for t in reversed(throttled)] == [
        "slow-down",
        "slow-down",
        "locked",
        "locked",
        "slow-down",
    ]


# -- hostile login input -------------------------------------------------------------------

HOSTILE = {
    "empty": "",
    "10 kB": "x" * 10_240,
    "unicode": "\u00fcn\u00efc\u00f8d\u00e9-\u5bc6\u7801-\U0001f600",
    "sql": "' OR 1=1 --",
    "html": "<script>alert(1)</script>",
    "nul": "adm\x00in",
}


def test_hostile_login_input_gets_a_login_error(app):
    rt = runtime_of(app)
    victims = [make_user(app, "admin")[0] for _ in HOSTILE]  # one each: no throttling
    users = rt.accounts.count_users()
    for number, (kind, payload) in enumerate(HOSTILE.items()):
        victim = victims[number]
        for field_name, name, password in (
            ("name", payload, PASSWORD),
            ("password", victim, payload),
        ):
            client = Browser(app, f"192.0.2.{number + 1}")
            response = login_form(client, name, password)
            page = response.get_data(as_text=True)
            assert response.status_code == 401, f"{kind} {field_name}: {page[:300]}"
            assert "Wrong user name or password." in page
            assert "<script>alert" not in page
            assert client.get(ME).status_code == 401
    assert rt.accounts.count_users() == users


@pytest.mark.parametrize(
    "name", ["alice-typo", '"><script>alert(1)</script>', "\u00fcn\u00efc\u00f8d\u00e9"]
)
def test_a_failed_login_keeps_the_name_typed_escaped_and_never_the_password(web, name):
    response = login_form(Browser(web, "192.0.2.77"), name, "wrong-Secret-5e1f")
    page = response.get_data(as_text=True)
    assert response.status_code == 401
    name_input = re.search(r'<input id="login-name"[^>]*>', page).group(0)
    assert html.unescape(re.search(r'value="([^"]*)"', name_input).group(1)) == name
    assert "<script>alert" not in page and "wrong-Secret-5e1f" not in page
    # The name is there: the password is what is left to type.
    assert "autofocus" not in name_input
    assert re.search(r'<input id="login-password"[^>]*autofocus', page)


# -- secrets, cookies, headers, errors -----------------------------------------------------


def test_passwords_and_tokens_never_leak(app, caplog):
    caplog.set_level(logging.DEBUG)
    rt = runtime_of(app)
    admin_token = make_token(app, "admin")
    client = app.server.test_client()
    first, reset, guessed = "first-Secret-9f3a", "reset-Secret-7c1d", "guess-Secret-2b8e"
    seen: list[str] = []

    def call(method: str, path: str, token: str = admin_token, **kwargs):
        response = client.open(path, method=method, headers=bearer(token), **kwargs)
        seen.append(str(response.headers) + response.get_data(as_text=True))
        return response

    user = call("POST", USERS, json={"name": "leaky", "role": "analyst", "password": first})
    assert user.status_code == 201
    user_id = user.get_json()["id"]
    created = client.post(
        f"{USERS}/{user_id}/tokens", json={"name": "ci"}, headers=bearer(admin_token)
    )
    assert created.status_code == 201
    token = created.get_json()["token"]
    assert call("PATCH", f"{USERS}/{user_id}", json={"password": reset}).status_code == 200
    browser = app.server.test_client()
    for password in (guessed, first):
        response = login_form(browser, "leaky", password)
        assert response.status_code == 401
        seen.append(response.get_data(as_text=True))
    assert call("GET", ME, token).status_code == 200
    for path in (USERS, TOKENS, AUDIT, ME):
        assert call("GET", path).status_code == 200

    secrets = {"first": first, "reset": reset, "guessed": guessed, "token": token}
    secrets["admin token"] = admin_token
    with rt.engine.connect() as conn:
        stored = [
            str(conn.execute(text(f"SELECT * FROM {table}")).all())
            for table in ("audit_log", "users", "api_tokens")
        ]
    logged = [f"{r.getMessage()} {r.exc_text or ''} {r.__dict__}" for r in caplog.records]
    for label, secret in secrets.items():
        for where, texts in (("response", seen), ("database", stored), ("log", logged)):
            assert not any(secret in t for t in texts), f"{label} found in a {where}"
    actions = {r.action for r in rt.accounts.list_audit()}
    assert {"user.create", "user.update", "token.create", "login.failure"} <= actions


def test_the_session_cookie_is_httponly_and_samesite(web):
    client = web.server.test_client()
    response = login_form(client, make_user(web, "analyst")[0], PASSWORD)
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session_cookie
    assert re.search(r"SameSite=(Lax|Strict)", session_cookie)


def test_security_headers_on_pages_and_api_responses(web):
    browser = login(web, "admin")
    anonymous = web.server.test_client()
    responses = {
        "login page": anonymous.get("/login"),
        "console page": browser.get("/"),
        "redirect": anonymous.get("/"),
        "api": browser.get(ME),
        "api 401": anonymous.get(ME),
        "api 404": browser.get("/api/v1/admin/nothing-here"),
        "dash layout": browser.get("/_dash-layout"),
    }
    for label, response in responses.items():
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        assert "frame-ancestors" in csp and "default-src 'self'" in csp, label
        assert headers.get("X-Content-Type-Options") == "nosniff", label
        assert headers.get("Referrer-Policy"), label


def test_a_500_never_shows_a_traceback(web, caplog):
    @auth.public
    def boom():
        raise RuntimeError("kaboom-internal-detail")

    web.server.add_url_rule("/api/v1/boom", "api_boom", boom)
    web.server.add_url_rule("/boom", "page_boom", boom)
    client = web.server.test_client()
    for path in ("/api/v1/boom", "/boom"):
        response = client.get(path)
        body = response.get_data(as_text=True)
        assert response.status_code == 500
        assert "Traceback" not in body and "kaboom" not in body and "RuntimeError" not in body
        assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert error_code(client.get("/api/v1/boom")) == "internal"
    assert any("kaboom-internal-detail" in (r.exc_text or "") for r in caplog.records)
