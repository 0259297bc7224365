"""Diagnostics page · Checks: layout only."""

from dash import html


def layout(admin: bool) -> html.Div:
    """The Checks section; controls that change things only for admins."""
    return html.Div(id="diag-checks-section")
