"""Who is asking and may they: sessions, bearer tokens, role declarations and the guard.

Every Flask view must declare its roles with ``@roles(...)`` (or ``@public``); Dash's own
routes get theirs from ``DASH_ROUTE_ROLES``. A view without a declaration is refused, so a
route added later is closed until someone decides who may use it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, g, jsonify, redirect, request, session, url_for
from markupsafe import escape
from sqlalchemy.exc import SQLAlchemyError

from app.runtime import runtime
from storage.accounts import Account, token_digest

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable)

ROLES_ATTR = "_pulseboard_roles"
PUBLIC = "public"
READERS = ("admin", "analyst")
CSRF_COOKIE = "_csrf_token"
DASH_UPDATE = "/_dash-update-component"
CSP_KEY = "pulseboard.csp"
CALLBACK_ROLES = "pulseboard.callback_roles"
DASH_APP = "pulseboard.dash"
MAX_TOKEN_LENGTH = 200
LOGIN_WINDOW = timedelta(minutes=15)
USER_FAILURE_LIMIT = 5
ADDRESS_FAILURE_LIMIT = 20
SLOW_DOWN_AFTER = 3
CSRF_HEADER = "X-CSRFToken"

EMBEDDABLE_PATHS = frozenset({"/embed/logs"})
"""The pages the origins in ``PULSEBOARD_ALLOWED_ORIGINS`` may frame; the console is not."""
QUERY_TOKEN_PATHS = frozenset({"/embed/logs", "/api/v1/admin/logs/stream"})
"""Where a bearer token may come as ``?token=`` (the embeddable tail and its WebSocket)."""

_hasher = PasswordHasher()

# Dash registers these itself; static bundles are public, everything with data is not.
DASH_ROUTE_ROLES: dict[str, tuple[str, ...]] = {
    "_dash_assets.static": (PUBLIC,),
    "static": (PUBLIC,),
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": (PUBLIC,),
    "/_favicon.ico": (PUBLIC,),
    "/_dash-layout": READERS,
    "/_dash-dependencies": READERS,
    "/_dash-update-component": READERS,
    "/_reload-hash": READERS,
    "/": READERS,
    "/<path:path>": READERS,
}


def roles(*allowed: str) -> Callable[[F], F]:
    """Declare which roles may call a view."""

    def mark(view: F) -> F:
        setattr(view, ROLES_ATTR, tuple(allowed))
        return view

    return mark


def public(view: F) -> F:
    """Declare a view open to anyone."""
    return roles(PUBLIC)(view)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``."""
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _dummy_verify(password: str) -> None:
    """Spend what checking a real password costs, for a user that does not exist."""
    verify_password(_dummy_hash(), password)


def declared_roles(app: Flask, endpoint: str | None) -> tuple[str, ...] | None:
    """The roles declared for ``endpoint``, or None when it declares none."""
    if endpoint is None:
        return None
    declared = getattr(app.view_functions.get(endpoint), ROLES_ATTR, None)
    return declared if declared is not None else DASH_ROUTE_ROLES.get(endpoint)


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
    except SQLAlchemyError:
        if request.method != "GET" or "role" not in session:
            return None
        log.warning("database unavailable: trusting the signed session of %s", session["name"])
        return Account(session["uid"], session["name"], session["role"], False)


def is_api_request() -> bool:
    """Programs (API, WebSockets, Dash's own ``/_…`` routes) get JSON errors, people pages."""
    path = request.path
    return path.startswith(("/api/", "/_")) or path == "/metrics"


def same_token(sent: str | None, expected: str | None) -> bool:
    """Whether a CSRF token sent matches the session's, in constant time.

    Compared as UTF-8 bytes: ``hmac.compare_digest`` refuses non-ASCII text with a
    TypeError, and a hostile header must get a 403, not a 500. No token never matches.
    """
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def error_response(status: int, code: str, message: str):
    """The one JSON error shape of every API response."""
    return jsonify({"error": {"code": code, "message": message}}), status


