"""Logs callbacks: the search the page runs, blocks of grid rows, the histogram, the
record detail, export fields and the live tail switch."""

import time

import dash
from dash import ALL, ClientsideFunction, Input, Output, State, ctx
from sqlalchemy.exc import SQLAlchemyError

from app import ids
from app.auth import READERS, callback
from app.components import logs as parts
from app.components.grid import AG_THEME_MODE
from app.runtime import runtime
from app.services import FieldError, log_archive, log_view, timerange
from storage.logquery import LEVELS

UNAVAILABLE = "The database is unavailable: try again in a moment."


def register(app: dash.Dash) -> None:
    """Attach the Logs page's callbacks to ``app``."""

    @callback(
        app,
        Output(ids.LOGS_WINDOW, "data"),
        Output(ids.LOGS_RANGE, "value"),
        Output(ids.LOGS_FROM, "value"),
        Output(ids.LOGS_TO, "value"),
        Output(ids.LOGS_ERROR, "children", allow_duplicate=True),
        Output(ids.LOGS_ERROR, "is_open", allow_duplicate=True),
        Output(ids.LOGS_QUERY, "value", allow_duplicate=True),
        Output(ids.LOGS_LEVELS, "value"),
        Input(ids.LOGS_RANGE, "value"),
        Input(ids.LOGS_APPLY, "n_clicks"),
        Input(ids.LOGS_HISTOGRAM, "clickData"),
        Input(ids.LOGS_SURROUNDING, "n_clicks"),
        State(ids.LOGS_FROM, "value"),
        State(ids.LOGS_TO, "value"),
        State(ids.LOGS_HISTOGRAM_STEP, "data"),
        State(ids.LOGS_RECORD, "data"),
        roles=READERS,
        prevent_initial_call=True,
    )
    def choose_window(range_key, _apply, click, around, start, end, step, record):
        """A preset clears the window; "Show" and a click on a bar set it (and the From
        and To inputs show it, with no preset lit). "Show surrounding lines" also sets
        the query to the record's host and source, every level switched on."""
        keep = dash.no_update, dash.no_update
        if ctx.triggered_id == ids.LOGS_RANGE:
            if range_key is None:
                raise dash.exceptions.PreventUpdate
            return None, dash.no_update, None, None, None, False, *keep
        try:
            if ctx.triggered_id == ids.LOGS_APPLY:
                window = timerange.custom_window(start, end)
            elif ctx.triggered_id == ids.LOGS_SURROUNDING:
                found = log_view.surrounding(record) if around else None
                if found is None:
                    raise dash.exceptions.PreventUpdate
                text, window = found
                keep = text, list(LEVELS)
            else:
                window = log_view.window_from_bar(click, step or 0)
        except FieldError as exc:
            return (*[dash.no_update] * 4, f"Time range: {exc.field} {exc.message}.", True, *keep)
        if window is None:
            raise dash.exceptions.PreventUpdate
        shown = timerange.window_inputs(window)
        return window, None, *shown, None, False, *keep

    @callback(
        app,
        Output(ids.LOGS_VIEW, "data"),
        Output(ids.LOGS_ERROR, "children"),
        Output(ids.LOGS_ERROR, "is_open"),
        Output(ids.LOGS_QUERY, "value"),
        Input(ids.LOGS_SEARCH, "n_clicks"),
        Input(ids.LOGS_QUERY, "n_submit"),
        Input(ids.LOGS_LEVELS, "value"),
        Input(ids.LOGS_RANGE, "value"),
        Input(ids.LOGS_WINDOW, "data"),
        Input({"type": ids.LOGS_TERM, "term": ALL}, "n_clicks"),
        State(ids.LOGS_QUERY, "value"),
        roles=READERS,
        prevent_initial_call=True,
    )
    def run_search(_clicks, _submit, levels, range_key, window, _terms, text):
        """The search every part of the page shows; a click on a value of the record adds
        it to the query. A query mistake is pointed at, and nothing is shown for it."""
        shown = dash.no_update
        if isinstance(ctx.triggered_id, dict):
            if not ctx.triggered[0]["value"]:  # the detail panel drew its buttons
                raise dash.exceptions.PreventUpdate
            text = shown = log_view.add_term(text, ctx.triggered_id["term"])
        try:
            return log_view.view(text, levels, range_key, window, time.time()), None, False, shown
        except FieldError as exc:
            return None, f"Query: {exc.message}.", True, shown

    @callback(
        app,
        Output(ids.LOGS_GRID, "getRowsResponse"),
        Output(ids.LOGS_CURSORS, "data"),
        Input(ids.LOGS_GRID, "getRowsRequest"),
        State(ids.LOGS_VIEW, "data"),
        State(ids.LOGS_CURSORS, "data"),
        roles=READERS,
        prevent_initial_call=True,
    )
    def load_block(request, view, cursors):
        """The block of rows the grid scrolled to, continuing from the cursors of the
        blocks already read for this search; none while the query has a mistake."""
        if not isinstance(request, dict):
            raise dash.exceptions.PreventUpdate
        if view is None:
            return {"rowData": [], "rowCount": 0}, dash.no_update
        if not isinstance(view, dict):
            raise dash.exceptions.PreventUpdate
        key = f"{view.get('q')}|{view.get('from')}|{view.get('to')}"
        same = isinstance(cursors, dict) and cursors.get("key") == key
        known = cursors.get("rows", {}) if same else {}
        try:
            rows, total, known = log_view.grid_block(
                runtime(), view, request.get("startRow"), request.get("endRow"), known
            )
        except SQLAlchemyError:
            return {"rowData": [], "rowCount": request["startRow"]}, dash.no_update
        return {"rowData": rows, "rowCount": total}, {"key": key, "rows": known}

    @callback(
        app,
        Output(ids.LOGS_HISTOGRAM, "figure"),
        Output(ids.LOGS_HISTOGRAM_STEP, "data"),
        Output(ids.LOGS_SUMMARY, "children"),
        Input(ids.LOGS_VIEW, "data"),
        Input(ids.THEME_STORE, "data"),
        roles=READERS,
    )
    def draw_histogram(view, theme):
        """Counts per level over the range, and the total they add up to."""
        if view is None:
            return parts.no_histogram(theme == "dark"), None, log_view.NO_SEARCH
        try:
            data = log_view.level_histogram(runtime(), view, time.time())
        except SQLAlchemyError:
            return dash.no_update, dash.no_update, UNAVAILABLE
        figure = parts.histogram_figure(data, view["from"], view["to"], theme == "dark")
        return figure, data["step"], log_view.summary(view, data)

    @callback(
        app,
        Output(ids.LOGS_DETAIL, "children"),
        Output(ids.LOGS_RECORD, "data"),
        Output(ids.LOGS_SURROUNDING, "disabled"),
        Output(ids.LOGS_GRID, "rowClassRules"),
        Input(ids.LOGS_GRID, "selectedRows"),
        Input(ids.LOGS_TAIL_GRID, "selectedRows"),
        roles=READERS,
        prevent_initial_call=True,
    )
    def show_detail(search_rows, tail_rows):
        """The whole of the record last selected in either grid (kept for "show
        surrounding lines", and marked in the search grid)."""
        rows = tail_rows if ctx.triggered_id == ids.LOGS_TAIL_GRID else search_rows
        first = rows[0] if isinstance(rows, list) and rows else None
        record = log_view.detail(first)
        if record is None:
            # A reload of the grid drops its selection: the record shown stays marked.
            raise dash.exceptions.PreventUpdate
        return parts.detail_panel(record), record, False, parts.focus_rules(record["id"])

    @callback(
        app,
        Output(ids.LOGS_ARCHIVES, "children"),
        Input(ids.LOGS_VIEW, "data"),
        roles=READERS,
    )
    def list_archives(_view):
        """The archived days, each with its download link."""
        return parts.archives_list(log_archive.list_archives(runtime()))

    app.clientside_callback(
        ClientsideFunction("pulseboardLogs", "purge"),
        Output(ids.LOGS_PURGED, "data"),
        Input(ids.LOGS_VIEW, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("pulseboardLogs", "exportFields"),
        Output(ids.LOGS_EXPORT_Q, "value"),
        Output(ids.LOGS_EXPORT_FROM, "value"),
        Output(ids.LOGS_EXPORT_TO, "value"),
        Output(ids.LOGS_EXPORT_GZIP_FIELD, "value"),
        Output(ids.LOGS_EXPORT_MENU, "disabled"),
        Input(ids.LOGS_VIEW, "data"),
        Input(ids.LOGS_EXPORT_GZIP, "value"),
    )
    app.clientside_callback(
        ClientsideFunction("pulseboardLogs", "liveTail"),
        Output(ids.LOGS_SEARCH_AREA, "style"),
        Output(ids.LOGS_TAIL_AREA, "style"),
        Input(ids.LOGS_LIVE, "value"),
        Input(ids.LOGS_VIEW, "data"),
    )
    app.clientside_callback(
        ClientsideFunction("pulseboardLogs", "pause"),
        Output(ids.LOGS_TAIL_PAUSE, "children"),
        Input(ids.LOGS_TAIL_PAUSE, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("pulseboardLogs", "follow"),
        Output(ids.LOGS_TAIL_CONTROL, "data"),
        Input(ids.LOGS_TAIL_FOLLOW, "value"),
    )
    app.clientside_callback(
        AG_THEME_MODE,
        Output(ids.LOGS_PAGE, "data-ag-theme-mode"),
        Input(ids.THEME_STORE, "data"),
    )
