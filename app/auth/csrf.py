"""CSRF protection of cookie-authenticated changes: the token in the session, sent back by
forms (``csrf_token``) and by Dash (the ``X-CSRFToken`` header, read from a cookie)."""

from __future__ import annotations

import hmac

from flask import request, session

from app.runtime import runtime

CSRF_COOKIE = "_csrf_token"
CSRF_HEADER = "X-CSRFToken"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def same_token(sent: str | None, expected: str | None) -> bool:
    """Whether a CSRF token sent matches the session's, in constant time.

    Compared as UTF-8 bytes: ``hmac.compare_digest`` refuses non-ASCII text with a
    TypeError, and a hostile header must get a 403, not a 500. No token never matches.
    """
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def request_has_token() -> bool:
    """Whether this request carries the session's CSRF token (header or form field)."""
    sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token", "")
    return same_token(sent, session.get("csrf"))


def set_csrf_cookie(response):
    """Give a signed-in browser the CSRF token Dash sends back in its header."""
    token = session.get("csrf")
    if token and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE, token, samesite="Strict", secure=runtime().settings.secure_cookies
        )
    return response
