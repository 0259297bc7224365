"""Diagnostics page · Errors: layout only."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids
from app.components.downloads import download_menu
from app.components.grid import grid
from app.components.logs import histogram_figure

COLUMNS = [
    {"field": "title", "headerName": "Error", "minWidth": 220, "flex": 3, "tooltipField": "title"},
    {
        "field": "badges",
        "headerName": "",
        "maxWidth": 130,
        "cellClassRules": {
            "text-danger fw-semibold": "params.value && params.value.includes('Regressed')",
            "text-warning-emphasis fw-semibold": "params.value === 'New'",
        },
    },
    {"field": "count", "headerName": "Count", "maxWidth": 100, "sort": "desc"},
    {"field": "trend", "headerName": "Trend", "minWidth": 130, "cellClass": "font-monospace"},
    {"field": "total", "headerName": "Total", "maxWidth": 100},
    {"field": "hosts", "headerName": "Hosts", "minWidth": 120},
    {"field": "sources", "headerName": "Sources", "minWidth": 110},
    {"field": "last_seen", "headerName": "Last seen (UTC)", "minWidth": 170},
]


def layout(admin: bool) -> html.Div:
    """The Errors section: the groups of the range in a grid, a chosen group's sample,
    counts and link to its records."""
    controls = html.Div(
        [
            dbc.Switch(
                id=ids.DIAG_ERRORS_NEW_ONLY, label="New only", value=False, className="mb-0"
            ),
            html.Div(id=ids.DIAG_ERRORS_SUMMARY, className="small text-body-secondary me-auto"),
            download_menu(ids.DIAG_ERRORS_DOWNLOADS),
        ],
        className="d-flex flex-wrap align-items-center gap-3 mb-2",
    )
    groups = grid(ids.DIAG_ERRORS_GRID, COLUMNS, height=420, selectable=True)
    return html.Div(
        [
            # ?fingerprint= opens one group (the Timeline links to it so).
            dcc.Location(id=ids.DIAG_ERRORS_LOCATION, refresh=False),
            controls,
            dbc.Row(
                [
                    dbc.Col(groups, xs=12, xl=7),
                    dbc.Col(
                        dbc.Card(
                            [
                                dbc.CardHeader("Group"),
                                dbc.CardBody(detail(None), id=ids.DIAG_ERRORS_DETAIL),
                            ]
                        ),
                        xs=12,
                        xl=5,
                    ),
                ],
                className="g-3",
            ),
        ],
        id="diag-errors-section",
    )


def detail(group: dict | None, dark: bool = False) -> list:
    """A group's title, flags, counts over the range, sample and the link to its records
    (text only: log data is never HTML)."""
    if group is None:
        return [html.P("Select a group to see its sample and counts.", className="text-muted")]
    badges = [
        dbc.Badge(name, color=color, className="me-1")
        for name, color, on in (
            ("New", "warning", group["new"]),
            ("Regressed", "danger", group["regressed"]),
        )
        if on
    ]
    return [
        html.H6([*badges, group["title"]], className="text-break"),
        html.Div(
            f"{group['count']} in range, {group['total']} ever · first {group['first_seen']} · "
            f"last {group['last_seen']} · {group['level']} from {', '.join(group['sources'])}"
            f" on {', '.join(group['hosts'])}",
            className="small text-body-secondary mb-2",
        ),
        dcc.Graph(
            figure=counts_figure(group, dark),
            config={"displayModeBar": False, "responsive": True},
            style={"height": "150px"},
        ),
        html.Pre(group["sample"], className="diag-errors-sample small border rounded p-2"),
        html.Div(
            [
                html.A(
                    "Open in Logs",
                    href=group["logs_url"],
                    className="btn btn-sm btn-primary",
                    id="diag-errors-open-logs",
                ),
                html.Code(group["fingerprint"], className="small ms-2"),
            ]
        ),
    ]


def counts_figure(group: dict, dark: bool) -> dict:
    """The group's records per bucket over the range, as the Logs page's histogram."""
    series = group["series"]
    step = group["step"]
    buckets = [{**point, "level": group["level"]} for point in series if point["count"]]
    start = series[0]["ts"] if series else 0.0
    end = series[-1]["ts"] + step if series else 1.0
    figure = histogram_figure({"step": step, "buckets": buckets}, start, end, dark)
    figure["layout"].update(showlegend=False, clickmode="none")
    return figure
