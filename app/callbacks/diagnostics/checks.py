"""Callbacks of the Diagnostics page · Checks: the grid and platform cards (refreshed with
the page), the selected check's chart, and for admins the editor and delete, each through
``app.services.diagnostics.checks`` as the signed-in user."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import dash
from dash import ALL, Input, Output, State, ctx
from dash.exceptions import PreventUpdate
from flask import request

from app import ids
from app.auth import READERS, callback, current_account
from app.components.diagnostics import checks as parts
from app.components.settings import feedback
from app.runtime import runtime
from app.services import ServiceError, timerange
from app.services.accounts import Actor
from app.services.alert_view import error_text
from app.services.diagnostics import checks as service

ADMIN = ("admin",)
FIELD_VALUES = State({"type": ids.DIAG_CHECKS_FIELD, "field": ALL}, "value")
FIELD_OUTPUTS = Output({"type": ids.DIAG_CHECKS_FIELD, "field": ALL}, "value")
FIELD_ERRORS = Output({"type": ids.DIAG_CHECKS_ERROR, "field": ALL}, "children")
EXPORT = "/api/v1/admin/diagnostics/checks/export"
SERIES_EXPORT = "/api/v1/admin/monitoring/metrics/export"
NEW_CHECK = {
    "kind": "http",
    "expect_status": 200,
    "verify_tls": True,
    "interval": 30,
    "timeout": 5,
    "enabled": True,
}
"""The editor's values for a new check (and for a field the edited check's kind lacks)."""


def _actor() -> Actor:
    return Actor(current_account(), request.remote_addr)


def _names(group: list[dict]) -> list[str]:
    """The body field of each pattern-matched control, in the callback's order."""
    return [item["id"]["field"] for item in group]


def register(app: dash.Dash) -> None:
    """Attach this section's callbacks to ``app``."""
    _register_views(app)
    _register_editor(app)
    _register_delete(app)


def _register_views(app: dash.Dash) -> None:
    @callback(
        app,
        Output(ids.DIAG_CHECKS_GRID, "rowData"),
        Output(ids.DIAG_CHECKS_HEALTH, "children"),
        Output(ids.DIAG_CHECKS_CSV, "href"),
        Output(ids.DIAG_CHECKS_JSON, "href"),
        Input(ids.DIAG_CHECKS_GRID, "id"),
        Input(ids.DIAG_REFRESH, "n_intervals"),
        Input(ids.DIAG_CHECKS_FEEDBACK, "children"),
        roles=READERS,
    )
    def load_checks(_grid, _tick, _changed):
        """Every check with its latest result, and the platform's health."""
        rt = runtime()
        rows = service.grid_rows(service.list_checks(rt, time.time()))
        links = [f"{EXPORT}?format={fmt}" for fmt in ("csv", "json")]
        return rows, parts.health_cards(service.platform(rt)), *links

    @callback(
        app,
        Output(ids.DIAG_CHECKS_CHART, "figure"),
        Output(ids.DIAG_CHECKS_CHART_TITLE, "children"),
        Output(ids.DIAG_CHECKS_CHART_CSV, "href"),
        Output(ids.DIAG_CHECKS_CHART_JSON, "href"),
        Input(ids.DIAG_CHECKS_GRID, "selectedRows"),
        Input(ids.DIAG_RANGE, "value"),
        Input(ids.DIAG_WINDOW, "data"),
        Input(ids.DIAG_REFRESH, "n_intervals"),
        roles=READERS,
    )
    def chart_check(rows, range_key, window, _tick):
        """The selected check's probe duration and success over the page's range."""
        if not rows:
            raise PreventUpdate
        name = rows[0]["name"]
        start, end = timerange.time_window(range_key, window, time.time())
        series = service.history(runtime(), name, start, end)
        query = [("name", m) for m in service.HISTORY_METRICS] + [("from", start), ("to", end)]
        links = [f"{SERIES_EXPORT}?{urlencode([*query, ('format', f)])}" for f in ("csv", "json")]
        return parts.history_figure(series), f"{name}: duration and success", *links


