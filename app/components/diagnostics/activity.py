"""Diagnostics page · Activity and locks: layout only."""

from dash import html


def layout(admin: bool) -> html.Div:
    """The Activity and locks section; controls that change things only for admins."""
    return html.Div(id="diag-activity-section")
