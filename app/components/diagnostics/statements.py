"""Diagnostics page · Statements: the ranking of pg_stat_statements over the page's range,
a statement's history chart and the EXPLAIN box; what to change when there is nothing to
read."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html
from plotly.subplots import make_subplots

from app import ids
from app.components.charts import CONFIG, time_label
from app.components.downloads import download_menu
from app.components.grid import grid

ALL_DATABASES = "*"
"""The database picker's value for every watched database (dbc.Select keeps "" for
its placeholder, which shows blank)."""

ORDER_LABELS = {
    "total_time": "Total time",
    "mean_time": "Mean time",
    "calls": "Calls",
    "rows": "Rows",
    "io": "Blocks read",
}
SHARE_BAR = (
    "({background: 'linear-gradient(90deg, rgba(13,110,253,0.35) ' + (params.value * 100) + "
    "'%, transparent ' + (params.value * 100) + '%)'})"
)
"""Cell style of the share column: a bar as wide as the statement's share of the time."""
COLUMNS = [
    {
        "field": "query",
        "headerName": "Statement",
        "flex": 4,
        "minWidth": 220,
        "tooltipField": "query",
    },
    {
        "field": "share_of_total",
        "headerName": "Share",
        "valueFormatter": {"function": "(params.value * 100).toFixed(1) + ' %'"},
        "cellStyle": {"function": SHARE_BAR},
    },
    {
        "field": "total_time_ms",
        "headerName": "Total ms",
        "valueFormatter": {"function": "params.value.toFixed(1)"},
    },
    {
        "field": "mean_time_ms",
        "headerName": "Mean ms",
        "valueFormatter": {"function": "params.value.toFixed(2)"},
    },
    {"field": "calls", "headerName": "Calls"},
    {"field": "rows", "headerName": "Rows"},
    {"field": "shared_blks_read", "headerName": "Blocks read"},
    {"field": "shared_blks_hit", "headerName": "Blocks hit"},
    {"field": "database", "headerName": "Database", "minWidth": 160},
]


def _controls() -> html.Div:
    return html.Div(
        [
            dbc.Select(
                id=ids.DIAG_STATEMENTS_DATABASE,
                options=[{"label": "All databases", "value": ALL_DATABASES}],
                value=ALL_DATABASES,
                size="sm",
                style={"maxWidth": "18rem"},
            ),
            dbc.Select(
                id=ids.DIAG_STATEMENTS_ORDER,
                options=[{"label": f"By {v.lower()}", "value": k} for k, v in ORDER_LABELS.items()],
                value="total_time",
                size="sm",
                style={"maxWidth": "12rem"},
            ),
            html.Div(className="me-auto"),
            download_menu(ids.DIAG_STATEMENTS_DOWNLOADS),
        ],
        className="d-flex flex-wrap align-items-center gap-2 mb-2",
    )


def _explain_box(admin: bool) -> html.Div:
    analyze = dbc.Checkbox(
        id=ids.DIAG_STATEMENTS_ANALYZE,
        label="ANALYZE (runs the statement, rolled back)",
        value=False,
        disabled=not admin,
        # Built for everyone so the callback always finds it; shown to admins only.
        style=None if admin else {"display": "none"},
    )
    return html.Div(
        [
            html.H6("EXPLAIN", className="mt-3"),
            dbc.Textarea(
                id=ids.DIAG_STATEMENTS_QUERY,
                rows=4,
                className="font-monospace small",
                placeholder="One SELECT, WITH, INSERT, UPDATE or DELETE statement",
            ),
            html.Div(
                [
                    dbc.Button("Explain", id=ids.DIAG_STATEMENTS_EXPLAIN, size="sm", n_clicks=0),
                    analyze,
                ],
                className="d-flex flex-wrap align-items-center gap-3 my-2",
            ),
            html.Div(
                id=ids.DIAG_STATEMENTS_PLAN_ERROR, className="text-danger small", role="alert"
            ),
            html.Pre(id=ids.DIAG_STATEMENTS_PLAN, className="small bg-body-tertiary p-2 mb-0"),
        ]
    )


def layout(admin: bool) -> html.Div:
    """The Statements section; the ANALYZE checkbox only for admins."""
    return html.Div(
        [
            _controls(),
            html.Div(id=ids.DIAG_STATEMENTS_NOTICE),
            grid(
                ids.DIAG_STATEMENTS_GRID,
                COLUMNS,
                height=360,
                selectable=True,
                row_id="params.data.database + '/' + params.data.queryid",
            ),
            html.Div(
                [
                    html.H6(
                        id=ids.DIAG_STATEMENTS_TITLE,
                        className="mt-3 text-break font-monospace small",
                    ),
                    dcc.Graph(
                        id=ids.DIAG_STATEMENTS_CHART,
                        figure=go.Figure(),
                        config=CONFIG,
                        style={"height": "280px"},
                    ),
                ],
                id=ids.DIAG_STATEMENTS_DETAIL,
                style={"display": "none"},
            ),
            _explain_box(admin),
        ],
        id=ids.DIAG_STATEMENTS_SECTION,
    )


def notice(reason: str | None) -> dbc.Alert | None:
    """What to change before statements can be shown, or nothing."""
    if reason is None:
        return None
    return dbc.Alert(
        [html.Strong("Statements are not available. "), reason],
        color="warning",
        className="small",
    )


def history_figure(detail: dict, dark: bool) -> go.Figure:
    """Calls (bars) and mean time (line) of a statement over time."""
    points = detail["history"]
    xs = [time_label(p["ts"]) for p in points]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(
            x=xs,
            y=[p["calls"] for p in points],
            name="calls",
            opacity=0.6,
            width=detail["step"] * 1000 * 0.9,  # a bucket wide (date axes count in ms)
            offset=0,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=xs, y=[p["mean_time_ms"] for p in points], name="mean ms", mode="lines+markers"
        ),
        secondary_y=True,
    )
    fig.update_xaxes(range=[time_label(detail["from"]), time_label(detail["to"])])
    fig.update_yaxes(title_text="calls", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text="mean ms", secondary_y=True, rangemode="tozero")
    fig.update_layout(
        template="plotly_dark" if dark else "plotly_white",
        margin={"l": 48, "r": 48, "t": 12, "b": 32},
        height=260,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0},
        bargap=0.1,
    )
    return fig
