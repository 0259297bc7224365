"""Overview: health cards, then live charts of the system, the application, the database
and Redis over a chosen or zoomed time range."""

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids
from app.components.cards import health_card
from app.components.time_range import custom_range, preset_picker
from app.services.overview import CARD_TITLES, SECTIONS
from app.services.timerange import DEFAULT_RANGE, RANGES

dash.register_page(__name__, path="/", name="Overview", title="Pulseboard · Overview", order=0)

REFRESH_MS = 30_000
ROUTE_COLUMNS = [
    {"field": "route", "headerName": "Route", "flex": 3, "minWidth": 180},
    {"field": "method", "headerName": "Method", "flex": 1, "minWidth": 80},
    {"field": "p50", "headerName": "p50 ms", "flex": 1, "minWidth": 80},
    {"field": "p95", "headerName": "p95 ms", "flex": 1, "minWidth": 80, "sort": "desc"},
    {"field": "p99", "headerName": "p99 ms", "flex": 1, "minWidth": 80},
    {"field": "rate", "headerName": "req/s", "flex": 1, "minWidth": 80},
]


def _chart(key: str) -> dbc.Col:
    return dbc.Col(
        dbc.Card(
            dcc.Graph(
                id=f"overview-chart-{key}",
                config={"displaylogo": False, "responsive": True},
                className="overview-chart",
            ),
            body=True,
            className="h-100",
        ),
        xs=12,
        lg=6,
        className="mb-3",
    )


def _controls() -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(html.H4("Overview", className="mb-0"), width="auto"),
            dbc.Col(preset_picker(ids.OVERVIEW_RANGE, RANGES, DEFAULT_RANGE), width="auto"),
            dbc.Col(
                custom_range(ids.OVERVIEW_FROM, ids.OVERVIEW_TO, ids.OVERVIEW_APPLY),
                xs=12,
                sm="auto",
            ),
            dbc.Col(
                dbc.Select(id=ids.OVERVIEW_HOST, size="sm", options=[], value=""),
                id=ids.OVERVIEW_HOST_GROUP,
                width="auto",
                style={"display": "none"},
            ),
            dbc.Col(
                dbc.Switch(
                    id=ids.OVERVIEW_AUTO, label="Auto-refresh", value=True, className="mb-0"
                ),
                width="auto",
            ),
            dbc.Col(
                [
                    dbc.Badge(
                        "connecting",
                        id=ids.OVERVIEW_LIVE_STATUS,
                        color="secondary",
                        className="me-2",
                    ),
                    html.Small(id=ids.OVERVIEW_UPDATED, className="text-body-secondary"),
                ],
                className="ms-xl-auto",
                width="auto",
            ),
        ],
        className="g-2 align-items-center mb-3",
    )


def _section(title: str, keys: list[str], extra=None) -> html.Div:
    return html.Div(
        [
            html.H5(title, className="mt-2 mb-2 text-body-secondary"),
            dbc.Row([_chart(key) for key in keys] + ([extra] if extra else []), className="g-2"),
        ],
        className="overview-section",
    )


def layout(**_query) -> html.Div:
    """Controls, health cards, the four chart sections, timers and stores."""
    routes = dbc.Col(
        dbc.Card(
            [
                html.Div("Slowest routes (p95, last collection)", className="small fw-semibold"),
                dag.AgGrid(
                    id=ids.OVERVIEW_ROUTES,
                    columnDefs=ROUTE_COLUMNS,
                    rowData=[],
                    dashGridOptions={"domLayout": "normal", "animateRows": False},
                    style={"height": "220px"},
                ),
            ],
            body=True,
            className="h-100",
        ),
        xs=12,
        lg=6,
        className="mb-3",
    )
    return html.Div(
        [
            _controls(),
            dbc.Alert(id=ids.OVERVIEW_ERROR, color="danger", is_open=False, dismissable=True),
            dbc.Row(
                [health_card(key, title) for key, title in CARD_TITLES],
                id=ids.OVERVIEW_CARDS,
                className="row-cols-2 row-cols-md-4 row-cols-xl-7 g-2 mb-3",
            ),
            *[
                _section(
                    title, [spec.key for spec in specs], routes if title == "Application" else None
                )
                for title, specs in SECTIONS
            ],
            dcc.Interval(id=ids.OVERVIEW_REFRESH, interval=REFRESH_MS),
            dcc.Store(id=ids.OVERVIEW_LIVE),
            dcc.Store(id=ids.OVERVIEW_WINDOW),
        ],
        id=ids.OVERVIEW_PAGE,
    )
