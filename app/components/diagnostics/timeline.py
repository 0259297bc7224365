"""Diagnostics page · Timeline: layout only."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids
from app.components.charts import CONFIG
from app.components.grid import grid

CHANGE_COLUMNS = [
    {"field": "series", "headerName": "Series", "minWidth": 200, "tooltipField": "series"},
    {"field": "host", "headerName": "Host", "minWidth": 110},
    {"field": "score", "headerName": "Score", "minWidth": 90, "sort": "desc"},
    {"field": "direction", "headerName": "Direction", "minWidth": 100},
    {"field": "move", "headerName": "Before → after", "minWidth": 150},
    {"field": "method", "headerName": "Method", "minWidth": 90},
]


def _link(label: str, link_id: str) -> html.A:
    return html.A(label, id=link_id, href="#", className="btn btn-sm btn-outline-secondary")


def _annotation_form() -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.H6("Add annotation", className="card-title"),
                dbc.Row(
                    [
                        dbc.Col(
                            dbc.Input(
                                id=ids.DIAG_TIMELINE_TITLE,
                                placeholder="Title (a deploy, a change)",
                                maxLength=200,
                                size="sm",
                            ),
                            md=4,
                            className="mb-2",
                        ),
                        dbc.Col(
                            dbc.Input(
                                id=ids.DIAG_TIMELINE_TAGS,
                                placeholder="Tags, comma-separated",
                                maxLength=400,
                                size="sm",
                            ),
                            md=3,
                            className="mb-2",
                        ),
                        dbc.Col(
                            dbc.Checkbox(
                                id=ids.DIAG_TIMELINE_SPAN,
                                label="Span the window (else now)",
                                value=False,
                            ),
                            md=3,
                            className="mb-2",
                        ),
                        dbc.Col(
                            dbc.Button("Add", id=ids.DIAG_TIMELINE_ADD, size="sm", color="primary"),
                            md=2,
                            className="mb-2",
                        ),
                    ],
                    className="g-2 align-items-center",
                ),
                dbc.Textarea(
                    id=ids.DIAG_TIMELINE_TEXT,
                    placeholder="Text (optional)",
                    maxLength=10_000,
                    size="sm",
                    rows=2,
                ),
                html.Div(id=ids.DIAG_TIMELINE_FEEDBACK),
            ]
        ),
        className="mt-3",
    )


def layout(admin: bool) -> html.Div:
    """The Timeline section; controls that change things only for admins."""
    return html.Div(
        [
            html.Div(
                [
                    html.H5("Incident timeline", className="me-auto mb-0"),
                    _link("CSV", ids.DIAG_TIMELINE_CSV),
                    _link("JSON", ids.DIAG_TIMELINE_JSON),
                    _link("Download bundle", ids.DIAG_TIMELINE_BUNDLE),
                ],
                className="d-flex flex-wrap align-items-center gap-2 mb-2",
            ),
            html.Div(id=ids.DIAG_TIMELINE_NOTE, className="text-muted small"),
            dcc.Graph(
                id=ids.DIAG_TIMELINE_FIGURE,
                config=CONFIG,
                style={"height": "480px"},
            ),
            html.Div(id=ids.DIAG_TIMELINE_DETAIL, className="small mb-3"),
            html.Div(
                [
                    html.H5("What changed", className="me-auto mb-0"),
                    _link("CSV", ids.DIAG_TIMELINE_CHANGES_CSV),
                    _link("JSON", ids.DIAG_TIMELINE_CHANGES_JSON),
                ],
                className="d-flex flex-wrap align-items-center gap-2 mb-2",
            ),
            grid(ids.DIAG_TIMELINE_CHANGES, CHANGE_COLUMNS, height=320, selectable=True),
            dcc.Graph(
                id=ids.DIAG_TIMELINE_SERIES,
                config=CONFIG,
                style={"height": "260px"},
            ),
            _annotation_form() if admin else html.Div(),
            dcc.Store(id=ids.DIAG_TIMELINE_EVENTS),
            dcc.Store(id=ids.DIAG_TIMELINE_ADDED, data=0),
        ],
        id="diag-timeline-section",
    )
