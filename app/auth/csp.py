"""Response headers that keep the browser safe: the Content-Security-Policy and friends."""

from __future__ import annotations

import base64
import hashlib
import re

from flask import current_app, request

CSP_KEY = "pulseboard.csp"
"""Where ``create_app`` keeps the policy (a function of "may this page be framed")."""
EMBEDDABLE_PATHS = frozenset({"/embed/logs"})
"""The pages the origins in ``PULSEBOARD_ALLOWED_ORIGINS`` may frame; the console is not."""


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
