"""Callbacks of the Diagnostics page: the shared range and tab, then one module per section."""

from __future__ import annotations

import dash
from dash import Input, Output, State, ctx

from app import ids
from app.auth import READERS, callback, current_account
from app.callbacks.diagnostics import (
    activity,
    checks,
    endpoints,
    errors,
    indexes,
    redis,
    statements,
    timeline,
)
from app.components.diagnostics.sections import SECTIONS
from app.services import FieldError, timerange

_MODULES = (statements, activity, indexes, redis, endpoints, errors, checks, timeline)


def register(app: dash.Dash) -> None:
    """Attach the page's callbacks to ``app``."""

    @callback(
        app,
        Output(ids.DIAG_CONTENT, "children"),
        Input(ids.DIAG_TABS, "active_tab"),
        roles=READERS,
    )
    def show_section(tab: str | None):
        """Only the chosen section is built, so a tab's queries run when it is opened."""
        account = current_account()
        section = SECTIONS.get(tab or "", SECTIONS["statements"])
        return section.layout(account is not None and account.role == "admin")

    @callback(
        app,
        Output(ids.DIAG_WINDOW, "data"),
        Output(ids.DIAG_RANGE, "value"),
        Output(ids.DIAG_FROM, "value"),
        Output(ids.DIAG_TO, "value"),
        Output(ids.DIAG_RANGE_ERROR, "children"),
        Input(ids.DIAG_RANGE, "value"),
        Input(ids.DIAG_APPLY, "n_clicks"),
        State(ids.DIAG_FROM, "value"),
        State(ids.DIAG_TO, "value"),
        roles=READERS,
        prevent_initial_call=True,
    )
    def choose_window(range_key, _apply, start, end):
        """A preset clears the custom window; "Show" sets it (and no preset is lit)."""
        if ctx.triggered_id == ids.DIAG_RANGE:
            if range_key is None:
                raise dash.exceptions.PreventUpdate
            return None, dash.no_update, None, None, ""
        try:
            window = timerange.custom_window(start, end)
        except FieldError as exc:
            keep = [dash.no_update] * 4
            return *keep, f"Time range: {exc.field} {exc.message}."
        return window, None, *timerange.window_inputs(window), ""

    for module in _MODULES:
        module.register(app)
