"""Callbacks of the page shell: the light/dark theme and the phone-width menu."""

import dash
from dash import Input, Output, State

from app import ids


def register(app: dash.Dash) -> None:
    """Theme switch <-> stored preference <-> the document's Bootstrap colour mode."""
    app.clientside_callback(
        dash.ClientsideFunction("pulseboard", "applyTheme"),
        Output(ids.THEME_STORE, "data"),
        Output(ids.THEME_SWITCH, "value"),
        Input(ids.THEME_SWITCH, "value"),
        State(ids.THEME_STORE, "data"),
    )
    app.clientside_callback(
        "function (clicks, open) { return clicks ? !open : open; }",
        Output(ids.NAV_COLLAPSE, "is_open"),
        Input(ids.NAV_TOGGLER, "n_clicks"),
        State(ids.NAV_COLLAPSE, "is_open"),
    )
