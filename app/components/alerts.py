"""Pieces of the Alerts page: the open alerts with their actions and detail, history,
rules and the rule editor with its preview, channels with the delivery log, silences.

Text from the database reaches the page only as component children or grid cell values,
both rendered as text; nothing here is ever interpreted as HTML.
"""

from __future__ import annotations

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids
from app.components.downloads import download_menu
from app.components.grid import grid
from app.components.settings import field, section
from app.services.alert_view import (
    ANY,
    HISTORY_RANGES,
    HISTORY_STATES,
    KINDS,
    SEVERITIES,
    WEEKDAYS,
)

CHANNEL_KINDS = (
    "webhook",
    "slack",
    "dingtalk",
    "feishu",
    "wecom",
    "email",
    "alertmanager",
    "apprise",
)
SEVERITY_BADGES = {"critical": "danger", "warning": "warning"}
SEVERITY_CLASS = {
    "function": "'alert-severity alert-severity-' + (params.value || 'none')",
}
OPEN_COLUMNS = [
    {"field": "severity", "headerName": "Severity", "cellClass": SEVERITY_CLASS, "maxWidth": 110},
    {"field": "rule", "headerName": "Rule", "minWidth": 140},
    {"field": "labels", "headerName": "Labels", "minWidth": 140},
    {"field": "since", "headerName": "Since", "tooltipField": "since_exact", "maxWidth": 120},
    {"field": "value", "headerName": "Value", "maxWidth": 100},
    {"field": "state", "headerName": "State", "maxWidth": 110},
    {"field": "ack", "headerName": "Acknowledged", "minWidth": 140},
    {"field": "silenced", "headerName": "Silenced", "maxWidth": 100},
    {"field": "flapping", "headerName": "Flapping", "maxWidth": 100},
]
HISTORY_COLUMNS = [
    *OPEN_COLUMNS[:4],
    {"field": "resolved", "headerName": "Resolved", "minWidth": 160},
    *OPEN_COLUMNS[4:7],
]
DETAIL_COLUMNS = [
    {"field": "ts", "headerName": "Time (UTC)", "minWidth": 160},
    {"field": "event", "headerName": "Event"},
    {"field": "change", "headerName": "Change"},
    {"field": "severity", "headerName": "Severity"},
    {"field": "value", "headerName": "Value"},
    {"field": "by", "headerName": "By"},
    {"field": "reason", "headerName": "Reason", "minWidth": 160},
]
RULE_COLUMNS = [
    {"field": "name", "headerName": "Name", "minWidth": 160},
    {"field": "kind", "headerName": "Kind", "maxWidth": 90},
    {"field": "target", "headerName": "Metric / query", "minWidth": 160},
    {"field": "condition", "headerName": "Condition", "minWidth": 180},
    {"field": "enabled", "headerName": "Enabled", "maxWidth": 100},
    {"field": "state", "headerName": "State", "minWidth": 120},
    {"field": "evaluated", "headerName": "Evaluated", "minWidth": 160},
]
CHANNEL_COLUMNS = [
    {"field": "name", "headerName": "Name"},
    {"field": "kind", "headerName": "Kind", "maxWidth": 120},
    {"field": "enabled", "headerName": "Enabled", "maxWidth": 100},
    {"field": "config", "headerName": "Config (masked)", "minWidth": 220},
]
DELIVERY_COLUMNS = [
    {"field": "created", "headerName": "Queued (UTC)", "minWidth": 160},
    {"field": "channel", "headerName": "Channel"},
    {"field": "event", "headerName": "Event"},
    {"field": "status", "headerName": "Status"},
    {"field": "attempts", "headerName": "Attempts", "maxWidth": 100},
    {"field": "code", "headerName": "Code", "maxWidth": 90},
    {"field": "answer", "headerName": "Answer", "minWidth": 180},
    {"field": "sent", "headerName": "Sent (UTC)", "minWidth": 160},
]
SILENCE_COLUMNS = [
    {"field": "status", "headerName": "Status", "maxWidth": 100},
    {"field": "matchers", "headerName": "Matchers", "minWidth": 180},
    {"field": "starts", "headerName": "Starts (UTC)", "minWidth": 160},
    {"field": "ends", "headerName": "Ends (UTC)", "minWidth": 160},
    {"field": "weekly", "headerName": "Weekly window"},
    {"field": "author", "headerName": "By"},
    {"field": "comment", "headerName": "Comment", "minWidth": 160},
]


