"""Callbacks of the Diagnostics page · Indexes and tables: the hints of the chosen
database, read when the section opens or the database changes."""

from __future__ import annotations

import dash
from dash import Input, Output, html

from app import ids
from app.auth import READERS, callback
from app.components.diagnostics import indexes as parts
from app.runtime import runtime
from app.services import ServiceError
from app.services.diagnostics import indexes as service


def show(database: str | None):
    """The database choices, a message when the read failed, and one card per hint."""
    try:
        view = service.page_view(runtime(), database or None)
    except ServiceError as exc:
        return [], html.Div(exc.message, className="alert alert-warning py-2"), [], dash.no_update
    cards = [parts.hint_card(card) for card in view["cards"]]
    options = [{"label": name, "value": name} for name in view["databases"]]
    return options, "", cards, view["database"]


def register(app: dash.Dash) -> None:
    """Attach this section's callbacks to ``app``."""
    callback(
        app,
        Output(ids.DIAG_INDEXES_DATABASE, "options"),
        Output(ids.DIAG_INDEXES_MESSAGE, "children"),
        Output(ids.DIAG_INDEXES_BODY, "children"),
        Output(ids.DIAG_INDEXES_DATABASE, "value"),
        Input(ids.DIAG_INDEXES_DATABASE, "value"),
        roles=READERS,
    )(show)
