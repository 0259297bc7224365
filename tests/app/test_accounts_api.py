"""The users, tokens and audit API: rules, ownership, paging, and hostile input."""

from __future__ import annotations

import json
import time

import pytest

from tests.app.auth_helpers import (
    AUDIT,
    ME,
    PASSWORD,
    TOKENS,
    USERS,
    bearer,
    error_code,
    login_form,
    make_token,
    make_user,
    runtime_of,
)


@pytest.fixture
def admin(app):
    """Headers of an admin's bearer token."""
    return bearer(make_token(app, "admin"))


@pytest.fixture
def client(app):
    """A test client of ``app``."""
    return app.server.test_client()


def test_create_list_and_patch_users(app, client, admin):
    body = {"name": "alice", "role": "analyst", "password": "alice-password"}
    created = client.post(USERS, json=body, headers=admin)
    assert created.status_code == 201
    user = created.get_json()
    assert user["name"] == "alice" and user["role"] == "analyst" and not user["disabled"]
    assert "password" not in json.dumps(user)
    duplicate = client.post(USERS, json=body, headers=admin)
    assert duplicate.status_code == 409 and error_code(duplicate) == "conflict"
    names = [u["name"] for u in client.get(USERS, headers=admin).get_json()["items"]]
    assert names.count("alice") == 1

    url = f"{USERS}/{user['id']}"
    assert client.patch(url, json={"role": "admin"}, headers=admin).get_json()["role"] == "admin"
    assert client.patch(url, json={"disabled": True}, headers=admin).get_json()["disabled"]
    assert client.patch(url, json={"disabled": False}, headers=admin).status_code == 200
    reset = client.patch(url, json={"password": "new-alice-password"}, headers=admin)
    assert reset.status_code == 200
    assert login_form(app.server.test_client(), "alice", "alice-password").status_code == 401
    assert login_form(app.server.test_client(), "alice", "new-alice-password").status_code == 302
    empty = client.patch(url, json={}, headers=admin)
    assert empty.status_code == 400 and "body" in empty.get_json()["error"]["fields"]
    missing = client.patch(f"{USERS}/999999", json={"role": "analyst"}, headers=admin)
    assert missing.status_code == 404
    actions = [r.action for r in runtime_of(app).accounts.list_audit(action="user.")]
    assert actions.count("user.create") == 1 and actions.count("user.update") == 4


def test_the_last_enabled_admin_can_be_neither_demoted_nor_disabled(app, client):
    rt = runtime_of(app)
    for account in rt.accounts.list_users():  # leave exactly one enabled admin
        rt.accounts.update_user(account.id, disabled=True)
    _, user_id = make_user(app, "admin")
    token = bearer(rt.accounts.create_token(user_id, "t")[1])
    for change in ({"role": "analyst"}, {"role": "ingest"}, {"disabled": True}):
        response = client.patch(f"{USERS}/{user_id}", json=change, headers=token)
        assert response.status_code == 409, change
        assert error_code(response) == "conflict"
    account = rt.accounts.get(user_id)
    assert account.role == "admin" and not account.disabled
    # With a second enabled admin, the first may step down.
    other = make_user(app, "admin")[1]
    stepped_down = client.patch(f"{USERS}/{user_id}", json={"role": "analyst"}, headers=token)
    assert stepped_down.status_code == 200
    assert rt.accounts.get(other).role == "admin"


def test_analysts_manage_only_their_own_tokens_and_admins_see_all(app, client, admin):
    rt = runtime_of(app)
    mine_name, mine = make_user(app, "analyst")
    _, theirs = make_user(app, "analyst")
    analyst = bearer(rt.accounts.create_token(mine, "first")[1])
    their_token_id, their_token = rt.accounts.create_token(theirs, "theirs")

    created = client.post(f"{USERS}/{mine}/tokens", json={"name": "ci job"}, headers=analyst)
    assert created.status_code == 201
    value = created.get_json()["token"]
    assert value.startswith("pb_") and created.get_json()["user"] == mine_name
    refused = client.post(f"{USERS}/{theirs}/tokens", json={"name": "x"}, headers=analyst)
    assert refused.status_code == 403
    assert len(rt.accounts.list_tokens(theirs)) == 1

    listed = client.get(TOKENS, headers=analyst).get_json()["items"]
    assert {t["user_id"] for t in listed} == {mine} and len(listed) == 2
    assert value not in json.dumps(listed) and "token" not in listed[0]
    everyone = {t["user_id"] for t in client.get(TOKENS, headers=admin).get_json()["items"]}
    assert {mine, theirs} <= everyone

    assert client.delete(f"{TOKENS}/{their_token_id}", headers=analyst).status_code == 404
    assert client.get(ME, headers=bearer(their_token)).status_code == 200
    own_id = created.get_json()["id"]
    assert client.delete(f"{TOKENS}/{own_id}", headers=analyst).status_code == 204
    assert client.get(ME, headers=bearer(value)).status_code == 401
    again = client.delete(f"{TOKENS}/{own_id}", headers=analyst)
    assert again.status_code == 409
    assert client.delete(f"{TOKENS}/{their_token_id}", headers=admin).status_code == 204


