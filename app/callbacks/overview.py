"""Overview callbacks: the shown window, periodic refresh from the stores, and live
extension from the WebSocket."""

import time

import dash
from dash import Input, Output, State, ctx, html
from sqlalchemy.exc import SQLAlchemyError

from app import ids
from app.auth import READERS, callback
from app.components.cards import card_outputs, card_values
from app.components.charts import time_label, time_series_figure
from app.components.grid import AG_THEME_MODE
from app.runtime import runtime
from app.services import FieldError, overview, timerange

CHART_INPUTS = [Input(chart_id, "relayoutData") for chart_id in ids.OVERVIEW_CHARTS]


def register(app: dash.Dash) -> None:
    """Attach the Overview's callbacks to ``app``."""

    @callback(
        app,
        *card_outputs(overview.CARD_KEYS),
        Input(ids.OVERVIEW_REFRESH, "n_intervals"),
        Input(ids.OVERVIEW_LIVE, "data"),
        roles=READERS,
    )
    def refresh_cards(_n, _live):
        """Health cards from the stores, again after every live collection."""
        return card_values(overview.health_cards(runtime(), time.time()))

    @callback(
        app,
        Output(ids.OVERVIEW_WINDOW, "data"),
        Output(ids.OVERVIEW_ERROR, "children", allow_duplicate=True),
        Output(ids.OVERVIEW_ERROR, "is_open", allow_duplicate=True),
        Input(ids.OVERVIEW_RANGE, "value"),
        Input(ids.OVERVIEW_APPLY, "n_clicks"),
        *CHART_INPUTS,
        State(ids.OVERVIEW_FROM, "value"),
        State(ids.OVERVIEW_TO, "value"),
        State(ids.OVERVIEW_WINDOW, "data"),
        roles=READERS,
        prevent_initial_call=True,
    )
    def choose_window(_range, _apply, *rest):
        """A preset clears the window; "Show" and zooming a chart set it."""
        start, end, current = rest[-3:]
        trigger = ctx.triggered_id
        try:
            if trigger == ids.OVERVIEW_RANGE:
                window = None
            elif trigger == ids.OVERVIEW_APPLY:
                window = timerange.custom_window(start, end)
            else:
                # Several charts may report at once (a resize relayouts them all): take
                # the first report that is about the x range.
                reports = (overview.zoom_window(t["value"]) for t in ctx.triggered)
                window = next((w for w in reports if w is not False), False)
                if window is False:
                    raise dash.exceptions.PreventUpdate
        except FieldError as exc:
            return dash.no_update, f"Custom range: {exc.field} {exc.message}.", True
        if window == current:
            raise dash.exceptions.PreventUpdate
        return window, None, False

    @callback(
        app,
        *[Output(chart_id, "figure") for chart_id in ids.OVERVIEW_CHARTS],
        Output(ids.OVERVIEW_ROUTES, "rowData"),
        Output(ids.OVERVIEW_UPDATED, "children"),
        Output(ids.OVERVIEW_ERROR, "children"),
        Output(ids.OVERVIEW_ERROR, "is_open"),
        Input(ids.OVERVIEW_WINDOW, "data"),
        Input(ids.OVERVIEW_RANGE, "value"),
        Input(ids.OVERVIEW_REFRESH, "n_intervals"),
        Input(ids.OVERVIEW_HOST, "value"),
        Input(ids.THEME_STORE, "data"),
        roles=READERS,
    )
    def refresh_charts(window, range_key, _n, host, theme):
        """Redraw every chart for the shown window; keep the old ones if the database is
        away."""
        rt, now = runtime(), time.time()
        start, end = timerange.time_window(range_key, window, now)
        try:
            series = [
                overview.chart_series(rt, spec, start, end, host or None)
                for spec in overview.CHARTS
            ]
            routes = overview.slowest_routes(rt, host or None)
        except SQLAlchemyError:
            message = "The database is unavailable: the charts show the last data loaded."
            return *[dash.no_update] * (len(overview.CHARTS) + 2), message, True
        figures = [
            time_series_figure(
                spec,
                data,
                dark=theme == "dark",
                shown=(start, end),
                revision=f"{start}-{end}" if window else spec.key,
            )
            for spec, data in zip(overview.CHARTS, series, strict=True)
        ]
        shown = (
            f"{time_label(start)} to {time_label(end)} UTC"
            if window
            else f"updated {time_label(now)} UTC"
        )
        return *figures, routes, html.Span(shown), None, False

    @callback(
        app,
        Output(ids.OVERVIEW_HOST, "options"),
        Output(ids.OVERVIEW_HOST_GROUP, "style"),
        Input(ids.OVERVIEW_REFRESH, "n_intervals"),
        roles=READERS,
    )
    def list_hosts(_n):
        """The host selector appears once more than one host reports."""
        hosts = runtime().metrics.hosts()
        options = [{"label": "all hosts", "value": ""}] + [{"label": h, "value": h} for h in hosts]
        return options, {} if len(hosts) > 1 else {"display": "none"}

    app.clientside_callback(
        "function (on) { return !on; }",
        Output(ids.OVERVIEW_REFRESH, "disabled"),
        Input(ids.OVERVIEW_AUTO, "value"),
    )
    app.clientside_callback(
        dash.ClientsideFunction("pulseboard", "extendCharts"),
        *[Output(chart_id, "extendData") for chart_id in ids.OVERVIEW_CHARTS],
        Input(ids.OVERVIEW_LIVE, "data"),
        State(ids.OVERVIEW_WINDOW, "data"),
        State(ids.OVERVIEW_AUTO, "value"),
        *[State(chart_id, "figure") for chart_id in ids.OVERVIEW_CHARTS],
    )
    app.clientside_callback(
        AG_THEME_MODE,
        Output(ids.OVERVIEW_PAGE, "data-ag-theme-mode"),
        Input(ids.THEME_STORE, "data"),
    )
