"""Overview callbacks: the shown window, periodic refresh from the stores, and live
extension from the WebSocket."""

import time

import dash
from dash import Input, Output, State, ctx, html
from sqlalchemy.exc import SQLAlchemyError

from app import ids
from app.auth import READERS, callback
from app.components.cards import card_outputs, card_values
from app.components.charts import chart_id, download_id, time_label, time_series_figure
from app.components.downloads import FORMATS
from app.components.grid import AG_THEME_MODE
from app.runtime import runtime
from app.services import FieldError, overview, timerange

CHART_IDS = [chart_id(spec.key) for spec in overview.CHARTS]
CHART_INPUTS = [Input(cid, "relayoutData") for cid in CHART_IDS]
DOWNLOAD_OUTPUTS = [
    Output(download_id(spec.key, fmt), "href") for spec in overview.CHARTS for fmt in FORMATS
]


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
        Output(ids.OVERVIEW_RANGE, "value"),
        Output(ids.OVERVIEW_FROM, "value"),
        Output(ids.OVERVIEW_TO, "value"),
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
    def choose_window(range_key, _apply, *rest):
        """A preset clears the window (and the From/To inputs); "Show" and zooming a chart
        set it (the inputs show it in UTC, no preset is lit, so any preset can be chosen
        again); resetting the zoom returns to the preset it started from."""
        start, end, current = rest[-3:]
        trigger = ctx.triggered_id
        if trigger == ids.OVERVIEW_RANGE:
            if range_key is None:  # unlit below, by a window
                raise dash.exceptions.PreventUpdate
            return None, dash.no_update, None, None, None, False
        try:
            if trigger == ids.OVERVIEW_APPLY:
                window = timerange.custom_window(start, end)
            else:
                # Several charts may report at once (a resize relayouts them all): take
                # the first report that is about the x range.
                reports = (overview.zoom_window(t["value"]) for t in ctx.triggered)
                window = next((w for w in reports if w is not False), False)
                if window is False:
                    raise dash.exceptions.PreventUpdate
        except FieldError as exc:
            return *[dash.no_update] * 4, f"Custom range: {exc.field} {exc.message}.", True
        preset = range_key or (current or {}).get("preset") or timerange.DEFAULT_RANGE
        if window is None:
            return None, preset, None, None, None, False
        window = {**window, "preset": preset}
        if window == current:
            raise dash.exceptions.PreventUpdate
        return window, None, *timerange.window_inputs(window), None, False

    @callback(
        app,
        Output(ids.OVERVIEW_FIGURES, "data"),
        *DOWNLOAD_OUTPUTS,
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
        """Every chart that can get data for the shown window, by chart id (the browser
        draws them one at a time), with its download links; keep the old ones if the
        database is away."""
        rt, now = runtime(), time.time()
        start, end = timerange.time_window(range_key, window, now)
        host = host or None
        available = overview.available_charts(rt)
        shown = [spec for spec in overview.CHARTS if spec.key in available]
        try:
            series = {spec.key: overview.chart_series(rt, spec, start, end, host) for spec in shown}
        except SQLAlchemyError:
            message = "The database is unavailable: the charts show the last data loaded."
            return *[dash.no_update] * (len(DOWNLOAD_OUTPUTS) + 2), message, True
        figures = {
            chart_id(spec.key): time_series_figure(
                spec,
                series[spec.key],
                dark=theme == "dark",
                shown=(start, end),
                revision=f"{start}-{end}" if window else spec.key,
                interval=rt.settings.collect_interval,
            )
            for spec in shown
        }
        links = [
            overview.export_href(spec, start, end, host, fmt)
            for spec in overview.CHARTS
            for fmt in FORMATS
        ]
        label = (
            f"{time_label(start)} to {time_label(end)} UTC"
            if window
            else f"updated {time_label(now)} UTC"
        )
        return figures, *links, html.Span(label), None, False

    @callback(
        app,
        Output(ids.OVERVIEW_ROUTES, "rowData"),
        Input(ids.OVERVIEW_REFRESH, "n_intervals"),
        Input(ids.OVERVIEW_LIVE, "data"),
        Input(ids.OVERVIEW_HOST, "value"),
        Input(ids.OVERVIEW_ROUTES_CONSOLE, "value"),
        roles=READERS,
    )
    def refresh_routes(_n, _live, host, include_console):
        """The slowest routes as of the last collection; the console's own only when the
        switch asks for them."""
        try:
            return overview.slowest_routes(runtime(), host or None, bool(include_console))
        except SQLAlchemyError:
            raise dash.exceptions.PreventUpdate from None  # the charts' alert says why

    @callback(
        app,
        Output(ids.OVERVIEW_ROUTES_DOWNLOAD, "data"),
        *[Input(item, "n_clicks") for item in ids.OVERVIEW_ROUTES_EXPORT.values()],
        State(ids.OVERVIEW_ROUTES, "virtualRowData"),
        State(ids.OVERVIEW_HOST, "value"),
        roles=READERS,
        prevent_initial_call=True,
    )
    def download_routes(*args):
        """The slowest-routes rows exactly as the grid shows them (its order), as a file."""
        rows, host = args[-2:]
        chosen = [f for f, item in ids.OVERVIEW_ROUTES_EXPORT.items() if item == ctx.triggered_id]
        if not chosen or not ctx.triggered[0]["value"]:
            raise dash.exceptions.PreventUpdate
        return overview.routes_download(rows, chosen[0], host or None, time.time())

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
        dash.ClientsideFunction("pulseboard", "drawCharts"),
        Input(ids.OVERVIEW_FIGURES, "data"),
    )
    app.clientside_callback(
        dash.ClientsideFunction("pulseboard", "liveCharts"),
        Input(ids.OVERVIEW_LIVE, "data"),
        State(ids.OVERVIEW_WINDOW, "data"),
        State(ids.OVERVIEW_AUTO, "value"),
    )
    app.clientside_callback(
        dash.ClientsideFunction("pulseboard", "liveBadge"),
        Output(ids.OVERVIEW_LIVE_STATUS, "children"),
        Output(ids.OVERVIEW_LIVE_STATUS, "color"),
        Input(ids.OVERVIEW_CONNECTION, "data"),
        Input(ids.OVERVIEW_WINDOW, "data"),
        Input(ids.OVERVIEW_AUTO, "value"),
    )
    app.clientside_callback(
        AG_THEME_MODE,
        Output(ids.OVERVIEW_PAGE, "data-ag-theme-mode"),
        Input(ids.THEME_STORE, "data"),
    )
