"""Account management for the API and the Settings page: rules, changes and their audit.

Every change is written to the audit log with who, what, from where and before/after;
passwords, hashes and tokens never appear in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.auth import hash_password, verify_password
from app.runtime import Runtime
from app.services import Conflict, FieldError, Forbidden, NotFound
from storage.accounts import ROLES, Account, DuplicateUser, TokenInfo

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
TOKEN_NAME = re.compile(r"^[\w .@:/-]{1,100}$")


@dataclass(frozen=True)
class Actor:
    """Who asks for a change, and from where."""

    account: Account
    remote_addr: str | None


def validate_username(name: str) -> str:
    """Return ``name`` if it is 1-64 letters, digits or ``_.@-``; else raise ValueError."""
    if not USERNAME.fullmatch(name):
        raise ValueError("user name must be 1-64 characters: letters, digits, _ . @ -")
    return name


def validate_password(password: str) -> str:
    """Return ``password`` if its length is sensible; else raise ValueError."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def account_dict(account: Account) -> dict:
    """A user as the API shows it."""
    return {
        "id": account.id,
        "name": account.name,
        "role": account.role,
        "disabled": account.disabled,
        "created_at": account.created_at.isoformat() if account.created_at else None,
    }


def token_dict(token: TokenInfo) -> dict:
    """A token's metadata as the API shows it (never the token itself)."""
    return {
        "id": token.id,
        "user_id": token.user_id,
        "user": token.user_name,
        "name": token.name,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def _audit(rt: Runtime, actor: Actor, action: str, target: str, **details) -> None:
    rt.accounts.audit(
        action,
        actor=actor.account.name,
        target=target,
        remote_addr=actor.remote_addr,
        details=details,
    )


def create_user(rt: Runtime, actor: Actor, name: str, role: str, password: str) -> Account:
    """Create a user (admins only)."""
    _require_admin(actor)
    try:
        validate_username(name)
    except ValueError as exc:
        raise FieldError("name", str(exc)) from None
    if role not in ROLES:
        raise FieldError("role", f"must be one of {', '.join(ROLES)}")
    try:
        validate_password(password)
    except ValueError as exc:
        raise FieldError("password", str(exc)) from None
    try:
        account = rt.accounts.add_user(name, role, hash_password(password))
    except DuplicateUser:
        raise Conflict(f"user {name!r} exists already") from None
    _audit(rt, actor, "user.create", name, after=account_dict(account))
    return account


def update_user(
    rt: Runtime,
    actor: Actor,
    user_id: int,
    *,
    role: str | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> Account:
    """Change a user's role, disabled flag or password (admins only); never the last admin."""
    _require_admin(actor)
    before = rt.accounts.get(user_id)
    if before is None:
        raise NotFound(f"no user {user_id}")
    if role is not None and role not in ROLES:
        raise FieldError("role", f"must be one of {', '.join(ROLES)}")
    if password is not None:
        try:
            validate_password(password)
        except ValueError as exc:
            raise FieldError("password", str(exc)) from None
    loses_admin = (
        before.role == "admin"
        and not before.disabled
        and ((role is not None and role != "admin") or disabled is True)
    )
    if loses_admin and rt.accounts.enabled_admins() <= 1:
        raise Conflict("the last enabled admin cannot be demoted or disabled")
    after = rt.accounts.update_user(
        user_id,
        role=role,
        disabled=disabled,
        password_hash=hash_password(password) if password is not None else None,
    )
    changes = {"before": account_dict(before), "after": account_dict(after)}
    if password is not None:
        changes["password"] = "reset"
    _audit(rt, actor, "user.update", before.name, **changes)
    rt.auth_changed()
    return after


def change_own_password(rt: Runtime, actor: Actor, current: str, new: str) -> None:
    """Replace the actor's password after checking the current one."""
    if not verify_password(rt.accounts.password_hash(actor.account.id), current):
        raise FieldError("current_password", "is not your current password")
    try:
        validate_password(new)
    except ValueError as exc:
        raise FieldError("new_password", str(exc)) from None
    rt.accounts.update_user(actor.account.id, password_hash=hash_password(new))
    _audit(rt, actor, "user.password", actor.account.name)


def create_token(rt: Runtime, actor: Actor, user_id: int, name: str) -> tuple[TokenInfo, str]:
    """A new token for ``user_id`` (admins for anyone, others for themselves), shown once."""
    if actor.account.role != "admin" and actor.account.id != user_id:
        raise Forbidden("you may create tokens only for yourself")
    owner = rt.accounts.get(user_id)
    if owner is None:
        raise NotFound(f"no user {user_id}")
    if not TOKEN_NAME.fullmatch(name):
        raise FieldError("name", "1-100 letters, digits, spaces or _ . @ : / -")
    token_id, value = rt.accounts.create_token(user_id, name)
    info = rt.accounts.get_token(token_id)
    _audit(rt, actor, "token.create", owner.name, token_id=token_id, name=name)
    return info, value


def list_tokens(rt: Runtime, actor: Actor) -> list[TokenInfo]:
    """Every token for admins; one's own for everyone else."""
    return rt.accounts.list_tokens(None if actor.account.role == "admin" else actor.account.id)


def revoke_token(rt: Runtime, actor: Actor, token_id: int) -> None:
    """Revoke a token (admins any, others their own); effective at once."""
    token = rt.accounts.get_token(token_id)
    if token is None or (actor.account.role != "admin" and token.user_id != actor.account.id):
        raise NotFound(f"no token {token_id}")
    if token.revoked_at is not None:
        raise Conflict("the token is revoked already")
    rt.accounts.revoke_token(token_id)
    _audit(rt, actor, "token.revoke", token.user_name, token_id=token_id, name=token.name)
    rt.auth_changed()


def _require_admin(actor: Actor) -> None:
    if actor.account.role != "admin":
        raise Forbidden("only admins manage users")
