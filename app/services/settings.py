"""View logic of the Settings page: grid rows, audit paging and readable error messages."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy.exc import SQLAlchemyError

from app.runtime import Runtime
from app.services import FieldError
from app.services.accounts import Actor, Conflict, Forbidden, NotFound
from storage.accounts import Account, AuditRecord, TokenInfo

AUDIT_PAGE = 50
AUDIT_EXPORT = "/api/v1/admin/audit/export"
ACCOUNT_ERRORS = (FieldError, Conflict, NotFound, Forbidden, SQLAlchemyError)
"""What a Settings action may fail with and tell the user about."""
DATABASE_DOWN = "The database is unavailable; nothing was changed. Try again shortly."


def when(value: datetime | None) -> str:
    """A UTC timestamp as the grids show it, or an empty string."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def error_message(exc: Exception, labels: dict[str, str] | None = None) -> str:
    """A sentence for the user about a failed action, naming the field when there is one.

    ``labels`` turns a service's field name into the label the form shows.
    """
    if isinstance(exc, SQLAlchemyError):
        return DATABASE_DOWN
    if isinstance(exc, FieldError):
        label = (labels or {}).get(exc.field, exc.field.replace("_", " "))
        if exc.message.startswith(label):
            text = exc.message
        elif exc.message.startswith(("must ", "is ", "does ")):
            text = f"{label} {exc.message}"
        else:
            text = f"{label}: {exc.message}"
    else:
        text = str(exc)
    return text[:1].upper() + text[1:]


def require_admin(actor: Actor) -> None:
    """Raise Forbidden unless ``actor`` is an admin."""
    if actor.account.role != "admin":
        raise Forbidden("only admins see users and the audit log")


def user_rows(rt: Runtime, actor: Actor) -> list[dict]:
    """Every user as a row of the users grid (admins only)."""
    require_admin(actor)
    return [
        {
            "id": a.id,
            "name": a.name,
            "role": a.role,
            "disabled": "yes" if a.disabled else "no",
            "created": when(a.created_at),
        }
        for a in rt.accounts.list_users()
    ]


def user_options(rows: list[dict]) -> list[dict]:
    """Options of the "token for" select, from users grid rows."""
    return [{"label": f"{r['name']} ({r['role']})", "value": r["id"]} for r in rows]


def own_option(account: Account) -> list[dict]:
    """The only option of an analyst's "token for" select: themselves."""
    return [{"label": f"{account.name} ({account.role})", "value": account.id}]


def token_rows(tokens: list[TokenInfo]) -> list[dict]:
    """Tokens as rows of the tokens grid: metadata only, never a token value."""
    return [
        {
            "id": t.id,
            "user": t.user_name,
            "name": t.name,
            "created": when(t.created_at),
            "last_used": when(t.last_used_at) or "never",
            "revoked": when(t.revoked_at) or "no",
        }
        for t in tokens
    ]


def audit_row(record: AuditRecord) -> dict:
    """One audit entry as a grid row; details as compact JSON text."""
    return {
        "id": record.id,
        "time": when(record.ts),
        "actor": record.actor or "",
        "action": record.action,
        "target": record.target or "",
        "from": record.remote_addr or "",
        "details": json.dumps(record.details, separators=(",", ":"), sort_keys=True),
    }


def audit_page(
    rt: Runtime,
    actor: Actor,
    *,
    by: str | None = None,
    action: str | None = None,
    before_id: int | None = None,
    limit: int = AUDIT_PAGE,
) -> tuple[list[dict], int | None]:
    """A page of audit rows, newest first, and the ``before_id`` of the next page (or None).

    ``by`` filters on the acting user, ``action`` on an action (``user.`` for a family).
    """
    require_admin(actor)
    records = rt.accounts.list_audit(
        actor=(by or "").strip() or None,
        action=(action or "").strip() or None,
        before_id=before_id,
        limit=limit + 1,
    )
    page = records[:limit]
    return [audit_row(r) for r in page], page[-1].id if len(records) > limit else None


def audit_download_href(by: str | None, action: str | None, fmt: str) -> str:
    """The address that downloads every audit entry the grid's filters select, as the
    grid reads them (blank filters are left out)."""
    filters = {"actor": (by or "").strip(), "action": (action or "").strip()}
    return f"{AUDIT_EXPORT}?{urlencode({**{k: v for k, v in filters.items() if v}, 'format': fmt})}"


def check_repeat(new: str | None, repeat: str | None) -> None:
    """Raise FieldError unless the new password was typed the same twice."""
    if (new or "") != (repeat or ""):
        raise FieldError("repeat", "does not match the new password")