def test_a_tokens_last_use_is_recorded(app, client, admin):
    _, user_id = make_user(app, "analyst")
    created = client.post(f"{USERS}/{user_id}/tokens", json={"name": "probe"}, headers=admin)
    token_id, value = created.get_json()["id"], created.get_json()["token"]

    def last_used():
        items = client.get(TOKENS, headers=admin).get_json()["items"]
        return next(t for t in items if t["id"] == token_id)["last_used_at"]

    assert last_used() is None
    assert client.get(ME, headers=bearer(value)).status_code == 200
    assert last_used() is not None


def test_the_audit_log_filters_and_pages(app, client, admin):
    rt = runtime_of(app)
    before = time.time()
    for n in range(5):
        rt.accounts.audit("user.create", actor="auditor", target=f"u{n}")
    rt.accounts.audit("token.create", actor="auditor", target="t")
    rt.accounts.audit("user.create", actor="someone-else", target="x")

    def page(**params):
        response = client.get(AUDIT, query_string=params, headers=admin)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    by_actor = page(actor="auditor")["items"]
    assert len(by_actor) == 6 and {i["actor"] for i in by_actor} == {"auditor"}
    users_only = page(actor="auditor", action="user.")["items"]
    assert [i["target"] for i in users_only] == ["u4", "u3", "u2", "u1", "u0"]
    assert [i["action"] for i in page(action="token.create", actor="auditor")["items"]] == [
        "token.create"
    ]
    assert page(actor="auditor", to=before - 60)["items"] == []
    assert len(page(actor="auditor", **{"from": before - 60})["items"]) == 6

    first = page(actor="auditor", action="user.", limit=2)
    assert len(first["items"]) == 2 and first["next_cursor"] is not None
    seen = [i["target"] for i in first["items"]]
    cursor = first["next_cursor"]
    while cursor is not None:
        more = page(actor="auditor", action="user.", limit=2, cursor=cursor)
        seen += [i["target"] for i in more["items"]]
        cursor = more["next_cursor"]
    assert seen == ["u4", "u3", "u2", "u1", "u0"]

    bad = client.get(AUDIT, query_string={"from": "yesterday"}, headers=admin)
    assert bad.status_code == 400 and "from" in bad.get_json()["error"]["fields"]
    reversed_range = client.get(AUDIT, query_string={"from": 20, "to": 10}, headers=admin)
    assert reversed_range.status_code == 400


def test_the_audit_log_is_admin_only_and_cannot_be_changed(app, client, admin):
    analyst = bearer(make_token(app, "analyst"))
    assert client.get(AUDIT, headers=analyst).status_code == 403
    assert client.get(AUDIT).status_code == 401
    rt = runtime_of(app)
    count = len(rt.accounts.list_audit(limit=1000))
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        for path in (AUDIT, f"{AUDIT}/1"):
            response = client.open(path, method=method, headers=admin, json={})
            assert response.status_code in (404, 405), (method, path)
        assert client.open(AUDIT, method=method, headers=admin).status_code == 405
    assert len(rt.accounts.list_audit(limit=1000)) == count
    for rule in app.server.url_map.iter_rules():
        if rule.rule.startswith(AUDIT):
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule


# -- hostile input -------------------------------------------------------------------------

HOSTILE_NAMES = {
    "empty": "",
    "10 kB": "x" * 10_240,
    "unicode": "\u00e4dmin-\u5bc6",
    "sql": "' OR 1=1 --",
    "html": "<script>alert(1)</script>",
    "nul": "ad\x00min",
}


def test_hostile_user_names_get_a_400_naming_the_field(app, client, admin):
    users = runtime_of(app).accounts.count_users()
    for kind, name in HOSTILE_NAMES.items():
        body = {"name": name, "role": "analyst", "password": "long-enough-1"}
        response = client.post(USERS, json=body, headers=admin)
        assert response.status_code == 400, kind
        assert list(response.get_json()["error"]["fields"]) == ["name"], kind
    assert runtime_of(app).accounts.count_users() == users


