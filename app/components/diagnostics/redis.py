"""Diagnostics page · Redis: layout only."""

from dash import html


def layout(admin: bool) -> html.Div:
    """The Redis section; controls that change things only for admins."""
    return html.Div(id="diag-redis-section")
