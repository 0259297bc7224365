"""Diagnostics page · Checks: the health of the platform as cards, the checks grid with
its downloads, the selected check's history chart and, for admins, the check editor and
the delete confirmation. Layout and figures only."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from app import ids
from app.components.charts import CONFIG, time_label
from app.components.downloads import download_menu
from app.components.grid import grid
from app.components.settings import section
from storage.metrics import SeriesData

STATUS_CLASSES = {
    "text-success fw-semibold": "params.value === 'up'",
    "text-danger fw-semibold": "params.value === 'down'",
}
COLUMNS = [
    {"field": "name", "headerName": "Name", "minWidth": 140},
    {"field": "kind", "headerName": "Kind", "maxWidth": 90},
    {"field": "target", "headerName": "Target", "minWidth": 200, "tooltipField": "target"},
    {"field": "status", "headerName": "Status", "maxWidth": 110, "cellClassRules": STATUS_CLASSES},
    {"field": "latency_ms", "headerName": "Latency (ms)", "maxWidth": 130},
    {"field": "uptime_24h", "headerName": "24 h %", "maxWidth": 100},
    {"field": "uptime_7d", "headerName": "7 d %", "maxWidth": 100},
    {"field": "uptime_30d", "headerName": "30 d %", "maxWidth": 100},
    {"field": "cert_days", "headerName": "Cert (days)", "maxWidth": 120},
    {"field": "detail", "headerName": "Last detail", "minWidth": 220, "tooltipField": "detail"},
]
KINDS = ("http", "tcp", "dns")
GROUPS = {"http": ("http",), "host": ("tcp", "dns"), "port": ("tcp",)}
"""Each group of editor fields and the kinds it belongs to."""


def _field(name: str, label: str, kind: str = "input", **kwargs) -> html.Div:
    """One editor control (pattern-matching id by body field) with its error below."""
    control_id = {"type": ids.DIAG_CHECKS_FIELD, "field": name}
    if kind == "select":
        control = dbc.Select(id=control_id, size="sm", **kwargs)
    elif kind == "switch":
        control = dbc.Switch(id=control_id, label=label, **kwargs)
    else:
        control = dbc.Input(id=control_id, size="sm", autoComplete="off", **kwargs)
    return html.Div(
        [
            None
            if kind == "switch"
            else dbc.Label(label, html_for=control_id, className="small mb-1"),
            control,
            html.Div(
                id={"type": ids.DIAG_CHECKS_ERROR, "field": name},
                className="small text-danger check-error",
            ),
        ],
        className="mb-2",
    )


def _group(kind: str, children: list) -> html.Div:
    return html.Div(children, id={"type": ids.DIAG_CHECKS_GROUP, "kind": kind})


def editor() -> dbc.Modal:
    """The add/edit form: name, kind, the kind's own fields, interval and timeout."""
    body = [
        _field("name", "Name", maxLength=200),
        _field("kind", "Kind", "select", options=[{"label": k, "value": k} for k in KINDS]),
        _group(
            "http",
            [
                _field("url", "URL (http:// or https://)", maxLength=2000),
                _field("expect_status", "Expected status", type="number", min=100, max=599),
                _field("keyword", "Body keyword (optional)", maxLength=200),
                _field("verify_tls", "Verify the TLS certificate", "switch"),
            ],
        ),
        _group(
            "host",
            [_field("host", "Host (tcp: to connect to; dns: the name to resolve)", maxLength=253)],
        ),
        _group("port", [_field("port", "Port", type="number", min=1, max=65535)]),
        dbc.Row(
            [
                dbc.Col(_field("interval", "Interval (s)", type="number", min=5), xs=6),
                dbc.Col(_field("timeout", "Timeout (s)", type="number", min=0.1, step=0.1), xs=6),
            ],
            className="g-2",
        ),
        _field("enabled", "Enabled", "switch"),
    ]
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Add a check", id=ids.DIAG_CHECKS_EDITOR_TITLE)),
            dbc.ModalBody(body),
            dbc.ModalFooter(
                [
                    dbc.Button("Cancel", id=ids.DIAG_CHECKS_CANCEL, color="secondary", size="sm"),
                    dbc.Button("Save", id=ids.DIAG_CHECKS_SAVE, color="primary", size="sm"),
                ]
            ),
            dcc.Store(id=ids.DIAG_CHECKS_EDITING),
        ],
        id=ids.DIAG_CHECKS_EDITOR,
        is_open=False,
    )


