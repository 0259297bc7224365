"""Logs: search in the query language over a time range, the level histogram, every
matching row through an infinite grid, one record in detail, a live tail and export."""

import time

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import session

from app import ids
from app.components import logs as parts
from app.components.time_range import custom_range, preset_picker
from app.services import FieldError
from app.services.log_view import url_window, view
from app.services.timerange import DEFAULT_RANGE, RANGES, window_inputs
from storage.logquery import LEVELS

dash.register_page(__name__, path="/logs", name="Logs", title="Pulseboard · Logs", order=10)

BLOCK_ROWS = 100


def _query_bar(text: str) -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(html.H4("Logs", className="mb-0"), width="auto"),
            dbc.Col(
                dbc.InputGroup(
                    [
                        dbc.Input(
                            id=ids.LOGS_QUERY,
                            value=text,
                            className="logs-query",
                            placeholder="Search messages, or e.g. level>=warning source:api",
                            debounce=True,
                            maxLength=2000,
                            autocomplete="off",
                        ),
                        dbc.Button(
                            html.I(className="bi bi-question-circle"),
                            id=ids.LOGS_SYNTAX,
                            color="outline-secondary",
                            title="Query syntax",
                        ),
                        dbc.Button("Search", id=ids.LOGS_SEARCH, color="primary"),
                    ],
                    size="sm",
                ),
                className="flex-grow-1",
            ),
            dbc.Col(parts.export_form(session.get("csrf", "")), width="auto"),
        ],
        className="g-2 align-items-center mb-2",
    )


def _filter_bar(range_key: str | None, window: dict | None) -> dbc.Row:
    shown = window_inputs(window) if window else None
    return dbc.Row(
        [
            dbc.Col(parts.level_toggles(list(LEVELS)), width="auto"),
            dbc.Col(preset_picker(ids.LOGS_RANGE, RANGES, range_key), width="auto"),
            dbc.Col(
                custom_range(ids.LOGS_FROM, ids.LOGS_TO, ids.LOGS_APPLY, seconds=True, shown=shown),
                width="auto",
            ),
            dbc.Col(
                dbc.Switch(id=ids.LOGS_LIVE, label="Live tail", value=False, className="mb-0"),
                width="auto",
                className="ms-xl-auto",
            ),
        ],
        className="g-2 align-items-center mb-2",
    )


def _grid(component_id: str, height: str, options: dict | None = None, **props) -> dag.AgGrid:
    """A grid of log records: one selectable row at a time, ids as row ids."""
    return dag.AgGrid(
        id=component_id,
        columnDefs=parts.COLUMNS,
        getRowId="params.data.id + ''",
        dashGridOptions={
            "rowSelection": {
                "mode": "singleRow",
                "checkboxes": False,
                "enableClickSelection": True,
            },
            "animateRows": False,
            "rowHeight": 30,
            **(options or {}),
        },
        style={"height": height},
        className="logs-grid",
        eventListeners=parts.fit_columns(component_id),
        **props,
    )


def _search_area() -> html.Div:
    return html.Div(
        [
            dcc.Graph(
                id=ids.LOGS_HISTOGRAM,
                config={"displayModeBar": False, "responsive": True},
                style={"height": "150px"},
            ),
            html.Div(id=ids.LOGS_SUMMARY, className="small text-body-secondary mb-1"),
            _grid(
                ids.LOGS_GRID,
                "60vh",
                {
                    "cacheBlockSize": BLOCK_ROWS,
                    "maxBlocksInCache": 50,
                    "infiniteInitialRowCount": 1,
                    # One block at a time: each continues from the cursor the last one left.
                    "maxConcurrentDatasourceRequests": 1,
                },
                rowModelType="infinite",
            ),
        ],
        id=ids.LOGS_SEARCH_AREA,
    )


def _tail_area() -> html.Div:
    return html.Div(
        [parts.tail_controls(), _grid(ids.LOGS_TAIL_GRID, "70vh", rowData=[])],
        id=ids.LOGS_TAIL_AREA,
        style={"display": "none"},
    )


def layout(q: str | None = None, **query) -> html.Div:
    """Query and filter bars, the histogram over the grid (or the live tail), the detail
    panel, archives, and the stores the callbacks share. ``?q=`` with ``?range=`` or with
    ``?from=&to=`` start the search there (links from the Diagnostics page); a query with
    a mistake starts empty, a window that is not one is left out."""
    window = url_window(query.get("from"), query.get("to"))
    range_key = query.get("range") if query.get("range") in RANGES else DEFAULT_RANGE
    if window:
        range_key = None  # no preset lit: the From and To inputs show the window
    text = q if isinstance(q, str) else ""
    try:
        initial = view(text, list(LEVELS), range_key, window, time.time())
    except FieldError:
        text, initial = "", view("", list(LEVELS), range_key, window, time.time())
    return html.Div(
        [
            _query_bar(text),
            parts.syntax_help(),
            _filter_bar(range_key, window),
            dbc.Alert(id=ids.LOGS_ERROR, color="danger", is_open=False, dismissable=True),
            dbc.Row(
                [
                    dbc.Col([_search_area(), _tail_area()], xs=12, xl=8),
                    dbc.Col(
                        [
                            dbc.Card(
                                [
                                    dbc.CardHeader("Record"),
                                    dbc.CardBody(parts.detail_panel(None), id=ids.LOGS_DETAIL),
                                    dbc.CardFooter(parts.surrounding_button()),
                                ],
                                className="mb-3",
                            ),
                            dbc.Card(
                                [
                                    dbc.CardHeader("Archives"),
                                    dbc.CardBody(id=ids.LOGS_ARCHIVES),
                                ]
                            ),
                        ],
                        xs=12,
                        xl=4,
                    ),
                ],
                className="g-3",
            ),
            dcc.Store(id=ids.LOGS_VIEW, data=initial),
            dcc.Store(id=ids.LOGS_WINDOW, data=window),
            dcc.Store(id=ids.LOGS_HISTOGRAM_STEP),
            dcc.Store(id=ids.LOGS_CURSORS, data={}),
            dcc.Store(id=ids.LOGS_PURGED),
            dcc.Store(id=ids.LOGS_TAIL_CONTROL),
            dcc.Store(id=ids.LOGS_RECORD),
        ],
        id=ids.LOGS_PAGE,
    )
