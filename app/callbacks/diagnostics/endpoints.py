"""Callbacks of the Diagnostics page · Endpoints: the routes over the shared range, and the
picked route's heatmap, throughput and slowest requests."""

from __future__ import annotations

import time

import dash
from dash import Input, Output
from sqlalchemy.exc import SQLAlchemyError

from app import ids
from app.auth import READERS, callback
from app.components.diagnostics import endpoints as parts
from app.runtime import runtime
from app.services import timerange
from app.services.diagnostics import endpoints as service

HIDDEN = {"display": "none"}
UNAVAILABLE = "The database is unavailable: try again in a moment."


def show_routes(range_key: str | None, window: dict | None) -> list:
    """The routes table over the shared range and the links downloading it."""
    now = time.time()
    start, end = timerange.time_window(range_key, window, now)
    hrefs = [
        service.export_href("routes", range_key, window, fmt, now)
        for fmt in ids.DIAG_ENDPOINTS_DOWNLOADS
    ]
    try:
        rows = service.grid_rows(runtime(), start, end)
    except SQLAlchemyError:
        return [dash.no_update, UNAVAILABLE, *hrefs]
    return [rows, "", *hrefs]


def show_route(
    selected: list[dict] | None, range_key: str | None, window: dict | None, theme: str | None
) -> list:
    """The picked route's heatmap and throughput (hidden while none is picked), and the
    slowest requests of that route or of every route, with their download links."""
    now = time.time()
    start, end = timerange.time_window(range_key, window, now)
    rt = runtime()
    picked = selected[0] if selected else None
    route = picked["route"] if picked else None
    method = picked["method"] if picked else None
    hrefs = [
        service.export_href("slow", range_key, window, fmt, now, route, method)
        for fmt in ids.DIAG_ENDPOINTS_SLOW_DOWNLOADS
    ]
    try:
        slow = service.slow_rows(rt, start, end, route, method)
        detail = None if picked is None else service.detail(rt, route, method, start, end)
    except SQLAlchemyError:  # the routes table says so
        raise dash.exceptions.PreventUpdate from None
    if detail is None:
        charts = [HIDDEN, parts.PICK_A_ROUTE, dash.no_update, dash.no_update]
        slow_title = "Slowest requests"
    else:
        charts = [
            {},
            f"{method} {route}: {detail['source']} data, {detail['step']} s buckets",
            parts.heatmap_figure(detail, theme == "dark"),
            parts.throughput_figure(detail, theme == "dark"),
        ]
        slow_title = f"Slowest requests of {method} {route}"
    return [*charts, slow_title, slow, *hrefs]


def register(app: dash.Dash) -> None:
    """Attach this section's callbacks to ``app``."""
    callback(
        app,
        Output(ids.DIAG_ENDPOINTS_GRID, "rowData"),
        Output(ids.DIAG_ENDPOINTS_ERROR, "children"),
        *[Output(link, "href") for link in ids.DIAG_ENDPOINTS_DOWNLOADS.values()],
        Input(ids.DIAG_RANGE, "value"),
        Input(ids.DIAG_WINDOW, "data"),
        roles=READERS,
    )(show_routes)
    callback(
        app,
        Output(ids.DIAG_ENDPOINTS_DETAIL, "style"),
        Output(ids.DIAG_ENDPOINTS_TITLE, "children"),
        Output(ids.DIAG_ENDPOINTS_HEATMAP, "figure"),
        Output(ids.DIAG_ENDPOINTS_THROUGHPUT, "figure"),
        Output(ids.DIAG_ENDPOINTS_SLOW_TITLE, "children"),
        Output(ids.DIAG_ENDPOINTS_SLOW_GRID, "rowData"),
        *[Output(link, "href") for link in ids.DIAG_ENDPOINTS_SLOW_DOWNLOADS.values()],
        Input(ids.DIAG_ENDPOINTS_GRID, "selectedRows"),
        Input(ids.DIAG_RANGE, "value"),
        Input(ids.DIAG_WINDOW, "data"),
        Input(ids.THEME_STORE, "data"),
        roles=READERS,
    )(show_route)