def confirmation() -> dbc.Modal:
    """ "Delete this check?" before a delete."""
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Delete check")),
            dbc.ModalBody(id=ids.DIAG_CHECKS_CONFIRM_TEXT),
            dbc.ModalFooter(
                [
                    dbc.Button("Keep", id=ids.DIAG_CHECKS_CONFIRM_NO, color="secondary", size="sm"),
                    dbc.Button("Delete", id=ids.DIAG_CHECKS_CONFIRM_YES, color="danger", size="sm"),
                ]
            ),
        ],
        id=ids.DIAG_CHECKS_CONFIRM,
        is_open=False,
    )


def _admin_buttons() -> html.Div:
    return html.Div(
        [
            dbc.Button("Add check", id=ids.DIAG_CHECKS_ADD, color="primary", size="sm"),
            dbc.Button("Edit", id=ids.DIAG_CHECKS_EDIT, color="secondary", size="sm", outline=True),
            dbc.Button(
                "Delete", id=ids.DIAG_CHECKS_DELETE, color="danger", size="sm", outline=True
            ),
        ],
        className="d-flex flex-wrap gap-2 mt-2",
    )


def _titled(title, menu) -> html.Div:
    return html.Div([title, menu], className="d-flex align-items-center justify-content-between")


def layout(admin: bool) -> html.Div:
    """The Checks section; controls that change things only for admins."""
    table = [
        _titled(
            html.Span("Select a check to chart it.", className="small text-body-secondary"),
            download_menu({"csv": ids.DIAG_CHECKS_CSV, "json": ids.DIAG_CHECKS_JSON}),
        ),
        grid(ids.DIAG_CHECKS_GRID, COLUMNS, height=300, selectable=True),
    ]
    if admin:
        table += [_admin_buttons(), editor(), confirmation()]
    table.append(html.Div(id=ids.DIAG_CHECKS_FEEDBACK))
    chart = [
        _titled(
            html.Span("No check selected", id=ids.DIAG_CHECKS_CHART_TITLE, className="small"),
            download_menu({"csv": ids.DIAG_CHECKS_CHART_CSV, "json": ids.DIAG_CHECKS_CHART_JSON}),
        ),
        dcc.Graph(id=ids.DIAG_CHECKS_CHART, figure=history_figure([]), config=CONFIG),
    ]
    return html.Div(
        [
            dbc.Row(id=ids.DIAG_CHECKS_HEALTH, className="g-2 mb-3"),
            section("Dependency checks", table, "diag-checks-table"),
            section("Probe history", chart, "diag-checks-history"),
        ],
        id="diag-checks-section",
    )


def health_cards(components: list[dict]) -> list[dbc.Col]:
    """A card for each platform component of the dependency status (database, Redis,
    scheduler), coloured by whether it is up."""
    cards = []
    for item in components:
        if item["up"]:
            status, value = "ok", "up"
        else:
            status, value = ("down" if item["name"] == "database" else "degraded"), "down"
        latency = f" · {item['latency_ms']:.1f} ms" if item["latency_ms"] is not None else ""
        card = dbc.Card(
            dbc.CardBody(
                [
                    html.Div(
                        f"{item['name'].capitalize()} ({item['kind']})",
                        className="card-title text-body-secondary small mb-1",
                    ),
                    html.Div(value, className="fs-5 fw-semibold card-value"),
                    html.Div(
                        f"{item['detail']}{latency}",
                        className="small text-body-secondary text-truncate",
                        title=item["detail"],
                    ),
                ]
            ),
            className="h-100 border-2 health-card",
        )
        cards.append(
            dbc.Col(
                html.Div(
                    card,
                    className="h-100",
                    id=f"diag-checks-health-{item['name']}",
                    **{"data-status": status},
                ),
                xs=12,
                md=4,
            )
        )
    return cards


def history_figure(series: list[SeriesData]) -> go.Figure:
    """Probe duration (ms, left axis) and success (0..1, right axis) over time."""
    figure = go.Figure()
    for s in series:
        xs = [time_label(p[0]) for p in s.points]
        if s.name == "probe_duration_seconds":
            figure.add_scatter(
                x=xs, y=[p[1] * 1000 for p in s.points], name="duration (ms)", mode="lines"
            )
        else:
            figure.add_scatter(
                x=xs,
                y=[p[1] for p in s.points],
                name="success",
                mode="lines",
                line={"shape": "hv", "dash": "dot"},
                yaxis="y2",
            )
    figure.update_layout(
        height=260,
        margin={"l": 40, "r": 40, "t": 10, "b": 30},
        legend={"orientation": "h", "y": -0.2},
        yaxis={"title": "ms", "rangemode": "tozero"},
        yaxis2={"overlaying": "y", "side": "right", "range": [-0.05, 1.05], "showgrid": False},
        template="plotly_white",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure
