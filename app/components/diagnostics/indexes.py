"""Diagnostics page · Indexes and tables: layout only.

One card per kind of hint: what it is, why it matters and what to do, its rows in a grid
with the SQL that fixes each where that is plain, and its CSV/JSON downloads.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from app import ids
from app.components.grid import grid
from app.components.settings import section

FORMATS = ("csv", "json")
WIDE = {"definition", "covering_definition", "fix"}
GRID_HEIGHT = 320
AUTO_HEIGHT_ROWS = 8
"""Grids of up to this many rows take their rows' height; longer ones scroll."""


def layout(admin: bool) -> html.Div:
    """The Indexes and tables section (the same for every reader: nothing here changes)."""
    return html.Div(
        [
            dbc.Select(
                id=ids.DIAG_INDEXES_DATABASE,
                options=[],
                className="mb-2",
                style={"maxWidth": "28rem"},
                placeholder="Database",
            ),
            html.Div(id=ids.DIAG_INDEXES_MESSAGE, role="alert"),
            html.Div(id=ids.DIAG_INDEXES_BODY, className="d-grid gap-3"),
        ],
        id="diag-indexes-section",
    )


def hint_card(hint: dict) -> dbc.Card:
    """One kind of hint (``kind``, ``title``, ``advice``, ``columns``, ``items`` keyed by
    ``id``, ``hrefs`` per format): its advice, its rows and its download links."""
    kind, columns, hrefs = hint["kind"], hint["columns"], hint["hrefs"]
    defs = [
        {
            "field": c,
            "headerName": c.replace("_", " ").capitalize(),
            "minWidth": 260 if c in WIDE else 100,
            "tooltipField": c,
        }
        for c in (*columns, "fix")
    ]
    table = grid({"type": ids.DIAG_INDEXES_GRID, "kind": kind}, defs, height=GRID_HEIGHT)
    table.rowData = hint["items"]
    table.columnSize = None
    count = len(hint["items"])
    if count <= AUTO_HEIGHT_ROWS:
        table.dashGridOptions = {**table.dashGridOptions, "domLayout": "autoHeight"}
        table.style = {}
    links = html.Span(
        [
            html.A(fmt.upper(), href=hrefs[fmt], download="", className="me-2 small")
            for fmt in FORMATS
        ]
    )
    body = [
        html.P(hint["advice"], className="small text-body-secondary mb-2"),
        html.Div(
            [html.Span(f"{count} found", className="me-auto small hint-count"), links],
            className="d-flex align-items-center mb-1",
        ),
        table if count else html.P("Nothing to report.", className="mb-0 small"),
    ]
    return section(hint["title"], body, f"diag-indexes-{kind}")
