"""Pieces of the Logs page: grid columns, the level histogram, the detail panel, the
query syntax and the export menu."""

from __future__ import annotations

from datetime import UTC, datetime

import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids
from app.components.charts import TEMPLATES
from storage.logquery import LEVELS

LEVEL_COLOURS = {
    "debug": "#8c959f",
    "info": "#0d6efd",
    "warning": "#f0ad00",
    "error": "#dc3545",
    "critical": "#7b1fa2",
}

# Values are shown as text by the grid (never as HTML), so log lines cannot inject markup.
COLUMNS = [
    {
        "field": "ts",
        "headerName": "Time (UTC)",
        "width": 190,
        "valueFormatter": {"function": "pulseboardLogTime(params.value)"},
    },
    # Shown instead of the three columns above and below it in a narrow grid (a phone),
    # so the message stays in view (pulseboardFitColumns in assets/pulseboard-logs.js).
    {
        "colId": "clock",
        "field": "ts",
        "headerName": "UTC",
        "width": 96,
        "hide": True,
        "valueFormatter": {"function": "pulseboardLogClock(params.value)"},
    },
    {
        "field": "level",
        "headerName": "Level",
        "width": 100,
        "cellClass": {"function": "pulseboardLevelClass(params.value)"},
    },
    {"field": "source", "headerName": "Source", "width": 120},
    {"field": "host", "headerName": "Host", "width": 120},
    {"field": "message", "headerName": "Message", "flex": 1, "minWidth": 160},
]


def fit_columns(grid_id: str) -> dict[str, list[str]]:
    """Grid event listeners that swap the wide and narrow columns as the grid's width
    changes."""
    handler = f"pulseboardFitColumns(params, '{grid_id}')"
    return {"gridSizeChanged": [handler], "firstDataRendered": [handler]}


SYNTAX = [
    ("timeout", "the message contains the word (any case)"),
    ('"connection reset"', "the message contains the phrase"),
    ("level:error", "exactly this level"),
    ("level>=warning", "this level or worse (also >, <, <=)"),
    ("source:api  host:web-1", "where it came from"),
    ("attrs.user_id:42", "an attribute equals a value"),
    ("-healthcheck  -source:cron", "negation: leave these out"),
    ("fingerprint:3f2a9c0d1e4b5a67", "the records of one error group (Diagnostics, Errors)"),
]
"""The query language, as the syntax help lists it (terms are ANDed)."""


def syntax_help() -> dbc.Popover:
    """The query language in a popover next to the query box."""
    return dbc.Popover(
        [
            dbc.PopoverHeader("Query syntax (terms are ANDed)"),
            dbc.PopoverBody(
                html.Table(
                    [
                        html.Tr([html.Td(html.Code(example)), html.Td(meaning, className="ps-2")])
                        for example, meaning in SYNTAX
                    ],
                    className="small",
                )
            ),
        ],
        id=ids.LOGS_SYNTAX_HELP,
        target=ids.LOGS_SYNTAX,
        trigger="legacy",
        placement="bottom",
    )


def level_toggles(shown: list[str]) -> dbc.Checklist:
    """One toggle button per level; a level switched off is left out of the search. A
    level that is on is filled in its colour with a tick, one that is off is struck out
    (pulseboard.css)."""
    return dbc.Checklist(
        id=ids.LOGS_LEVELS,
        options=[{"label": level, "value": level} for level in LEVELS],
        value=shown,
        className="btn-group btn-group-sm level-toggles",
        inputClassName="btn-check",
        labelClassName="btn btn-outline-secondary level-toggle",
        labelCheckedClassName="active",
    )


