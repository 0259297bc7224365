"""The console's page for an address it does not know (Dash shows it for any unknown path)."""

import dash
import dash_bootstrap_components as dbc
from dash import html

from app import ids

dash.register_page(__name__, path="/404", name="Page not found", title="Pulseboard · Not found")


def _asked_path() -> str:
    # Dash draws this page from its routing callback, whose input is the address.
    try:
        return str(dash.ctx.inputs.get("_pages_location.pathname") or "")
    except dash.exceptions.MissingCallbackContextException:
        return ""


def layout(**_query) -> html.Div:
    """What was asked for, and the way back to every page of the console."""
    pages = [
        dbc.ListGroupItem(page["name"], href=page["relative_path"], action=True)
        for page in dash.page_registry.values()
        if page["module"] != __name__
    ]
    return html.Div(
        [
            html.I(className="bi bi-signpost-split display-5 text-body-secondary"),
            html.H4("This page does not exist", className="mt-2"),
            html.P(
                [
                    "Pulseboard has no page at ",
                    html.Code(_asked_path(), id=ids.NOT_FOUND_PATH),
                    ". The link may be old or mistyped.",
                ],
                className="text-body-secondary",
            ),
            dbc.ListGroup(pages, className="not-found-pages"),
        ],
        id=ids.NOT_FOUND_PAGE,
        className="not-found mx-auto mt-4",
    )
