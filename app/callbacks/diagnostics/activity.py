"""Callbacks of the Diagnostics page · Activity and locks: the live read on every refresh
tick, and the admin's cancel and terminate behind a confirmation."""

from __future__ import annotations

import time

import dash
from dash import Input, Output, State, ctx, html
from dash.exceptions import PreventUpdate
from flask import request

from app import ids
from app.auth import READERS, callback, current_account
from app.components.diagnostics import activity as parts
from app.components.settings import feedback
from app.runtime import runtime
from app.services import ServiceError, timerange
from app.services.diagnostics import activity as service

ADMIN = ("admin",)
ACTIONS = {ids.DIAG_ACTIVITY_CANCEL: "cancel", ids.DIAG_ACTIVITY_TERMINATE: "terminate"}
DONE = {"cancel": "Cancel sent to", "terminate": "Terminate sent to"}
DOWNLOADS = (
    *((ids.DIAG_ACTIVITY_DOWNLOADS[f], "sessions", f) for f in ids.DIAG_ACTIVITY_DOWNLOADS),
    *(
        (ids.DIAG_ACTIVITY_HISTORY_DOWNLOADS[f], "history", f)
        for f in ids.DIAG_ACTIVITY_HISTORY_DOWNLOADS
    ),
)
"""Each download link: its id, the table it downloads and the format."""


def show(database, range_key, window):
    """Everything the section shows, read now; the error in place of it when the read
    fails."""
    start, end = timerange.time_window(range_key, window, time.time())
    try:
        view = service.page_view(runtime(), database or None, start, end)
    except ServiceError as exc:
        message = html.Div(exc.message, className="alert alert-warning py-2")
        return [], message, parts.tree([]), [], [], dash.no_update, *[""] * len(DOWNLOADS)
    options = [{"label": name, "value": name} for name in view["databases"]]
    hrefs = [
        service.export_href(view["database"], table, start, end, fmt) for _, table, fmt in DOWNLOADS
    ]
    return (
        options,
        "",
        parts.tree(view["tree"]),
        view["sessions"],
        view["history"],
        view["database"],
        *hrefs,
    )


def ask(_cancel, _terminate, selected, database):
    """Open the confirmation naming the selected session's pid and query."""
    if ctx.triggered_id not in ACTIONS or not ctx.triggered[0]["value"]:
        raise PreventUpdate
    if not selected:
        return False, dash.no_update, None, feedback("Select a session first.", False)
    action, row = ACTIONS[ctx.triggered_id], selected[0]
    pending = {"action": action, "pid": row["pid"], "database": database}
    return True, parts.confirm_text(action, row["pid"], row["query"]), pending, ""


def confirm(ok, _back, pending):
    """Do the confirmed action (or drop it) and say how it went."""
    if ctx.triggered_id != ids.DIAG_ACTIVITY_CONFIRM_OK or not ok or not pending:
        return False, None, dash.no_update
    signal = service.cancel if pending["action"] == "cancel" else service.terminate
    try:
        done = signal(
            runtime(),
            pending["database"],
            int(pending["pid"]),
            current_account().name,
            request.remote_addr,
        )
    except ServiceError as exc:
        return False, None, feedback(exc.message, False)
    verb = DONE[done["action"]]
    if not done["delivered"]:
        return False, None, feedback(f"pid {done['pid']} did not take the signal.", False)
    return False, None, feedback(f"{verb} pid {done['pid']}.", True)


def register(app: dash.Dash) -> None:
    """Attach this section's callbacks to ``app``."""
    callback(
        app,
        Output(ids.DIAG_ACTIVITY_DATABASE, "options"),
        Output(ids.DIAG_ACTIVITY_MESSAGE, "children"),
        Output(ids.DIAG_ACTIVITY_TREE, "children"),
        Output(ids.DIAG_ACTIVITY_GRID, "rowData"),
        Output(ids.DIAG_ACTIVITY_HISTORY_GRID, "rowData"),
        Output(ids.DIAG_ACTIVITY_DATABASE, "value"),
        *(Output(link, "href") for link, _, _ in DOWNLOADS),
        Input(ids.DIAG_ACTIVITY_DATABASE, "value"),
        Input(ids.DIAG_RANGE, "value"),
        Input(ids.DIAG_WINDOW, "data"),
        Input(ids.DIAG_REFRESH, "n_intervals"),
        roles=READERS,
    )(lambda database, range_key, window, _tick: show(database, range_key, window))
    callback(
        app,
        Output(ids.DIAG_ACTIVITY_CONFIRM, "is_open", allow_duplicate=True),
        Output(ids.DIAG_ACTIVITY_CONFIRM_BODY, "children"),
        Output(ids.DIAG_ACTIVITY_PENDING, "data", allow_duplicate=True),
        Output(ids.DIAG_ACTIVITY_FEEDBACK, "children", allow_duplicate=True),
        Input(ids.DIAG_ACTIVITY_CANCEL, "n_clicks"),
        Input(ids.DIAG_ACTIVITY_TERMINATE, "n_clicks"),
        State(ids.DIAG_ACTIVITY_GRID, "selectedRows"),
        State(ids.DIAG_ACTIVITY_DATABASE, "value"),
        roles=ADMIN,
        prevent_initial_call=True,
    )(ask)
    callback(
        app,
        Output(ids.DIAG_ACTIVITY_CONFIRM, "is_open", allow_duplicate=True),
        Output(ids.DIAG_ACTIVITY_PENDING, "data", allow_duplicate=True),
        Output(ids.DIAG_ACTIVITY_FEEDBACK, "children", allow_duplicate=True),
        Input(ids.DIAG_ACTIVITY_CONFIRM_OK, "n_clicks"),
        Input(ids.DIAG_ACTIVITY_CONFIRM_BACK, "n_clicks"),
        State(ids.DIAG_ACTIVITY_PENDING, "data"),
        roles=ADMIN,
        prevent_initial_call=True,
    )(confirm)