def _register_editor(app: dash.Dash) -> None:
    @callback(
        app,
        Output({"type": ids.DIAG_CHECKS_GROUP, "kind": ALL}, "style"),
        Input({"type": ids.DIAG_CHECKS_FIELD, "field": "kind"}, "value"),
        roles=ADMIN,
    )
    def show_kind_fields(kind):
        """Only the chosen kind's fields are shown."""
        groups = [item["id"]["kind"] for item in ctx.outputs_list]
        return [{} if kind in parts.GROUPS[g] else {"display": "none"} for g in groups]

    @callback(
        app,
        Output(ids.DIAG_CHECKS_EDITOR, "is_open"),
        Output(ids.DIAG_CHECKS_EDITOR_TITLE, "children"),
        Output(ids.DIAG_CHECKS_EDITING, "data"),
        FIELD_OUTPUTS,
        FIELD_ERRORS,
        Input(ids.DIAG_CHECKS_ADD, "n_clicks"),
        Input(ids.DIAG_CHECKS_EDIT, "n_clicks"),
        Input(ids.DIAG_CHECKS_CANCEL, "n_clicks"),
        State(ids.DIAG_CHECKS_GRID, "selectedRows"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def open_editor(_add, _edit, _cancel, rows):
        """Open the editor blank (Add) or filled from the selected check (Edit); Cancel
        closes it."""
        names = _names(ctx.outputs_list[3])
        blank = [None] * len(names)
        if ctx.triggered_id == ids.DIAG_CHECKS_CANCEL:
            return False, dash.no_update, dash.no_update, [dash.no_update] * len(names), blank
        if ctx.triggered_id == ids.DIAG_CHECKS_EDIT:
            if not rows:
                raise PreventUpdate
            row = rows[0]
            values = [NEW_CHECK.get(n) if row.get(n) is None else row[n] for n in names]
            return True, f"Edit {row['name']}", row["id"], values, blank
        return True, "Add a check", None, [NEW_CHECK.get(n) for n in names], blank

    @callback(
        app,
        Output(ids.DIAG_CHECKS_EDITOR, "is_open", allow_duplicate=True),
        Output(ids.DIAG_CHECKS_FEEDBACK, "children"),
        FIELD_ERRORS,
        Input(ids.DIAG_CHECKS_SAVE, "n_clicks"),
        State(ids.DIAG_CHECKS_EDITING, "data"),
        FIELD_VALUES,
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def save_check(_n, editing, values):
        """Create or replace the check; field errors stay in the open editor."""
        names = _names(ctx.states_list[1])
        rt, now = runtime(), time.time()
        try:
            body = service.form_body(dict(zip(names, values, strict=True)))
            if editing is None:
                saved = service.create_check(rt, _actor(), body, now)
            else:
                saved = service.replace_check(rt, _actor(), editing, body, now)
        except ServiceError as exc:
            fields = exc.fields or {}
            errors = [fields.get(n) for n in names]
            if not fields:
                return dash.no_update, feedback(error_text(exc), ok=False), errors
            return dash.no_update, dash.no_update, errors
        return False, feedback(f"Saved check {saved['name']}.", ok=True), [None] * len(names)


def _register_delete(app: dash.Dash) -> None:
    @callback(
        app,
        Output(ids.DIAG_CHECKS_CONFIRM, "is_open"),
        Output(ids.DIAG_CHECKS_CONFIRM_TEXT, "children"),
        Input(ids.DIAG_CHECKS_DELETE, "n_clicks"),
        Input(ids.DIAG_CHECKS_CONFIRM_NO, "n_clicks"),
        State(ids.DIAG_CHECKS_GRID, "selectedRows"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def confirm_delete(_delete, _keep, rows):
        """Ask before deleting the selected check; Keep closes the question."""
        if ctx.triggered_id == ids.DIAG_CHECKS_CONFIRM_NO or not rows:
            return False, dash.no_update
        return True, f"Delete the check {rows[0]['name']}? Its metrics stay until retention."

    @callback(
        app,
        Output(ids.DIAG_CHECKS_CONFIRM, "is_open", allow_duplicate=True),
        Output(ids.DIAG_CHECKS_FEEDBACK, "children", allow_duplicate=True),
        Input(ids.DIAG_CHECKS_CONFIRM_YES, "n_clicks"),
        State(ids.DIAG_CHECKS_GRID, "selectedRows"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def delete_check(_n, rows):
        """Delete the selected check."""
        if not rows:
            raise PreventUpdate
        try:
            service.delete_check(runtime(), _actor(), rows[0]["id"], time.time())
        except ServiceError as exc:
            return False, feedback(error_text(exc), ok=False)
        return False, feedback(f"Deleted check {rows[0]['name']}.", ok=True)
