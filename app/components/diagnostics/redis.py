"""Diagnostics page · Redis: layout only.

Memory figures as small cards, the slow commands, the latency monitor's events and doctor,
and the big-keys scan with its progress and result.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids
from app.components.downloads import download_menu
from app.components.grid import grid
from app.services.diagnostics.redis import DEFAULT_LIMITS
from app.services.diagnostics.redis_view import Figure

POLL_MS = 700

SLOWLOG_COLUMNS = [
    {"field": "time", "headerName": "Started (UTC)", "minWidth": 180, "sort": "desc"},
    {"field": "duration_ms", "headerName": "ms", "type": "numericColumn", "minWidth": 90},
    {"field": "command", "flex": 3, "minWidth": 220, "tooltipField": "command"},
    {"field": "client", "minWidth": 140},
    {"field": "id", "headerName": "Entry", "type": "numericColumn", "minWidth": 80},
    {"field": "source", "minWidth": 90},
]
LATENCY_COLUMNS = [
    {"field": "event", "minWidth": 130},
    {"field": "time", "headerName": "Last (UTC)", "minWidth": 180},
    {"field": "latest_ms", "headerName": "Latest ms", "type": "numericColumn"},
    {"field": "max_ms", "headerName": "Max ms", "type": "numericColumn"},
]
BIGKEYS_COLUMNS = [
    {"field": "key", "flex": 3, "minWidth": 200, "tooltipField": "key"},
    {"field": "type", "minWidth": 90},
    {"field": "size", "headerName": "Memory", "minWidth": 100},
    {"field": "bytes", "type": "numericColumn", "minWidth": 110, "sort": "desc"},
    {"field": "db", "type": "numericColumn", "minWidth": 70},
]


def _heading(title: str, downloads: dict[str, str] | None = None) -> html.Div:
    parts: list = [html.H6(title, className="mb-0 me-auto")]
    if downloads:
        parts.append(download_menu(downloads))
    return html.Div(parts, className="d-flex align-items-center mt-3 mb-1")


def figure_cards(figures: list[Figure]) -> list[dbc.Col]:
    """The small cards of the memory figures."""
    return [
        dbc.Col(
            dbc.Card(
                dbc.CardBody(
                    [
                        html.Div(f.title, className="small text-body-secondary"),
                        html.Div(f.value, className="fs-5 fw-semibold diag-redis-figure"),
                        html.Div(f.detail, className="small text-body-secondary text-truncate"),
                    ],
                    className="p-2",
                ),
                className="h-100",
            ),
            xs=6,
            md=4,
            xl=2,
        )
        for f in figures
    ]


def _bigkeys_panel(admin: bool) -> html.Div:
    # The buttons are there for everyone so the panel's callback can switch them; only
    # admins see them, and the server refuses anyone else's click.
    hidden = "" if admin else " d-none"
    return html.Div(
        [
            _heading("Big keys", ids.DIAG_REDIS_BIGKEYS_DOWNLOADS),
            html.Div(
                [
                    dbc.Button(
                        "Start scan",
                        id=ids.DIAG_REDIS_BIGKEYS_START,
                        size="sm",
                        color="primary",
                        className="me-2" + hidden,
                    ),
                    dbc.Button(
                        "Cancel",
                        id=ids.DIAG_REDIS_BIGKEYS_CANCEL,
                        size="sm",
                        color="secondary",
                        disabled=True,
                        className="me-2" + hidden,
                    ),
                    html.Span(id=ids.DIAG_REDIS_BIGKEYS_STATUS, className="small"),
                ],
                className="d-flex flex-wrap align-items-center gap-1 mb-2",
            ),
            html.Div(id=ids.DIAG_REDIS_BIGKEYS_ACTION, className="small text-danger", role="alert"),
            dbc.Progress(id=ids.DIAG_REDIS_BIGKEYS_PROGRESS, value=0, className="mb-2"),
            grid(ids.DIAG_REDIS_BIGKEYS_GRID, BIGKEYS_COLUMNS, height=300),
            html.Div(
                "SCAN with MEMORY USAGE, a page at a time with a pause between pages; at most "
                f"{DEFAULT_LIMITS.max_keys:,} keys of the target's database.",
                className="small text-body-secondary mt-1",
            ),
            dcc.Store(id=ids.DIAG_REDIS_BIGKEYS_JOB),
            dcc.Interval(id=ids.DIAG_REDIS_BIGKEYS_POLL, interval=POLL_MS, disabled=True),
        ]
    )


def layout(admin: bool) -> html.Div:
    """The Redis section; controls that change things only for admins."""
    return html.Div(
        [
            dbc.Row(
                dbc.Col(
                    dbc.Select(id=ids.DIAG_REDIS_TARGET, options=[], size="sm"),
                    xs=12,
                    md=5,
                    lg=4,
                ),
                className="mb-2",
            ),
            html.Div(id=ids.DIAG_REDIS_MESSAGE),
            dbc.Row(id=ids.DIAG_REDIS_CARDS, className="g-2"),
            _heading("Slow commands", ids.DIAG_REDIS_SLOWLOG_DOWNLOADS),
            grid(ids.DIAG_REDIS_SLOWLOG, SLOWLOG_COLUMNS, height=320),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            _heading("Latency events"),
                            grid(ids.DIAG_REDIS_LATENCY, LATENCY_COLUMNS, height=200),
                        ],
                        xs=12,
                        lg=6,
                    ),
                    dbc.Col(
                        [
                            _heading("Latency doctor"),
                            html.Pre(
                                id=ids.DIAG_REDIS_DOCTOR,
                                className="small border rounded p-2 mb-0",
                                style={"maxHeight": "200px", "whiteSpace": "pre-wrap"},
                            ),
                        ],
                        xs=12,
                        lg=6,
                    ),
                ]
            ),
            _bigkeys_panel(admin),
        ],
        id="diag-redis-section",
    )
