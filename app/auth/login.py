"""The login page and the login and logout views, with the throttle's answers.

A refused attempt gets ``429`` with ``Retry-After``: for the lockout of a user at one
address or of an address (15 minutes), or for a short wait when a user has failures from
anywhere (see ``storage.login_throttle``).
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

from flask import redirect, request, session, url_for
from markupsafe import escape

from app.auth.csrf import same_token
from app.auth.declarations import READERS, public, roles
from app.auth.passwords import dummy_verify, verify_password
from app.runtime import runtime
from storage.login_throttle import Refusal, Verdict

MAX_NAME = 100
MAX_PASSWORD = 1024

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pulseboard · Log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/login.css"></head>
<body><main class="login"><h1>Pulseboard</h1>
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<label>User <input id="login-name" name="name" value="{name}" autocomplete="username"
 required{name_focus}></label>
<label>Password <input id="login-password" name="password" type="password"
 autocomplete="current-password" required{password_focus}></label>
<p class="error" role="alert">{error}</p>
<button id="login-submit" type="submit">Log in</button>
</form></main></body></html>"""

REFUSALS = {
    Refusal.LOCKED: "Too many failed logins; try again later.",
    Refusal.ADDRESS_LOCKED: "Too many failed logins from your address; try again later.",
    Refusal.SLOW_DOWN: "Too many failed logins for this user; wait {seconds} s, then try again.",
}


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an attacker's link must not bounce users to another site.
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def login_page(error: str = "", status: int = 200, name: str = ""):
    """The login form (keeping the user name typed, if any) with ``error`` shown."""
    session.setdefault("csrf", secrets.token_urlsafe(32))
    html = LOGIN_PAGE.format(
        csrf=escape(session["csrf"]),
        error=escape(error),
        next=escape(_safe_next(request.values.get("next"))),
        name=escape(name),
        # With the name kept, the password is what is left to type.
        name_focus="" if name else " autofocus",
        password_focus=" autofocus" if name else "",
    )
    return html, status, {"Content-Type": "text/html; charset=utf-8"}


def _refused(verdict: Verdict, name: str):
    message = REFUSALS[verdict.refusal].format(seconds=verdict.retry_after)
    html, _, headers = login_page(message, 429, name)
    return html, 429, {**headers, "Retry-After": str(verdict.retry_after)}


@public
def login():
    """Show the login form, or check the credentials posted from it.

    Every attempt is audited; the throttle decides first whether it is checked at all.
    """
    if request.method == "GET":
        return login_page()
    # No user name holds NUL (PostgreSQL cannot even store one in the audit log).
    name = request.form.get("name", "")[:MAX_NAME].replace("\x00", "\ufffd")
    if not same_token(request.form.get("csrf_token"), session.get("csrf")):
        return login_page("Your session expired; please try again.", 400, name)
    rt = runtime()
    password = request.form.get("password", "")[:MAX_PASSWORD]
    address = request.remote_addr
    verdict = rt.logins.reserve(name, address)
    if not verdict.allowed:
        rt.accounts.audit(
            "login.throttled",
            actor=name or None,
            remote_addr=address,
            details={
                "reason": str(verdict.refusal),
                "retry_after": verdict.retry_after,
                "user_failures": verdict.user_failures,
                "address_failures": verdict.address_failures,
            },
        )
        return _refused(verdict, name)
    found = rt.accounts.credentials(name)
    if found is None:
        dummy_verify(password)  # as slow as a real check: timing tells no user names
    if found is None or not verify_password(found[1], password) or found[0].disabled:
        rt.accounts.audit("login.failure", actor=name or None, remote_addr=address)
        return login_page("Wrong user name or password.", 401, name)
    rt.logins.succeeded(name, address)
    account, _ = found
    if account.role == "ingest":
        return login_page("Ingest accounts cannot log in to the console.", 403, name)
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