def check_request():
    """Before every request: refuse what the caller's role does not allow."""
    allowed = declared_roles(current_app, request.endpoint)
    if request.endpoint is None:
        return None  # 404 / 405: Flask answers those itself
    if allowed is None:
        log.error("refusing %s: endpoint %s declares no roles", request.path, request.endpoint)
        return error_response(403, "forbidden", "This route declares no roles.")
    if PUBLIC in allowed:
        return None
    account = current_account()
    if account is None:
        if is_api_request():
            return error_response(401, "unauthorized", "Log in or send a bearer token.")
        return redirect(url_for("login", next=request.full_path.rstrip("?")))
    if account.role not in allowed:
        return error_response(403, "forbidden", f"Role {account.role} may not use this.")
    if request.endpoint == DASH_UPDATE:
        refused = _check_callback(current_app, account)
        if refused is not None:
            return refused
    if request.headers.get("Upgrade", "").lower() == "websocket" and not origin_allowed():
        return error_response(403, "origin", "WebSocket from a foreign origin.")
    if g.get("auth_via") == "session" and request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token", "")
        if not same_token(sent, session.get("csrf")):
            return error_response(403, "csrf", "Missing or wrong CSRF token.")
    return None


def callback(app, *dependencies, roles: tuple[str, ...], **kwargs) -> Callable[[F], F]:
    """``app.callback`` with the roles that may trigger it, checked on the server.

    A callback registered any other way has no roles and every call to it is refused.
    """

    def register(fn: F) -> F:
        before = set(app.callback_map)
        wrapped = app.callback(*dependencies, **kwargs)(fn)
        registry = app.server.extensions.setdefault(CALLBACK_ROLES, {})
        for output in set(app.callback_map) - before:
            registry[output] = tuple(roles)
        return wrapped

    return register


def callback_roles(app: Flask, output: str) -> tuple[str, ...] | None:
    """The roles declared for the callback writing ``output``, or None.

    Dash's own page-routing callback (outputs ``_pages_*``) serves any console reader.
    """
    declared = app.extensions.get(CALLBACK_ROLES, {}).get(output)
    dash_app = app.extensions.get(DASH_APP)
    if (
        declared is None
        and dash_app is not None
        and output in dash_app.callback_map
        and all(
            part.rsplit(".", 1)[0].startswith("_pages_") for part in output.strip(".").split("...")
        )
    ):
        return READERS
    return declared


def _check_callback(app: Flask, account: Account):
    body = request.get_json(silent=True)
    output = body.get("output") if isinstance(body, dict) else None
    if not isinstance(output, str):
        return error_response(400, "invalid", "Not a Dash callback request.")
    allowed = callback_roles(app, output)
    if allowed is None:
        log.error("refusing callback %s: it declares no roles", output[:200])
        return error_response(403, "forbidden", "This callback declares no roles.")
    if account.role not in allowed:
        return error_response(403, "forbidden", f"Role {account.role} may not do this.")
    return None


def origin_allowed() -> bool:
    """Whether the request's Origin is this app's own or one the settings allow.

    Browsers always send Origin on WebSocket upgrades; programs that send none are not
    browsers and cannot be tricked into using someone's cookies.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    origin = origin.rstrip("/")
    own = request.host_url.rstrip("/")
    return origin == own or origin in runtime().settings.allowed_origins


def set_csrf_cookie(response):
    """Give a signed-in browser the CSRF token Dash sends back in its header."""
    token = session.get("csrf")
    if token and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE, token, samesite="Strict", secure=runtime().settings.secure_cookies
        )
    return response


def inline_script_hashes(page: str) -> list[str]:
    """CSP hashes of the inline scripts a page runs (JSON data blocks do not run)."""
    hashes = []
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S):
        if "src=" in attrs or "application/json" in attrs:
            continue
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    return sorted(set(hashes))


def content_security_policy(script_hashes: list[str], frame_origins: tuple[str, ...]) -> str:
    """The CSP Dash runs under: own scripts plus its hashed inline ones, no foreign frames."""
    ancestors = " ".join(("'self'", *frame_origins))
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self' " + " ".join(script_hashes),
            # Dash and Plotly set style attributes and inject <style> at run time.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        )
    )


def security_headers(response):
    """CSP, no MIME sniffing, no referrer leaks, on every response."""
    policy = current_app.extensions.get(CSP_KEY)
    if policy is not None:
        framed = request.path in EMBEDDABLE_PATHS
        response.headers.setdefault("Content-Security-Policy", policy(framed))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pulseboard · Log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/login.css"></head>
<body><main class="login"><h1>Pulseboard</h1>
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<label>User <input id="login-name" name="name" autocomplete="username" required autofocus></label>
<label>Password <input id="login-password" name="password" type="password"
 autocomplete="current-password" required></label>
<p class="error" role="alert">{error}</p>
<button id="login-submit" type="submit">Log in</button>
</form></main></body></html>"""


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an attacker's link must not bounce users to another site.
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _login_page(error: str = "", status: int = 200):
    session.setdefault("csrf", secrets.token_urlsafe(32))
    html = LOGIN_PAGE.format(
        csrf=escape(session["csrf"]),
        error=escape(error),
        next=escape(_safe_next(request.values.get("next"))),
    )
    return html, status, {"Content-Type": "text/html; charset=utf-8"}