BAD_BODIES = [
    ({"name": "bob", "role": "analyst", "password": ""}, "password"),
    ({"name": "bob", "role": "analyst", "password": "short"}, "password"),
    ({"name": "bob", "role": "analyst", "password": "x" * 10_240}, "password"),
    ({"name": "bob", "role": "' OR 1=1 --", "password": "long-enough-1"}, "role"),
    ({"name": "bob", "role": "<script>", "password": "long-enough-1"}, "role"),
    ({"name": "bob", "role": "analyst", "password": 12345678}, "password"),
    ({"name": "bob", "role": "analyst"}, "password"),
    ({"name": "bob", "role": "analyst", "password": "long-enough-1", "admin": 1}, "admin"),
]


def test_bad_user_bodies_get_a_400_naming_the_field(app, client, admin):
    for body, field in BAD_BODIES:
        response = client.post(USERS, json=body, headers=admin)
        assert response.status_code == 400, body
        assert field in response.get_json()["error"]["fields"], body
    assert runtime_of(app).accounts.credentials("bob") is None


ODD_PASSWORDS = (
    "\u00fcn\u00efc\u00f8d\u00e9-\u5bc6\u7801-\U0001f600",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
)


def test_odd_but_valid_passwords_are_stored_hashed_and_work_exactly(app, client, admin):
    """Passwords may hold any text of 8-1024 characters; they never reach SQL or HTML."""
    for number, password in enumerate(ODD_PASSWORDS):
        name = f"odd-{number}"
        response = client.post(
            USERS, json={"name": name, "role": "analyst", "password": password}, headers=admin
        )
        assert response.status_code == 201
        stored = runtime_of(app).accounts.password_hash(response.get_json()["id"])
        assert stored.startswith("$argon2") and password not in stored
        assert login_form(app.server.test_client(), name, password[:-1]).status_code == 401
        assert login_form(app.server.test_client(), name, password).status_code == 302


def test_bodies_too_large_or_not_json_are_refused(app, client, admin):
    big = {"name": "bob", "role": "analyst", "password": "x" * (65 * 1024)}
    response = client.post(USERS, json=big, headers=admin)
    assert response.status_code == 413 and error_code(response) == "too_large"
    form = client.post(USERS, data={"name": "bob"}, headers=admin)
    assert form.status_code == 415 and "body" in form.get_json()["error"]["fields"]
    broken = client.post(USERS, data="{not json", content_type="application/json", headers=admin)
    assert broken.status_code == 400 and "body" in broken.get_json()["error"]["fields"]
    listed = client.post(USERS, json=["bob"], headers=admin)
    assert listed.status_code == 400
    assert runtime_of(app).accounts.credentials("bob") is None


def test_hostile_token_names_get_a_400_naming_the_field(app, client, admin):
    _, user_id = make_user(app, "analyst")
    for name in ("", "x" * 101, "<script>", "a\x00b", "' OR 1=1 --", "\ud800"):
        response = client.post(f"{USERS}/{user_id}/tokens", json={"name": name}, headers=admin)
        assert response.status_code == 400, name
        assert list(response.get_json()["error"]["fields"]) == ["name"], name
    assert runtime_of(app).accounts.list_tokens(user_id) == []


def test_hostile_audit_filters_get_a_400_not_a_500(app, client, admin):
    for param in ("actor", "action"):
        for value in ("a\x00b", "x" * 5000):
            response = client.get(AUDIT, query_string={param: value}, headers=admin)
            assert response.status_code == 400, (param, value[:10])
            assert param in response.get_json()["error"]["fields"]
        response = client.get(AUDIT, query_string={param: "' OR 1=1 --"}, headers=admin)
        assert response.status_code == 200 and response.get_json()["items"] == []


def test_changing_ones_own_password_checks_the_current_one(app, client):
    name, user_id = make_user(app, "analyst")
    token = bearer(runtime_of(app).accounts.create_token(user_id, "t")[1])
    url = f"{ME}/password"
    wrong = client.post(
        url, json={"current_password": "nope", "new_password": "brand-new-pw"}, headers=token
    )
    assert wrong.status_code == 400 and "current_password" in wrong.get_json()["error"]["fields"]
    body = {"current_password": PASSWORD, "new_password": "brand-new-pw"}
    assert client.post(url, json=body, headers=token).status_code == 204
    assert login_form(app.server.test_client(), name, "brand-new-pw").status_code == 302
