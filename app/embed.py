"""The embeddable live tail: ``/embed/logs``, a bare page another site can put in an
iframe (when its origin is in ``PULSEBOARD_ALLOWED_ORIGINS``)."""

from __future__ import annotations

from html import escape

from flask import Blueprint, request

from app.auth import READERS, roles
from app.services import FieldError
from app.services.log_search import build_query

bp = Blueprint("embed", __name__)

EMBED_PAGE = """<!doctype html>
<html lang="en" data-theme="{theme}"><head><meta charset="utf-8">
<title>Pulseboard · Live logs</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/embed-logs.css"></head>
<body><div id="embed-tail" data-q="{q}" data-token="{token}" data-backlog="{backlog}">
<header><span id="embed-title">{title}</span><span id="embed-status">connecting</span>
<span id="embed-rate"></span><button id="embed-pause" type="button">Pause</button></header>
<table><tbody id="embed-rows"></tbody></table></div>
<script src="/assets/embed-logs.js"></script></body></html>"""


@bp.get("/embed/logs")
@roles(*READERS)
def embed_logs():
    """The live tail alone. Query string: ``q`` (query language), ``backlog`` (lines shown
    first, default 100), ``theme`` (light or dark), ``token`` (bearer token when the
    embedding page has no Pulseboard session)."""
    q = request.args.get("q", "")
    build_query(q, None, None, None)
    try:
        backlog = int(request.args.get("backlog", "100"))
    except ValueError:
        raise FieldError("backlog", "must be a whole number") from None
    if not 0 <= backlog <= 1000:
        raise FieldError("backlog", "must be between 0 and 1000")
    theme = request.args.get("theme", "light")
    if theme not in ("light", "dark"):
        raise FieldError("theme", "must be light or dark")
    page = EMBED_PAGE.format(
        theme=theme,
        q=escape(q),
        token=escape(request.args.get("token", "")),
        backlog=backlog,
        title=escape(q or "all logs"),
    )
    # The page may carry a token: keep it out of caches.
    return page, 200, {"Cache-Control": "no-store"}
