"""The login page and the login and logout views.

After a few failed logins for one user or address the answers slow down, and past the
limit they are refused with ``429`` until the window has moved on.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import redirect, request, session, url_for
from markupsafe import escape

from app.auth.csrf import same_token
from app.auth.declarations import READERS, public, roles
from app.auth.passwords import dummy_verify, verify_password
from app.runtime import runtime

LOGIN_WINDOW = timedelta(minutes=15)
USER_FAILURE_LIMIT = 5
ADDRESS_FAILURE_LIMIT = 20
SLOW_DOWN_AFTER = 3

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


def login_page(error: str = "", status: int = 200):
    """The login form with ``error`` shown."""
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
        return login_page()
    if not same_token(request.form.get("csrf_token"), session.get("csrf")):
        return login_page("Your session expired; please try again.", 400)
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
        html, _, headers = login_page("Too many failed logins; try again later.", 429)
        return html, 429, {**headers, "Retry-After": str(max(retry, 1))}
    found = rt.accounts.credentials(name)
    if found is None:
        dummy_verify(password)  # as slow as a real check: timing tells no user names
    if found is None or not verify_password(found[1], password) or found[0].disabled:
        rt.accounts.audit("login.failure", actor=name or None, remote_addr=address)
        failures = max(by_user, by_addr) + 1
        if failures >= SLOW_DOWN_AFTER:  # each further guess costs the guesser time
            time.sleep(min(0.25 * 2 ** (failures - SLOW_DOWN_AFTER), 2.0))
        return login_page("Wrong user name or password.", 401)
    account, _ = found
    if account.role == "ingest":
        return login_page("Ingest accounts cannot log in to the console.", 403)
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
