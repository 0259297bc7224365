"""Diagnostics page · Indexes and tables: layout only."""

from dash import html


def layout(admin: bool) -> html.Div:
    """The Indexes and tables section; controls that change things only for admins."""
    return html.Div(id="diag-indexes-section")
