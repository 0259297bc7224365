"""Overview: health cards, then live charts of the system, the application, the database
and Redis over a chosen or zoomed time range."""

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids
from app.components.cards import health_card
from app.components.charts import CONFIG, chart_id, download_id
from app.components.downloads import FORMATS, download_menu
from app.components.time_range import custom_range, preset_picker
from app.runtime import runtime
from app.services.overview import (
    CARD_TITLES,
    ROUTE_FIELDS,
    SECTIONS,
    ChartSpec,
    Section,
    available_charts,
)
from app.services.timerange import DEFAULT_RANGE, RANGES

dash.register_page(__name__, path="/", name="Overview", title="Pulseboard · Overview", order=0)

REFRESH_MS = 30_000
ROUTE_HEADERS = {"route": "Route", "method": "Method", "rate": "req/s"}
"""Header of each column of ``ROUTE_FIELDS``; latencies are headed by their quantile."""
ROUTE_MIN_WIDTHS = {"route": 120, "method": 92, "p95": 90}
ROUTE_COLUMNS = [
    {
        "field": field,
        "headerName": ROUTE_HEADERS.get(field, field),
        # Room for the header and its sort arrow: narrower columns cut "p95" to "p…".
        "minWidth": ROUTE_MIN_WIDTHS.get(field, 70),
        "flex": 3 if field == "route" else 1,
        **({"tooltipField": "route"} if field == "route" else {}),
        **({"sort": "desc"} if field == "p95" else {}),
    }
    for field in ROUTE_FIELDS
]


def _chart(spec: ChartSpec, shown: bool) -> dbc.Col:
    return dbc.Col(
        dbc.Card(
            [
                html.Div(
                    [
                        html.Div(spec.title, className="overview-chart-title"),
                        download_menu({fmt: download_id(spec.key, fmt) for fmt in FORMATS}),
                    ],
                    className="d-flex align-items-center justify-content-between",
                ),
                dcc.Graph(id=chart_id(spec.key), config=CONFIG, className="overview-chart"),
            ],
            body=True,
            className="h-100",
        ),
        xs=12,
        lg=6,
        className="mb-3",
        style=None if shown else {"display": "none"},
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


def _routes() -> dbc.Col:
    return dbc.Col(
        dbc.Card(
            [
                html.Div(
                    [
                        html.Div(
                            "Slowest routes (latency in ms, last collection)",
                            className="fw-semibold",
                        ),
                        download_menu(ids.OVERVIEW_ROUTES_EXPORT, links=False),
                    ],
                    className="d-flex align-items-center justify-content-between small",
                ),
                dbc.Switch(
                    id=ids.OVERVIEW_ROUTES_CONSOLE,
                    label="Include the console's own routes (/_dash-…, /assets/…)",
                    value=False,
                    className="small mb-1",
                ),
                dag.AgGrid(
                    id=ids.OVERVIEW_ROUTES,
                    columnDefs=ROUTE_COLUMNS,
                    rowData=[],
                    dashGridOptions={
                        "domLayout": "autoHeight",
                        "animateRows": False,
                        "rowHeight": 30,
                        "tooltipShowDelay": 300,
                    },
                    className="overview-routes",
                ),
                dcc.Download(id=ids.OVERVIEW_ROUTES_DOWNLOAD),
            ],
            body=True,
            className="h-100",
        ),
        xs=12,
        lg=6,
        className="mb-3",
    )


def _section(section: Section, available: frozenset[str]) -> html.Div:
    missing = any(spec.key not in available for spec in section.charts)
    extra = [_routes()] if section.title == "Application" else []
    links = [
        dcc.Link(
            [label, html.I(className="bi bi-arrow-right-short")],
            href=f"/diagnostics?tab={tab}",
            className="small overview-diagnose",
        )
        for label, tab in section.diagnose
    ]
    return html.Div(
        [
            html.Div(
                [html.H5(section.title, className="mb-0 me-2 text-body-secondary"), *links],
                className="d-flex flex-wrap align-items-baseline gap-3 mt-2 mb-2",
            ),
            *(
                [html.P(section.enable, className="overview-enable small text-body-secondary")]
                if missing and section.enable
                else []
            ),
            dbc.Row(
                [_chart(spec, spec.key in available) for spec in section.charts] + extra,
                className="g-2",
            ),
        ],
        className="overview-section",
        id=f"overview-section-{section.title.lower()}",
    )


def layout(**_query) -> html.Div:
    """Controls, health cards, the chart sections (charts that can never get data hidden,
    with how to enable them), timers and stores."""
    available = available_charts(runtime())
    return html.Div(
        [
            _controls(),
            dbc.Alert(id=ids.OVERVIEW_ERROR, color="danger", is_open=False, dismissable=True),
            dbc.Row(
                [health_card(key, title) for key, title in CARD_TITLES],
                id=ids.OVERVIEW_CARDS,
                className="row-cols-2 row-cols-md-4 row-cols-xl-7 g-2 mb-3",
            ),
            *[_section(section, available) for section in SECTIONS],
            dcc.Interval(id=ids.OVERVIEW_REFRESH, interval=REFRESH_MS),
            dcc.Store(id=ids.OVERVIEW_LIVE),
            dcc.Store(id=ids.OVERVIEW_CONNECTION),
            dcc.Store(id=ids.OVERVIEW_WINDOW),
            dcc.Store(id=ids.OVERVIEW_FIGURES),
        ],
        id=ids.OVERVIEW_PAGE,
    )
