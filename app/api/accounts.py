"""Users, API tokens and the audit log over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, jsonify, request

from app.api.errors import ApiError, bad_request
from app.api.models import (
    AuditPage,
    AuditQuery,
    PasswordChange,
    RowId,
    TokenCreate,
    TokenCreated,
    TokenList,
    UserCreate,
    UserList,
    UserOut,
    UserUpdate,
)
from app.api.spec import operation, parse_body, parse_query
from app.auth import READERS, current_account, roles
from app.runtime import runtime
from app.services import accounts as service

bp = Blueprint("accounts", __name__, url_prefix="/api/v1/admin")


def _actor() -> service.Actor:
    return service.Actor(current_account(), request.remote_addr)


def _call(fn, *args, **kwargs):
    """Run a service call, turning its errors into API errors."""
    try:
        return fn(*args, **kwargs)
    except service.Conflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    except service.NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except service.Forbidden as exc:
        raise ApiError(403, "forbidden", str(exc)) from None


@bp.get("/users")
@roles("admin")
@operation("Every user", response=UserList)
def list_users():
    """List users."""
    return jsonify({"items": [service.account_dict(a) for a in runtime().accounts.list_users()]})


@bp.post("/users")
@roles("admin")
@operation(
    "Create a user",
    body=UserCreate,
    response=UserOut,
    status=201,
    errors=(400, 401, 403, 409, 413, 415),
)
def create_user():
    """Create a user with a role and a password."""
    body = parse_body(UserCreate)
    account = _call(service.create_user, runtime(), _actor(), body.name, body.role, body.password)
    return jsonify(service.account_dict(account)), 201


@bp.patch("/users/<int:user_id>")
@roles("admin")
@operation(
    "Change a user's role, disabled flag or password",
    body=UserUpdate,
    response=UserOut,
    errors=(400, 401, 403, 404, 409, 413, 415),
)
def update_user(user_id: RowId):
    """Change role, disable/enable, or reset the password."""
    body = parse_body(UserUpdate)
    if body.role is None and body.disabled is None and body.password is None:
        raise bad_request({"body": "give at least one of role, disabled, password"})
    account = _call(
        service.update_user,
        runtime(),
        _actor(),
        user_id,
        role=body.role,
        disabled=body.disabled,
        password=body.password,
    )
    return jsonify(service.account_dict(account))


@bp.get("/me")
@roles(*READERS)
@operation("The signed-in account", response=UserOut)
def me():
    """Who the caller is."""
    return jsonify(service.account_dict(current_account()))


@bp.post("/me/password")
@roles(*READERS)
@operation(
    "Change one's own password", body=PasswordChange, errors=(400, 401, 403, 413, 415), status=204
)
def change_password():
    """Replace the caller's password after checking the current one."""
    body = parse_body(PasswordChange)
    _call(
        service.change_own_password, runtime(), _actor(), body.current_password, body.new_password
    )
    return "", 204


@bp.post("/users/<int:user_id>/tokens")
@roles(*READERS)
@operation(
    "Create an API token (shown once)",
    body=TokenCreate,
    response=TokenCreated,
    status=201,
    errors=(400, 401, 403, 404, 413, 415),
)
def create_token(user_id: RowId):
    """A new token for a user: admins for anyone, analysts for themselves."""
    body = parse_body(TokenCreate)
    info, value = _call(service.create_token, runtime(), _actor(), user_id, body.name)
    return jsonify({**service.token_dict(info), "token": value}), 201


@bp.get("/tokens")
@roles(*READERS)
@operation("API tokens: all for admins, one's own for analysts", response=TokenList)
def list_tokens():
    """Tokens with their last use (never the token values)."""
    tokens = service.list_tokens(runtime(), _actor())
    return jsonify({"items": [service.token_dict(t) for t in tokens]})


@bp.delete("/tokens/<int:token_id>")
@roles(*READERS)
@operation("Revoke an API token; effective at once", errors=(400, 401, 403, 404, 409), status=204)
def revoke_token(token_id: RowId):
    """Revoke a token: admins any, analysts their own."""
    _call(service.revoke_token, runtime(), _actor(), token_id)
    return "", 204


@bp.get("/audit")
@roles("admin")
@operation("The audit log, newest first", query=AuditQuery, response=AuditPage)
def audit():
    """Audit entries filtered by actor, action and time, paged with ``cursor``."""
    query = parse_query(AuditQuery)

    def when(ts: float | None) -> datetime | None:
        return None if ts is None else datetime.fromtimestamp(ts, UTC)

    if query.from_ is not None and query.to is not None and query.from_ >= query.to:
        raise bad_request({"from": "must be earlier than 'to'"})
    records = runtime().accounts.list_audit(
        actor=query.actor,
        action=query.action,
        since=when(query.from_),
        until=when(query.to),
        before_id=query.cursor,
        limit=query.limit + 1,
    )
    page, more = records[: query.limit], len(records) > query.limit
    return jsonify(
        {
            "items": [
                {
                    "id": r.id,
                    "ts": r.ts.isoformat(),
                    "actor": r.actor,
                    "action": r.action,
                    "target": r.target,
                    "remote_addr": r.remote_addr,
                    "details": r.details,
                }
                for r in page
            ],
            "next_cursor": page[-1].id if more else None,
        }
    )
