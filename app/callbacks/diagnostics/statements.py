"""Callbacks of the Diagnostics page · Statements: the ranking for the page's range, a
statement's history when its row is picked, and EXPLAIN, each through
``app.services.diagnostics.statements``."""

from __future__ import annotations

import time

import dash
from dash import Input, Output, State
from dash.exceptions import PreventUpdate
from flask import request

from app import ids
from app.auth import READERS, callback, current_account
from app.components.diagnostics import statements as parts
from app.components.grid import AG_THEME_MODE
from app.runtime import runtime
from app.services import ServiceError, timerange
from app.services.accounts import Actor
from app.services.diagnostics import pg_targets
from app.services.diagnostics import statements as service

SHOWN = {"display": "block"}
HIDDEN = {"display": "none"}
RANKED = 100
"""Statements the page's grid shows."""


def database_options(_id: str) -> list[dict]:
    """Every watched database, after "All databases"."""
    return [
        {"label": "All databases", "value": parts.ALL_DATABASES},
        *({"label": name, "value": name} for name in pg_targets.targets(runtime())),
    ]


def ranking(range_key: str | None, window: dict | None, database: str, order: str):
    """The grid's rows, the notice and the download links for the page's range."""
    start, end = timerange.time_window(range_key, window, time.time())
    database = _chosen(database)
    try:
        result = service.top(runtime(), start, end, order, RANKED, database)
    except ServiceError as exc:
        return [], parts.notice(exc.message), "", ""
    links = [service.export_href(start, end, order, database, fmt) for fmt in ("csv", "json")]
    return result["items"], parts.notice(result.get("reason")), *links


def _chosen(database: str | None) -> str | None:
    """The database picked, None for all of them."""
    return None if database in (None, "", parts.ALL_DATABASES) else database


def show_statement(rows: list[dict] | None, range_key, window, theme):
    """The picked statement's history chart, and its text in the EXPLAIN box."""
    if not rows:
        raise PreventUpdate
    row = rows[0]
    start, end = timerange.time_window(range_key, window, time.time())
    try:
        detail = service.detail(runtime(), row["queryid"], start, end, row["database"])
    except ServiceError:
        raise PreventUpdate from None
    title = f"{row['database']} · {row['queryid']}"
    return SHOWN, title, parts.history_figure(detail, theme == "dark"), detail["query"]


def run_explain(_clicks: int, query: str | None, analyze: bool, rows, database: str):
    """The text plan of the EXPLAIN box's statement (on the picked row's database, else
    the chosen one, else the only one watched), or what is wrong with it."""
    watched = list(pg_targets.targets(runtime()))
    target = (rows[0]["database"] if rows else None) or _chosen(database)
    if target is None and len(watched) == 1:
        target = watched[0]
    if target is None:
        return "", "Pick a database (or a statement) first."
    actor = Actor(current_account(), request.remote_addr)
    try:
        plan = service.explain(runtime(), target, query or "", bool(analyze), actor)
    except ServiceError as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in (exc.fields or {}).items())
        return "", detail or exc.message
    return plan["text"], ""


def register(app: dash.Dash) -> None:
    """Attach this section's callbacks to ``app``."""
    app.clientside_callback(
        AG_THEME_MODE,
        Output(ids.DIAG_STATEMENTS_SECTION, "data-ag-theme-mode"),
        Input(ids.THEME_STORE, "data"),
    )
    callback(
        app,
        Output(ids.DIAG_STATEMENTS_DATABASE, "options"),
        Input(ids.DIAG_STATEMENTS_DATABASE, "id"),
        roles=READERS,
    )(database_options)
    callback(
        app,
        Output(ids.DIAG_STATEMENTS_GRID, "rowData"),
        Output(ids.DIAG_STATEMENTS_NOTICE, "children"),
        *[Output(link, "href") for link in ids.DIAG_STATEMENTS_DOWNLOADS.values()],
        Input(ids.DIAG_RANGE, "value"),
        Input(ids.DIAG_WINDOW, "data"),
        Input(ids.DIAG_STATEMENTS_DATABASE, "value"),
        Input(ids.DIAG_STATEMENTS_ORDER, "value"),
        roles=READERS,
    )(ranking)
    callback(
        app,
        Output(ids.DIAG_STATEMENTS_DETAIL, "style"),
        Output(ids.DIAG_STATEMENTS_TITLE, "children"),
        Output(ids.DIAG_STATEMENTS_CHART, "figure"),
        Output(ids.DIAG_STATEMENTS_QUERY, "value"),
        Input(ids.DIAG_STATEMENTS_GRID, "selectedRows"),
        State(ids.DIAG_RANGE, "value"),
        State(ids.DIAG_WINDOW, "data"),
        State(ids.THEME_STORE, "data"),
        roles=READERS,
        prevent_initial_call=True,
    )(show_statement)
    callback(
        app,
        Output(ids.DIAG_STATEMENTS_PLAN, "children"),
        Output(ids.DIAG_STATEMENTS_PLAN_ERROR, "children"),
        Input(ids.DIAG_STATEMENTS_EXPLAIN, "n_clicks"),
        State(ids.DIAG_STATEMENTS_QUERY, "value"),
        State(ids.DIAG_STATEMENTS_ANALYZE, "value"),
        State(ids.DIAG_STATEMENTS_GRID, "selectedRows"),
        State(ids.DIAG_STATEMENTS_DATABASE, "value"),
        roles=READERS,
        prevent_initial_call=True,
    )(run_explain)
