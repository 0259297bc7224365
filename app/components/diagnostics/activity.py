"""Diagnostics page · Activity and locks: layout only.

The blocking forest is drawn as an indented list, root blockers on top; the sessions grid
marks long-running and idle-in-transaction rows. Cancel and Terminate (admins only) act on
the selected session after a confirmation naming its pid and query.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids
from app.components.downloads import download_menu
from app.components.grid import grid
from app.components.settings import section

QUERY_PREVIEW = 160
INDENT_REM = 1.5
LONG_STYLE = {"backgroundColor": "var(--bs-warning-bg-subtle)"}
IDLE_TX_STYLE = {"backgroundColor": "var(--bs-danger-bg-subtle)"}
BLOCKED_STYLE = {"backgroundColor": "var(--bs-info-bg-subtle)"}
ROW_STYLE = {
    "styleConditions": [
        {"condition": "params.data.idle_in_transaction", "style": IDLE_TX_STYLE},
        {"condition": "params.data.long_running", "style": LONG_STYLE},
        {"condition": "params.data.blocked_by.length > 0", "style": BLOCKED_STYLE},
    ]
}
SECONDS = {"valueFormatter": {"function": "params.value == null ? '' : params.value.toFixed(1)"}}
WAITING_COLUMNS = [
    {"field": "pid", "minWidth": 80, "maxWidth": 100},
    {"field": "state", "minWidth": 130},
    {"field": "wait_event", "headerName": "Wait", "minWidth": 110},
    {"field": "query_s", "headerName": "Query s", "minWidth": 90, **SECONDS},
    {"field": "xact_s", "headerName": "Transaction s", "minWidth": 110, **SECONDS},
    {
        "field": "blocked_by",
        "headerName": "Blocked by",
        "minWidth": 100,
        # A list of pids: shown joined, and not left to AG Grid to guess (it warns).
        "cellDataType": False,
        "valueFormatter": {"function": "params.value ? params.value.join(', ') : ''"},
    },
]
"""What a live and a remembered session share: who, its wait, how long, blocked by whom."""
SESSION_COLUMNS = [
    *WAITING_COLUMNS,
    {"field": "datname", "headerName": "Database", "minWidth": 110},
    {"field": "usename", "headerName": "User", "minWidth": 90},
    {"field": "application_name", "headerName": "Application", "minWidth": 110},
    {"field": "client_addr", "headerName": "Client", "minWidth": 110},
    {"field": "backend_type", "headerName": "Backend", "minWidth": 120},
    {"field": "query", "minWidth": 300, "tooltipField": "query"},
]
HISTORY_COLUMNS = [
    {"field": "time", "minWidth": 170},
    *WAITING_COLUMNS,
    {"field": "username", "headerName": "User", "minWidth": 90},
    {"field": "query", "minWidth": 300, "tooltipField": "query"},
]


def _title(text: str, downloads: dict[str, str]) -> html.Div:
    return html.Div(
        [html.H6(text, className="mb-0 me-auto"), download_menu(downloads)],
        className="d-flex align-items-center mb-1",
    )


def _actions(admin: bool) -> list:
    if not admin:
        return []
    buttons = html.Div(
        [
            dbc.Button(
                "Cancel query", id=ids.DIAG_ACTIVITY_CANCEL, size="sm", color="warning", n_clicks=0
            ),
            dbc.Button(
                "Terminate session",
                id=ids.DIAG_ACTIVITY_TERMINATE,
                size="sm",
                color="danger",
                n_clicks=0,
            ),
            html.Span("on the selected session", className="text-body-secondary small"),
        ],
        className="d-flex flex-wrap align-items-center gap-2 mb-2",
    )
    confirm = dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Are you sure?")),
            dbc.ModalBody(id=ids.DIAG_ACTIVITY_CONFIRM_BODY),
            dbc.ModalFooter(
                [
                    dbc.Button("Back", id=ids.DIAG_ACTIVITY_CONFIRM_BACK, color="secondary"),
                    dbc.Button("Do it", id=ids.DIAG_ACTIVITY_CONFIRM_OK, color="danger"),
                ]
            ),
        ],
        id=ids.DIAG_ACTIVITY_CONFIRM,
        is_open=False,
    )
    return [buttons, confirm, dcc.Store(id=ids.DIAG_ACTIVITY_PENDING)]


def layout(admin: bool) -> html.Div:
    """The Activity and locks section; Cancel and Terminate only for admins."""
    sessions = grid(ids.DIAG_ACTIVITY_GRID, SESSION_COLUMNS, height=360, selectable=admin)
    sessions.getRowStyle = ROW_STYLE
    history = grid(ids.DIAG_ACTIVITY_HISTORY_GRID, HISTORY_COLUMNS, height=280)
    return html.Div(
        [
            dbc.Select(
                id=ids.DIAG_ACTIVITY_DATABASE,
                options=[],
                className="mb-2",
                style={"maxWidth": "28rem"},
                placeholder="Database",
            ),
            html.Div(id=ids.DIAG_ACTIVITY_MESSAGE, role="alert"),
            section(
                "Blocking",
                [
                    html.P(
                        "Who waits for whom (pg_blocking_pids): each root blocker on top, "
                        "the sessions waiting for it below. A session blocked by several "
                        "appears under the first of them.",
                        className="small text-body-secondary",
                    ),
                    html.Div(id=ids.DIAG_ACTIVITY_TREE),
                ],
                "diag-activity-blocking",
            ),
            section(
                "Sessions",
                [
                    html.P(
                        [
                            html.Span("Long-running", style=LONG_STYLE, className="px-1"),
                            " and ",
                            html.Span("idle in transaction", style=IDLE_TX_STYLE, className="px-1"),
                            " sessions (over a few seconds) and ",
                            html.Span("blocked", style=BLOCKED_STYLE, className="px-1"),
                            " ones are marked.",
                        ],
                        className="small mb-2",
                    ),
                    *_actions(admin),
                    html.Div(id=ids.DIAG_ACTIVITY_FEEDBACK),
                    _title("Live sessions", ids.DIAG_ACTIVITY_DOWNLOADS),
                    sessions,
                ],
                "diag-activity-sessions",
            ),
            section(
                "Remembered sessions",
                [
                    html.P(
                        "Blocked, blocking, long-running and idle-in-transaction sessions "
                        "seen by each collection in the chosen range, newest first.",
                        className="small text-body-secondary",
                    ),
                    _title("History", ids.DIAG_ACTIVITY_HISTORY_DOWNLOADS),
                    history,
                ],
                "diag-activity-history",
            ),
        ],
        id="diag-activity-section",
        className="d-grid gap-3",
    )


def tree(forest_rows: list[dict]) -> html.Div:
    """The blocking forest as an indented list (rows of ``forest_rows``, depth first)."""
    if not forest_rows:
        return html.P("Nobody is blocked.", className="text-body-secondary mb-0")
    return html.Div([_tree_row(row) for row in forest_rows], className="blocking-tree")


def _tree_row(row: dict) -> html.Div:
    root = row["depth"] == 0
    duration = "" if row["duration_s"] is None else f"{row['duration_s']:.1f} s"
    label = [
        dbc.Badge("root blocker", color="danger", className="me-2")
        if root
        else html.I(className="bi bi-arrow-return-right me-1"),
        html.Strong(f"pid {row['pid']}", className="me-2"),
        html.Span(row["state"] or "?", className="me-2"),
        html.Span(row["wait_event"], className="me-2 text-body-secondary"),
        html.Span(duration, className="me-2"),
        html.Code(row["query"][:QUERY_PREVIEW], className="text-break"),
    ]
    return html.Div(
        label,
        className="blocking-node py-1 border-bottom",
        style={"paddingLeft": f"{row['depth'] * INDENT_REM}rem"},
        **{"data-pid": str(row["pid"]), "data-depth": str(row["depth"])},
    )


def confirm_text(action: str, pid: int, query: str) -> list:
    """What the confirmation dialog says of cancelling or terminating ``pid``."""
    verb = (
        "Cancel the running query of"
        if action == "cancel"
        else "Terminate the session (its transaction rolls back) of"
    )
    return [
        html.P([f"{verb} backend ", html.Strong(f"pid {pid}"), "?"]),
        html.Code(query[: QUERY_PREVIEW * 3] or "(no query)", className="text-break"),
    ]
