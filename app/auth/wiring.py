"""Puts authentication into a Flask server: the login routes, the guard, the headers."""

from __future__ import annotations

from flask import Flask

from app.auth.csp import security_headers
from app.auth.csrf import set_csrf_cookie
from app.auth.guard import check_request
from app.auth.login import login, logout


def install(server: Flask) -> None:
    """Add the login routes and the guard to ``server``."""
    server.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", logout, methods=["POST"])
    server.before_request(check_request)
    server.after_request(set_csrf_cookie)
    server.after_request(security_headers)