def histogram_figure(data: dict, start: float, end: float, dark: bool) -> dict:
    """Stacked bars of counts per level per bucket, as a plain figure dict; each bar
    carries its bucket start so a click can narrow the range to it."""
    step = data["step"]
    by_level: dict[str, list[dict]] = {}
    for bucket in data["buckets"]:
        by_level.setdefault(bucket["level"], []).append(bucket)
    traces = [
        {
            "type": "bar",
            "x": [_bar_time(b["ts"] + step / 2) for b in rows],
            "y": [b["count"] for b in rows],
            "customdata": [b["ts"] for b in rows],
            # Widths in ms of the date axis: Plotly guesses a lone bar's width from the
            # whole range otherwise.
            "width": [step * 1000 * 0.9] * len(rows),
            "name": level,
            "marker": {"color": LEVEL_COLOURS[level]},
            "hovertemplate": f"%{{y}} {level}<extra></extra>",
        }
        for level in LEVELS
        if (rows := by_level.get(level))
    ]
    layout = {
        **_frame(dark),
        "barmode": "stack",
        "showlegend": True,
        # The legend sits in the top margin, above the bars, never over them.
        "legend": {"orientation": "h", "y": 1, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        "xaxis": {"range": [_bar_time(start), _bar_time(end)], "type": "date"},
        "yaxis": {"rangemode": "tozero"},
        "clickmode": "event",
        "dragmode": False,
        "uirevision": f"{start}-{end}",
    }
    return {"data": traces, "layout": layout}


def no_histogram(dark: bool) -> dict:
    """The chart while the query has a mistake: no bars, and why."""
    layout = {
        **_frame(dark),
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "annotations": [{"text": "No results: correct the query", "showarrow": False}],
    }
    return {"data": [], "layout": layout}


def _frame(dark: bool) -> dict:
    """Size, margins and theme of the histogram, with or without bars."""
    return {
        "height": 150,
        "margin": {"l": 40, "r": 10, "t": 26, "b": 25},
        "template": TEMPLATES[dark],
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
    }


def _bar_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def detail_panel(record: dict | None) -> list:
    """The full message and attributes of one record, as text; its source, host and
    attributes are buttons that add them to the query."""
    if record is None:
        return [html.Div("Click a row to see the whole record.", className="text-body-secondary")]
    terms = record["terms"]
    fields = [
        ("Time", html.Time(record["time"], dateTime=record["ts"], title=record["ts"])),
        ("Level", record["level"]),
        ("Source", _term_button(record["source"], terms["source"])),
        ("Host", _term_button(record["host"], terms["host"])),
        ("Id", str(record["id"])),
    ]
    return [
        html.Dl(
            [
                part
                for name, value in fields
                for part in (
                    html.Dt(name, className="col-4"),
                    html.Dd(value, className="col-8 mb-1 text-break"),
                )
            ],
            className="row small mb-2",
        ),
        html.Div("Message", className="small fw-semibold"),
        html.Pre(record["message"], className="log-detail-message"),
        html.Div("Attributes", className="small fw-semibold"),
        html.Pre(record["attrs"], className="log-detail-attrs"),
        html.Div(
            [_term_button(term, term, chip=True) for term in terms["attrs"]],
            className="d-flex flex-wrap gap-1 mb-0 log-detail-terms",
        ),
    ]


def focus_rules(record_id: int | None) -> dict[str, str]:
    """Grid row class rules that mark the record shown in the detail (found again after
    "show surrounding lines" reloads the grid)."""
    if record_id is None:
        return {}
    return {"log-row-focus": f"params.data && params.data.id === {int(record_id)}"}


def surrounding_button() -> dbc.Button:
    """Search the lines around the record shown (off until there is one)."""
    return dbc.Button(
        [html.I(className="bi bi-arrows-expand me-1"), "Show surrounding lines"],
        id=ids.LOGS_SURROUNDING,
        size="sm",
        color="outline-secondary",
        disabled=True,
        title="The lines of the same host and source, five minutes either side",
    )


def _term_button(label: str, term: str, chip: bool = False) -> html.Button:
    """A value that adds ``term`` to the query when clicked."""
    return html.Button(
        label,
        id={"type": ids.LOGS_TERM, "term": term},
        type="button",
        title=f"Add {term} to the query",
        className="btn btn-sm btn-outline-primary py-0 log-term"
        if chip
        else "btn btn-link btn-sm p-0 align-baseline text-start text-break log-term",
    )


def export_form(csrf: str) -> html.Form:
    """Export the current search: a plain form POST, so the browser streams the file to
    disk whatever its size. The format comes from the menu button pressed."""
    formats = [("csv", "CSV"), ("json", "JSON"), ("ndjson", "NDJSON")]
    return html.Form(
        [
            dcc.Input(type="hidden", name="csrf_token", value=csrf, id=ids.LOGS_EXPORT_CSRF),
            dcc.Input(type="hidden", name="q", id=ids.LOGS_EXPORT_Q),
            dcc.Input(type="hidden", name="from", id=ids.LOGS_EXPORT_FROM),
            dcc.Input(type="hidden", name="to", id=ids.LOGS_EXPORT_TO),
            dcc.Input(type="hidden", name="gzip", id=ids.LOGS_EXPORT_GZIP_FIELD, value="false"),
            dbc.DropdownMenu(
                [
                    *[
                        html.Button(
                            label,
                            type="submit",
                            name="format",
                            value=value,
                            className="dropdown-item",
                            id=f"logs-export-{value}",
                        )
                        for value, label in formats
                    ],
                    dbc.DropdownMenuItem(divider=True),
                    html.Div(
                        dbc.Switch(
                            id=ids.LOGS_EXPORT_GZIP, label="gzip", value=False, className="mb-0"
                        ),
                        className="px-3",
                    ),
                ],
                label="Export",
                id=ids.LOGS_EXPORT_MENU,
                size="sm",
                color="outline-primary",
                align_end=True,
            ),
        ],
        id=ids.LOGS_EXPORT_FORM,
        method="post",
        action="/api/v1/admin/logs/export",
        className="mb-0",
    )


def tail_controls() -> dbc.Row:
    """Pause/resume, follow, and the live tail's connection, rate and dropped badges."""
    return dbc.Row(
        [
            dbc.Col(
                dbc.Button("Pause", id=ids.LOGS_TAIL_PAUSE, size="sm", color="outline-primary"),
                width="auto",
            ),
            dbc.Col(
                dbc.Switch(id=ids.LOGS_TAIL_FOLLOW, label="Follow", value=True, className="mb-0"),
                width="auto",
            ),
            dbc.Col(
                [
                    dbc.Badge("off", id=ids.LOGS_TAIL_STATUS, color="secondary", className="me-2"),
                    dbc.Badge("0 lines/s", id=ids.LOGS_TAIL_RATE, color="info", className="me-2"),
                    dbc.Badge(
                        "0 dropped", id=ids.LOGS_TAIL_DROPPED, color="light", text_color="dark"
                    ),
                ],
                width="auto",
            ),
        ],
        className="g-2 align-items-center mb-2",
    )


def archives_list(archives: list[dict]) -> html.Div:
    """Archived days with a download link each."""
    if not archives:
        return html.Div("No archives yet.", className="text-body-secondary small")
    return html.Ul(
        [
            html.Li(
                [
                    html.A(a["name"], href=a["url"], download=a["name"]),
                    html.Span(
                        f" · {_records(a['records'])} · {a['size'] / 1024:,.0f} KiB",
                        className="text-body-secondary",
                    ),
                ]
            )
            for a in archives
        ],
        className="small mb-0",
    )


def _records(count: int | None) -> str:
    # A file without its sidecar (copied in by hand) has no known count.
    return "records not counted" if count is None else f"{count:,} records"