def _options(values, blank: str | None = None) -> list[dict]:
    options = [{"label": blank, "value": ANY}] if blank is not None else []
    return options + [{"label": v, "value": v} for v in values]


def _button(label: str, button_id: str, color: str = "secondary", **kwargs) -> dbc.Button:
    return dbc.Button(label, id=button_id, size="sm", color=color, className="me-2 mb-2", **kwargs)


def _input(input_id: str, **kwargs) -> dbc.Input:
    return dbc.Input(id=input_id, size="sm", autoComplete="off", **kwargs)


def open_tab() -> html.Div:
    """The open alerts, the most severe first."""
    return html.Div(
        grid(ids.ALERTS_OPEN_GRID, OPEN_COLUMNS, height=300, selectable=True), className="pt-3"
    )


def alert_panel() -> html.Div:
    """The actions on the alert selected in the open alerts or history grid, and its detail."""
    actions = dbc.Row(
        [
            dbc.Col(
                field(
                    "Comment",
                    _input(ids.ALERTS_ACTION_COMMENT, maxLength=1000, placeholder="why, what next"),
                ),
                xs=12,
                md=5,
            ),
            dbc.Col(
                field(
                    "Acknowledge until (UTC, optional)",
                    _input(ids.ALERTS_ACTION_UNTIL, type="datetime-local"),
                ),
                xs=12,
                md=3,
            ),
        ],
        className="g-2 align-items-end",
    )
    buttons = html.Div(
        [
            _button("Acknowledge", ids.ALERTS_ACK, "primary", disabled=True),
            _button("Unacknowledge", ids.ALERTS_UNACK, disabled=True),
            _button("Comment", ids.ALERTS_COMMENT, disabled=True),
            _button("Close", ids.ALERTS_CLOSE, disabled=True),
            _button("Silence 1 h", ids.ALERTS_SILENCE_HOUR, "warning", disabled=True),
        ],
        className="mt-2",
    )
    return html.Div(
        [
            actions,
            buttons,
            html.Div(id=ids.ALERTS_ACTION_FEEDBACK),
            html.Div(detail(None), id=ids.ALERTS_DETAIL, className="mt-2"),
        ],
        id=ids.ALERTS_SELECTED_PANEL,
        className="mt-3",
    )


def detail(alert: dict | None, history: list[dict] = (), notifications: list[dict] = ()):
    """The selected alert: what it is, its history and the notifications it caused."""
    if alert is None:
        return html.P("Select an alert to see its history.", className="text-body-secondary small")
    return dbc.Card(
        [
            dbc.CardHeader(
                [
                    dbc.Badge(
                        alert["severity"] or alert["state"],
                        color=SEVERITY_BADGES.get(alert["severity"], "secondary"),
                        className="me-2",
                    ),
                    html.Strong(alert["rule"]),
                    html.Span(f" {alert['labels']}", className="text-body-secondary small"),
                ]
            ),
            dbc.CardBody(
                [
                    html.H6("History", className="small text-body-secondary"),
                    _static_grid(ids.ALERTS_DETAIL_HISTORY, DETAIL_COLUMNS, history, 200),
                    html.H6("Notifications", className="small text-body-secondary mt-3"),
                    _static_grid(
                        ids.ALERTS_DETAIL_NOTIFICATIONS, DELIVERY_COLUMNS, notifications, 160
                    ),
                ]
            ),
        ]
    )


def _static_grid(grid_id: str, columns: list[dict], rows, height: int) -> dag.AgGrid:
    table = grid(grid_id, columns, height=height)
    table.rowData = list(rows)
    return table


