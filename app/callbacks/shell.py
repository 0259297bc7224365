"""Callbacks of the page shell: the light/dark theme."""

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
