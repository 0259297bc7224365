"""Diagnostics page · Endpoints: layout only."""

from dash import html


def layout(admin: bool) -> html.Div:
    """The Endpoints section; controls that change things only for admins."""
    return html.Div(id="diag-endpoints-section")