def history_tab() -> html.Div:
    """Every alert in a time range with filters, and the download of what they select."""
    filters = dbc.Row(
        [
            dbc.Col(
                dbc.Select(
                    id=ids.ALERTS_HISTORY_STATE,
                    options=_options(HISTORY_STATES),
                    value="all",
                    size="sm",
                ),
                xs=6,
                md=2,
            ),
            dbc.Col(
                dbc.Select(
                    id=ids.ALERTS_HISTORY_SEVERITY,
                    options=_options(SEVERITIES, "any severity"),
                    value=ANY,
                    size="sm",
                ),
                xs=6,
                md=2,
            ),
            dbc.Col(
                dbc.Select(
                    id=ids.ALERTS_HISTORY_RULE,
                    options=_options((), "any rule"),
                    value=ANY,
                    size="sm",
                ),
                xs=6,
                md=3,
            ),
            dbc.Col(
                dbc.Select(
                    id=ids.ALERTS_HISTORY_RANGE,
                    options=[{"label": f"last {k}", "value": k} for k in HISTORY_RANGES],
                    value="7d",
                    size="sm",
                ),
                xs=4,
                md=2,
            ),
            dbc.Col(download_menu(ids.ALERTS_HISTORY_DOWNLOADS), width="auto", className="ms-auto"),
        ],
        className="g-2 align-items-center mb-2",
    )
    return html.Div(
        [filters, grid(ids.ALERTS_HISTORY_GRID, HISTORY_COLUMNS, height=400)], className="pt-3"
    )


def rules_tab(admin: bool) -> html.Div:
    """The rules with a summary of their alerts; admins create, edit and delete."""
    buttons = []
    if admin:
        buttons = [
            _button("New rule", ids.ALERTS_RULE_NEW, "primary"),
            _button("Edit", ids.ALERTS_RULE_EDIT),
            _button("Delete", ids.ALERTS_RULE_DELETE, "danger", outline=True),
        ]
    return html.Div(
        [
            html.Div(buttons),
            grid(ids.ALERTS_RULES_GRID, RULE_COLUMNS, height=300, selectable=True),
            html.Div(id=ids.ALERTS_RULES_FEEDBACK),
        ],
        className="pt-3",
    )


def _rule_field(name: str, label: str, control_type: str = "input", **kwargs) -> html.Div:
    """One editor input (pattern-matching id by field) with its error text below it."""
    control_id = {"type": ids.ALERTS_RULE_FIELD, "field": name}
    if control_type == "select":
        control = dbc.Select(id=control_id, size="sm", **kwargs)
    elif control_type == "multi":
        control = dcc.Dropdown(id=control_id, multi=True, **kwargs)
    elif control_type == "switch":
        control = dbc.Switch(id=control_id, label=label, **kwargs)
        label = ""
    else:
        control = dbc.Input(id=control_id, size="sm", autoComplete="off", **kwargs)
    return html.Div(
        [
            dbc.Label(label, className="small mb-1") if label else None,
            control,
            html.Div(
                id={"type": ids.ALERTS_RULE_ERROR, "field": name},
                className="small text-danger rule-error",
            ),
        ],
        className="mb-2",
    )


def _col(child, md: int = 3) -> dbc.Col:
    return dbc.Col(child, xs=12, sm=6, md=md)


