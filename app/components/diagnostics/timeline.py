"""Diagnostics page · Timeline: layout only."""

from dash import html


def layout(admin: bool) -> html.Div:
    """The Timeline section; controls that change things only for admins."""
    return html.Div(id="diag-timeline-section")
