"""Who is asking and may they: sessions, bearer tokens, role declarations and the guard.

One module each: ``declarations`` (which roles a view or callback allows), ``guard`` (the
check before every request), ``identity`` (the account behind a token or session),
``passwords``, ``csrf``, ``csp`` (security headers), ``login`` (the login page and views,
throttled by ``storage.login_throttle``) and ``wiring`` (``install`` into a server).
Every public name is re-exported here: ``from app import auth`` then ``auth.roles`` and so
on.
"""

from app.auth.csp import (
    CSP_KEY,
    EMBEDDABLE_PATHS,
    content_security_policy,
    inline_script_hashes,
    security_headers,
)
from app.auth.csrf import CSRF_COOKIE, CSRF_HEADER, request_has_token, same_token, set_csrf_cookie
from app.auth.declarations import (
    CALLBACK_ROLES,
    DASH_APP,
    DASH_ROUTE_ROLES,
    PUBLIC,
    READERS,
    ROLES_ATTR,
    callback,
    callback_roles,
    declared_roles,
    public,
    roles,
)
from app.auth.guard import (
    DASH_UPDATE,
    check_request,
    error_response,
    origin_allowed,
)
from app.auth.identity import MAX_TOKEN_LENGTH, QUERY_TOKEN_PATHS, current_account, via_session
from app.auth.login import LOGIN_PAGE, REFUSALS, login, login_page, logout
from app.auth.passwords import dummy_verify, hash_password, verify_password
from app.auth.wiring import install

__all__ = [
    "CALLBACK_ROLES",
    "CSP_KEY",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "DASH_APP",
    "DASH_ROUTE_ROLES",
    "DASH_UPDATE",
    "EMBEDDABLE_PATHS",
    "LOGIN_PAGE",
    "MAX_TOKEN_LENGTH",
    "PUBLIC",
    "QUERY_TOKEN_PATHS",
    "READERS",
    "REFUSALS",
    "ROLES_ATTR",
    "callback",
    "callback_roles",
    "check_request",
    "content_security_policy",
    "current_account",
    "declared_roles",
    "dummy_verify",
    "error_response",
    "hash_password",
    "inline_script_hashes",
    "install",
    "login",
    "login_page",
    "logout",
    "origin_allowed",
    "public",
    "request_has_token",
    "roles",
    "same_token",
    "security_headers",
    "set_csrf_cookie",
    "verify_password",
    "via_session",
]