def editor() -> dbc.Card:
    """The rule editor: every field of a rule body, the preview and save (hidden until
    "New rule" or "Edit")."""
    common = dbc.Row(
        [
            _col(_rule_field("name", "Name", maxLength=200), 4),
            _col(_rule_field("kind", "Kind", "select", options=_options(KINDS)), 2),
            _col(_rule_field("enabled", "Enabled", "switch"), 2),
        ],
        className="g-2",
    )
    metric = dbc.Row(
        [
            _col(_rule_field("metric", "Metric", list=ids.ALERTS_METRIC_NAMES, maxLength=200), 4),
            _col(
                _rule_field("matchers", "Matchers (label=value, …)", placeholder="mountpoint=/"), 4
            ),
            _col(
                _rule_field(
                    "reduce",
                    "Reduce",
                    "select",
                    options=_options(("avg", "min", "max", "last", "sum", "rate", "p95", "p99")),
                ),
                2,
            ),
            html.Datalist(id=ids.ALERTS_METRIC_NAMES),
        ],
        className="g-2",
        id=ids.ALERTS_EDITOR_METRIC,
    )
    log = dbc.Row(
        [
            _col(_rule_field("query", "Query", placeholder="level>=error source:api"), 6),
            _col(
                _rule_field(
                    "aggregate", "Aggregate", "select", options=_options(("count", "rate", "ratio"))
                ),
                2,
            ),
        ],
        className="g-2",
        id=ids.ALERTS_EDITOR_LOG,
    )
    condition = dbc.Row(
        [
            _col(_rule_field("group_by", "Group by", placeholder="host, mountpoint"), 3),
            _col(_rule_field("window", "Window (s)", type="number", min=1), 2),
            _col(
                _rule_field("op", "Comparison", "select", options=_options((">", ">=", "<", "<="))),
                2,
            ),
            _col(_rule_field("warning", "Warning", type="number"), 1),
            _col(_rule_field("warning_clear", "Clear", type="number"), 1),
            _col(_rule_field("critical", "Critical", type="number"), 1),
            _col(_rule_field("critical_clear", "Clear", type="number"), 1),
        ],
        className="g-2",
    )
    timing = dbc.Row(
        [
            _col(_rule_field("for", "For (s)", type="number", min=0), 2),
            _col(_rule_field("keep_firing_for", "Keep firing for (s)", type="number", min=0), 2),
            _col(_rule_field("interval", "Interval (s)", type="number", min=1), 2),
            _col(_rule_field("repeat_interval", "Repeat every (s)", type="number", min=60), 2),
            _col(
                _rule_field(
                    "no_data",
                    "No data",
                    "select",
                    options=_options(("nodata", "alerting", "ok", "keep_last")),
                ),
                2,
            ),
            _col(
                _rule_field(
                    "on_error",
                    "On error",
                    "select",
                    options=_options(("error", "alerting", "keep_last")),
                ),
                2,
            ),
        ],
        className="g-2",
    )
    notify = dbc.Row(
        [
            _col(_rule_field("channels", "Channels", "multi", options=[]), 4),
            _col(_rule_field("labels", "Labels (label=value, …)", placeholder="team=ops"), 4),
            _col(_rule_field("runbook_url", "Runbook URL", maxLength=4000), 4),
            _col(_rule_field("summary", "Summary", maxLength=4000), 6),
            _col(_rule_field("description", "Description", maxLength=4000), 6),
        ],
        className="g-2",
    )
    preview = html.Div(
        [
            html.Div(id=ids.ALERTS_PREVIEW_SUMMARY, className="small text-body-secondary"),
            dcc.Graph(
                id=ids.ALERTS_PREVIEW_GRAPH,
                figure={"data": [], "layout": {"margin": {"l": 40, "r": 10, "t": 10, "b": 30}}},
                config={"displayModeBar": False, "responsive": True},
                style={"height": "260px"},
            ),
        ],
        className="mt-2",
    )
    return dbc.Card(
        [
            dbc.CardHeader(html.H5("Rule", className="mb-0", id=ids.ALERTS_EDITOR_TITLE)),
            dbc.CardBody(
                [
                    common,
                    metric,
                    log,
                    condition,
                    timing,
                    notify,
                    html.Div(
                        [
                            _button("Preview last 24 h", ids.ALERTS_RULE_PREVIEW),
                            _button("Save", ids.ALERTS_RULE_SAVE, "primary"),
                            _button("Cancel", ids.ALERTS_RULE_CANCEL, outline=True),
                        ]
                    ),
                    html.Div(id=ids.ALERTS_EDITOR_FEEDBACK),
                    preview,
                    dcc.Store(id=ids.ALERTS_EDITOR_ID),
                ]
            ),
        ],
        id=ids.ALERTS_EDITOR,
        className="mt-3",
        style={"display": "none"},
    )


