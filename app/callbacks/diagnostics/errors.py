"""Callbacks of the Diagnostics page · Errors."""

from __future__ import annotations

import time

import dash
from dash import Input, Output, State
from dash.exceptions import PreventUpdate
from sqlalchemy.exc import SQLAlchemyError

from app import ids
from app.auth import READERS, callback
from app.components.diagnostics import errors as parts
from app.runtime import runtime
from app.services import ServiceError, timerange
from app.services.diagnostics import errors as service

UNAVAILABLE = "The database is unavailable; the groups will show when it answers."


def register(app: dash.Dash) -> None:
    """Attach this section's callbacks to ``app``."""
    callback(
        app,
        Output(ids.DIAG_ERRORS_GRID, "rowData"),
        Output(ids.DIAG_ERRORS_SUMMARY, "children"),
        *(Output(link, "href") for link in ids.DIAG_ERRORS_DOWNLOADS.values()),
        Input(ids.DIAG_RANGE, "value"),
        Input(ids.DIAG_WINDOW, "data"),
        Input(ids.DIAG_ERRORS_NEW_ONLY, "value"),
        roles=READERS,
    )(list_groups)
    callback(
        app,
        Output(ids.DIAG_ERRORS_GRID, "selectedRows"),
        Input(ids.DIAG_ERRORS_LOCATION, "search"),
        roles=READERS,
    )(open_linked_group)
    callback(
        app,
        Output(ids.DIAG_ERRORS_DETAIL, "children"),
        Input(ids.DIAG_ERRORS_GRID, "selectedRows"),
        State(ids.DIAG_RANGE, "value"),
        State(ids.DIAG_WINDOW, "data"),
        State(ids.THEME_STORE, "data"),
        roles=READERS,
        prevent_initial_call=True,
    )(show_group)


def list_groups(range_key: str | None, window: dict | None, new_only: bool | None):
    """The groups of the range, the line over them and the download links."""
    start, end = timerange.time_window(range_key, window, time.time())
    try:
        items = service.groups(runtime(), start, end, service.PAGE_LIMIT, None, bool(new_only))
    except SQLAlchemyError:
        return dash.no_update, UNAVAILABLE, *(dash.no_update for _ in ids.DIAG_ERRORS_DOWNLOADS)
    formats = ids.DIAG_ERRORS_DOWNLOADS
    links = (service.export_href(start, end, bool(new_only), fmt) for fmt in formats)
    return service.grid_rows(items), service.summary(items), *links


def open_linked_group(search: str | None):
    """Select the group the address names (``?fingerprint=``), if any."""
    rows = service.linked_group(search)
    if rows is None:
        raise PreventUpdate
    return rows


def show_group(rows: list[dict] | None, range_key: str | None, window: dict | None, theme):
    """The selected group in detail."""
    if not rows:
        return parts.detail(None)
    start, end = timerange.time_window(range_key, window, time.time())
    try:
        found = service.group(runtime(), rows[0]["id"], start, end, epoch_times=True)
    except (ServiceError, SQLAlchemyError):
        return parts.detail(None)
    return parts.detail(found, theme == "dark")
