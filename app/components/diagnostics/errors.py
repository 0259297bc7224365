"""Diagnostics page · Errors: layout only."""

from dash import html


def layout(admin: bool) -> html.Div:
    """The Errors section; controls that change things only for admins."""
    return html.Div(id="diag-errors-section")