def channels_tab(admin: bool) -> html.Div:
    """Channels (masked) with Test; admins create, edit and delete; the delivery log."""
    body = [grid(ids.ALERTS_CHANNELS_GRID, CHANNEL_COLUMNS, height=220, selectable=admin)]
    if admin:
        body += [
            dbc.Row(
                [
                    _col(field("Name", _input(ids.ALERTS_CHANNEL_NAME, maxLength=200)), 3),
                    _col(
                        field(
                            "Kind",
                            dbc.Select(
                                id=ids.ALERTS_CHANNEL_KIND,
                                options=_options(CHANNEL_KINDS),
                                value="webhook",
                                size="sm",
                            ),
                        ),
                        2,
                    ),
                    dbc.Col(
                        field("URL", _input(ids.ALERTS_CHANNEL_URL, maxLength=2000)),
                        xs=12,
                        md=4,
                        id=ids.ALERTS_CHANNEL_URL_FIELD,
                    ),
                    _col(
                        field(
                            "Secret (optional)",
                            _input(ids.ALERTS_CHANNEL_SECRET, type="password", maxLength=500),
                        ),
                        3,
                    ),
                    dbc.Col(
                        field(
                            "E-mail recipients",
                            _input(ids.ALERTS_CHANNEL_TO, placeholder="ops@example.com, …"),
                        ),
                        xs=12,
                        md=4,
                        id=ids.ALERTS_CHANNEL_TO_FIELD,
                    ),
                    _col(
                        dbc.Switch(id=ids.ALERTS_CHANNEL_ENABLED, label="Enabled", value=True),
                        2,
                    ),
                ],
                className="g-2 mt-2 align-items-end",
            ),
            html.Div(
                [
                    _button("Save channel", ids.ALERTS_CHANNEL_SAVE, "primary"),
                    _button("New", ids.ALERTS_CHANNEL_NEW, outline=True),
                    _button("Delete", ids.ALERTS_CHANNEL_DELETE, "danger", outline=True),
                    _button("Test", ids.ALERTS_CHANNEL_TEST),
                ],
                className="mt-2",
            ),
        ]
    body += [
        html.Div(id=ids.ALERTS_CHANNEL_FEEDBACK),
        html.Div(id=ids.ALERTS_CHANNEL_ANSWER),
    ]
    return html.Div(
        [
            section("Channels", body, "alerts-section-channels"),
            section(
                "Delivery log",
                [grid(ids.ALERTS_DELIVERIES_GRID, DELIVERY_COLUMNS, height=300)],
                "alerts-section-deliveries",
            ),
        ],
        className="pt-3",
    )


def metric_options(names: list[str]) -> list[html.Option]:
    """The metric box's suggestions (any other name may be typed)."""
    return [html.Option(value=name) for name in names]


def channel_answer(answer: dict) -> dbc.Alert:
    """The receiver's answer to a test notification."""
    return dbc.Alert(
        [
            html.Strong("Delivered" if answer.get("ok") else "Not delivered"),
            html.Span(f" (status {answer.get('status')})"),
            html.Pre(str(answer.get("answer") or ""), className="mb-0 mt-1 small text-wrap"),
        ],
        color="success" if answer.get("ok") else "danger",
        className="mt-2 mb-0 py-2",
        id=ids.ALERTS_CHANNEL_ANSWER_BOX,
    )


def silences_tab() -> html.Div:
    """Silences (active first), the form to create one with an optional weekly window."""
    form = dbc.Row(
        [
            _col(
                field(
                    "Matchers (label=value, …)",
                    _input(ids.ALERTS_SILENCE_MATCHERS, placeholder="alertname=Disk almost full"),
                ),
                4,
            ),
            _col(
                field("Starts (UTC)", _input(ids.ALERTS_SILENCE_STARTS, type="datetime-local")), 2
            ),
            _col(field("Ends (UTC)", _input(ids.ALERTS_SILENCE_ENDS, type="datetime-local")), 2),
            _col(field("Comment", _input(ids.ALERTS_SILENCE_COMMENT, maxLength=1000)), 4),
            _col(
                field(
                    "Weekly window (optional)",
                    dcc.Dropdown(
                        id=ids.ALERTS_SILENCE_DAYS,
                        options=[{"label": d, "value": i} for i, d in enumerate(WEEKDAYS)],
                        multi=True,
                        placeholder="days",
                    ),
                ),
                4,
            ),
            _col(field("From (HH:MM UTC)", _input(ids.ALERTS_SILENCE_FROM, type="time")), 2),
            _col(field("To (HH:MM UTC)", _input(ids.ALERTS_SILENCE_TO, type="time")), 2),
        ],
        className="g-2 mt-2 align-items-end",
    )
    return html.Div(
        [
            grid(ids.ALERTS_SILENCES_GRID, SILENCE_COLUMNS, height=260, selectable=True),
            form,
            html.Div(
                [
                    _button("Create silence", ids.ALERTS_SILENCE_CREATE, "primary"),
                    _button("Expire selected", ids.ALERTS_SILENCE_EXPIRE, "danger", outline=True),
                ],
                className="mt-2",
            ),
            html.Div(id=ids.ALERTS_SILENCE_FEEDBACK),
        ],
        className="pt-3",
    )
