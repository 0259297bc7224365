"""Who is asking: the account behind a bearer token or a browser session."""

from __future__ import annotations

import logging
import time

from flask import g, request, session
from sqlalchemy.exc import SQLAlchemyError

from app.runtime import runtime
from app.services import database_unreachable
from storage.accounts import Account, token_digest

log = logging.getLogger(__name__)

MAX_TOKEN_LENGTH = 200
QUERY_TOKEN_PATHS = frozenset({"/embed/logs", "/api/v1/admin/logs/stream"})
"""Where a bearer token may come as ``?token=`` (the embeddable tail and its WebSocket)."""


def current_account() -> Account | None:
    """The account behind this request (bearer token or session), cached per request."""
    if "account" in g:
        return g.account
    account = None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header and request.path in QUERY_TOKEN_PATHS and request.args.get("token"):
        # Browsers cannot set headers on a WebSocket or an iframe: the embeddable tail
        # takes its token from the query string instead.
        scheme, token = "bearer", request.args["token"]
    if scheme.lower() == "bearer" and token.strip():
        account = _token_account(token.strip())
        g.auth_via = "token"
    elif "uid" in session:
        last_seen = session.get("seen", 0)
        if time.time() - last_seen > runtime().settings.session_idle_minutes * 60:
            session.clear()
        else:
            account = _session_account()
            if account is not None and not account.disabled:
                session["seen"] = int(time.time())
        g.auth_via = "session"
    g.account = None if account is None or account.disabled else account
    return g.account


def via_session() -> bool:
    """Whether this request's account came from the session cookie (so needs CSRF checks)."""
    return g.get("auth_via") == "session"


def _token_account(token: str) -> Account | None:
    """The account behind a bearer token, from the short-lived cache when possible."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    rt = runtime()
    digest = token_digest(token)
    account = rt.token_cache.get(digest)
    if account is None:
        account = rt.accounts.account_for_token(token)
        if account is not None:
            rt.token_cache.put(digest, account)
    return account


def _session_account() -> Account | None:
    """The session's user, read fresh so a disabled user is out at once.

    While the database is away, a signed session may still read (GET) as the role it was
    given at login: admins need the health page most when the database is down.
    """
    try:
        return runtime().accounts.get(session["uid"])
    except SQLAlchemyError as exc:
        # Anything else is answered as the database being away (503), never as "log in".
        if not database_unreachable(exc) or request.method != "GET" or "role" not in session:
            raise
        log.warning("database unavailable: trusting the signed session of %s", session["name"])
        return Account(session["uid"], session["name"], session["role"], False)