@public
def login():
    """Show the login form, or check the credentials posted from it.

    Failures are audited; after a few for one user or address the answers slow down, and
    past the limit they are refused with 429 until the window has moved on.
    """
    if request.method == "GET":
        return _login_page()
    if not same_token(request.form.get("csrf_token"), session.get("csrf")):
        return _login_page("Your session expired; please try again.", 400)
    rt = runtime()
    # No user name holds NUL (PostgreSQL cannot even store one in the audit log).
    name = request.form.get("name", "")[:100].replace("\x00", "\ufffd")
    password = request.form.get("password", "")[:1024]
    address = request.remote_addr
    since = datetime.now(UTC) - LOGIN_WINDOW
    by_user, by_addr, oldest = rt.accounts.recent_failures(since, actor=name, remote_addr=address)
    if by_user >= USER_FAILURE_LIMIT or by_addr >= ADDRESS_FAILURE_LIMIT:
        rt.accounts.audit(
            "login.throttled",
            actor=name or None,
            remote_addr=address,
            details={"user_failures": by_user, "address_failures": by_addr},
        )
        retry = int(((oldest or since) + LOGIN_WINDOW - datetime.now(UTC)).total_seconds()) + 1
        html, _, headers = _login_page("Too many failed logins; try again later.", 429)
        return html, 429, {**headers, "Retry-After": str(max(retry, 1))}
    found = rt.accounts.credentials(name)
    if found is None:
        _dummy_verify(password)  # as slow as a real check: timing tells no user names
    if found is None or not verify_password(found[1], password) or found[0].disabled:
        rt.accounts.audit("login.failure", actor=name or None, remote_addr=address)
        failures = max(by_user, by_addr) + 1
        if failures >= SLOW_DOWN_AFTER:  # each further guess costs the guesser time
            time.sleep(min(0.25 * 2 ** (failures - SLOW_DOWN_AFTER), 2.0))
        return _login_page("Wrong user name or password.", 401)
    account, _ = found
    if account.role == "ingest":
        return _login_page("Ingest accounts cannot log in to the console.", 403)
    session.clear()
    session.update(
        uid=account.id,
        name=account.name,
        role=account.role,
        seen=int(time.time()),
        csrf=secrets.token_urlsafe(32),
    )
    session.permanent = True
    rt.accounts.audit("login.success", actor=account.name, remote_addr=address)
    return redirect(_safe_next(request.form.get("next")))


@roles(*READERS)
def logout():
    """End the session (a POST carrying the CSRF token, so no other site can)."""
    runtime().accounts.audit("logout", actor=session.get("name"), remote_addr=request.remote_addr)
    session.clear()
    return redirect(url_for("login"))


def install(server: Flask) -> None:
    """Add the login routes and the guard to ``server``."""
    server.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", logout, methods=["POST"])
    server.before_request(check_request)
    server.after_request(set_csrf_cookie)
    server.after_request(security_headers)
