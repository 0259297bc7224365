"""Diagnostics page · Statements: layout only."""

from dash import html


def layout(admin: bool) -> html.Div:
    """The Statements section; controls that change things only for admins."""
    return html.Div(id="diag-statements-section")
