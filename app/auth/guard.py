"""The guard run before every request: refuse what the caller's role does not allow."""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, redirect, request, url_for

from app.api.errors import error_body, wants_json
from app.auth.csrf import SAFE_METHODS, request_has_token
from app.auth.declarations import PUBLIC, callback_roles, declared_roles
from app.auth.identity import current_account, via_session
from app.runtime import runtime
from storage.accounts import Account

log = logging.getLogger(__name__)

DASH_UPDATE = "/_dash-update-component"


def error_response(status: int, code: str, message: str):
    """A refusal in the one JSON error shape."""
    return jsonify(error_body(code, message)), status


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
        if wants_json():
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
    if via_session() and request.method not in SAFE_METHODS and not request_has_token():
        return error_response(403, "csrf", "Missing or wrong CSRF token.")
    return None


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
