"""Diagnostics: why is it slow, what is blocked, what broke first. One range for every
section; each tab builds its content when opened."""

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids
from app.components.diagnostics.sections import SECTIONS
from app.components.time_range import custom_range, preset_picker
from app.services.timerange import DEFAULT_RANGE, RANGES

dash.register_page(
    __name__,
    path="/diagnostics",
    name="Diagnostics",
    title="Pulseboard · Diagnostics",
    order=30,
)

REFRESH_MS = 5000


def layout(tab: str | None = None, **_query) -> html.Div:
    """The shared range, the tabs and the chosen section (``?tab=`` picks it)."""
    active = tab if tab in SECTIONS else "statements"
    return html.Div(
        [
            html.Div(
                [
                    html.H4("Diagnostics", className="me-auto mb-0"),
                    preset_picker(ids.DIAG_RANGE, RANGES, DEFAULT_RANGE),
                    custom_range(ids.DIAG_FROM, ids.DIAG_TO, ids.DIAG_APPLY),
                ],
                className="d-flex flex-wrap align-items-center gap-2 mb-2",
            ),
            html.Div(id=ids.DIAG_RANGE_ERROR, className="text-danger small", role="alert"),
            dbc.Tabs(
                [dbc.Tab(label=s.label, tab_id=key) for key, s in SECTIONS.items()],
                id=ids.DIAG_TABS,
                active_tab=active,
                className="mb-3",
            ),
            # Only while a tab is being built: the live sections' own refreshes inside it
            # must not cover the tab (and its buttons) every few seconds.
            dcc.Loading(
                html.Div(id=ids.DIAG_CONTENT),
                delay_show=300,
                target_components={ids.DIAG_CONTENT: "children"},
            ),
            dcc.Store(id=ids.DIAG_WINDOW),
            dcc.Interval(id=ids.DIAG_REFRESH, interval=REFRESH_MS),
        ],
        id=ids.DIAG_PAGE,
    )
