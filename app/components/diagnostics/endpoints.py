"""Diagnostics page · Endpoints: the routes table, the chosen route's latency heatmap and
throughput, the slowest requests with links to their log lines.

Route names and paths reach the page only as grid cell values (text); the one Markdown
column holds links this module builds from trace ids of safe characters.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from app import ids
from app.components.charts import CONFIG, time_label
from app.components.downloads import download_menu
from app.components.grid import grid
from app.services.diagnostics.endpoints import BOUNDS, INF
from storage.models import LATENCY_BUCKETS

_SECONDS = {"function": "params.value == null ? '' : (params.value * 1000).toFixed(1) + ' ms'"}
_SHARE = {"function": "params.value == null ? '' : (params.value * 100).toFixed(2) + ' %'"}
_RATE = {"function": "params.value == null ? '' : params.value.toFixed(3)"}
ROUTE_COLUMNS = [
    {"field": "route", "headerName": "Route", "minWidth": 200, "flex": 3},
    {"field": "method", "headerName": "Method", "maxWidth": 100},
    {"field": "count", "headerName": "Requests", "sort": "desc"},
    {"field": "rate", "headerName": "Req/s", "valueFormatter": _RATE},
    {"field": "error_rate", "headerName": "5xx", "valueFormatter": _SHARE},
    {"field": "client_error_rate", "headerName": "4xx", "valueFormatter": _SHARE},
    *(
        {"field": q, "headerName": q, "valueFormatter": _SECONDS, "minWidth": 100}
        for q in ("p50", "p95", "p99")
    ),
]
SLOW_COLUMNS = [
    {"field": "ts", "headerName": "Time (UTC)", "minWidth": 190},
    {"field": "duration_s", "headerName": "Duration", "valueFormatter": _SECONDS, "sort": "desc"},
    {"field": "method", "headerName": "Method", "maxWidth": 100},
    {"field": "route", "headerName": "Route", "minWidth": 180},
    {"field": "path", "headerName": "Path", "minWidth": 180},
    {"field": "status", "headerName": "Status", "maxWidth": 100},
    {"field": "trace_id", "headerName": "Trace id", "minWidth": 160},
    {"field": "logs", "headerName": "Logs", "cellRenderer": "markdown", "minWidth": 110},
]
PICK_A_ROUTE = "Pick a route to see its latency over time."


def _heading(title, downloads: dict[str, str], title_id: str | None = None) -> html.Div:
    text = html.H6(title, className="mb-0 me-auto", **({"id": title_id} if title_id else {}))
    return html.Div(
        [text, download_menu(downloads)], className="d-flex align-items-center gap-2 mt-3 mb-1"
    )


def layout(admin: bool) -> html.Div:
    """The Endpoints section; it has no admin-only controls."""
    return html.Div(
        [
            _heading(
                "Routes (latency from merged histogram buckets)", ids.DIAG_ENDPOINTS_DOWNLOADS
            ),
            html.Div(id=ids.DIAG_ENDPOINTS_ERROR, className="text-danger small", role="alert"),
            grid(ids.DIAG_ENDPOINTS_GRID, ROUTE_COLUMNS, height=320, selectable=True),
            html.P(PICK_A_ROUTE, id=ids.DIAG_ENDPOINTS_TITLE, className="small mt-2 mb-1"),
            html.Div(
                dbc.Row(
                    [
                        dbc.Col(_graph(ids.DIAG_ENDPOINTS_HEATMAP), xs=12, lg=7),
                        dbc.Col(_graph(ids.DIAG_ENDPOINTS_THROUGHPUT), xs=12, lg=5),
                    ],
                    className="g-2",
                ),
                id=ids.DIAG_ENDPOINTS_DETAIL,
                style={"display": "none"},
            ),
            _heading(
                "Slowest requests", ids.DIAG_ENDPOINTS_SLOW_DOWNLOADS, ids.DIAG_ENDPOINTS_SLOW_TITLE
            ),
            grid(ids.DIAG_ENDPOINTS_SLOW_GRID, SLOW_COLUMNS, height=280, row_id=None),
        ],
        id="diag-endpoints-section",
    )


def _graph(graph_id: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=go.Figure(), config=CONFIG, style={"height": "320px"})


def bucket_label(le: float | str) -> str:
    """A latency bucket as the heatmap's y axis names it (``≤ 5 ms``, ``> 60 s``)."""
    if le == INF:
        return f"> {_duration(LATENCY_BUCKETS[-1])}"
    return f"≤ {_duration(float(le))}"


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:g} ms" if seconds < 1 else f"{seconds:g} s"


def _styled(figure: go.Figure, title: str, dark: bool, margin: dict) -> go.Figure:
    figure.update_layout(
        title={"text": title, "font": {"size": 13}},
        template="plotly_dark" if dark else "plotly_white",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        margin={"t": 30, "b": 30, **margin},
    )
    return figure


def heatmap_figure(detail: dict, dark: bool = False) -> go.Figure:
    """Requests per time bucket (x) and latency bucket (y, log-spaced bounds shown evenly),
    coloured by count; empty cells stay blank."""
    times = [p["t"] for p in detail["series"]]
    column = {t: n for n, t in enumerate(times)}
    row = {le: n for n, le in enumerate(BOUNDS)}
    z: list[list[int | None]] = [[None] * len(times) for _ in BOUNDS]
    for t, le, count in detail["heatmap"]:
        z[row[le]][column[t]] = count
    figure = go.Figure(
        go.Heatmap(
            x=[time_label(t) for t in times],
            y=[bucket_label(le) for le in BOUNDS],
            z=z,
            colorscale="YlOrRd",
            colorbar={"title": {"text": "requests"}, "thickness": 10},
            hovertemplate="%{x}<br>%{y}: %{z} requests<extra></extra>",
            hoverongaps=False,
        )
    )
    figure.update_layout(
        yaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [bucket_label(le) for le in BOUNDS],
        },
    )
    return _styled(figure, "Latency heatmap", dark, {"l": 70, "r": 10})


def throughput_figure(detail: dict, dark: bool = False) -> go.Figure:
    """Requests per second and the share answered 5xx, per time bucket."""
    x = [time_label(p["t"]) for p in detail["series"]]
    figure = go.Figure(
        [
            go.Bar(x=x, y=[p["rate"] for p in detail["series"]], name="req/s"),
            go.Scatter(
                x=x,
                y=[p["error_rate"] for p in detail["series"]],
                name="5xx share",
                yaxis="y2",
                mode="lines+markers",
                hovertemplate="%{y:.1%}",
            ),
        ]
    )
    figure.update_layout(
        legend={"orientation": "h", "y": -0.2},
        yaxis={"title": {"text": "req/s"}, "rangemode": "tozero"},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "tickformat": ".0%",
            "range": [0, 1],
            "dtick": 0.25,
            "showgrid": False,
        },
    )
    return _styled(figure, "Throughput and errors", dark, {"l": 40, "r": 40})
