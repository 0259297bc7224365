"""Overview callbacks: periodic refresh from the stores, live extension from the WebSocket."""

import time

import dash
from dash import Input, Output, State, html
from sqlalchemy.exc import SQLAlchemyError

from app import ids
from app.auth import READERS, callback
from app.components.cards import card_outputs, card_values
from app.components.charts import time_label, time_series_figure
from app.runtime import runtime
from app.services import overview


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
        *[Output(chart_id, "figure") for chart_id in ids.OVERVIEW_CHARTS],
        Output(ids.OVERVIEW_UPDATED, "children"),
        Output(ids.OVERVIEW_ERROR, "children"),
        Output(ids.OVERVIEW_ERROR, "is_open"),
        Input(ids.OVERVIEW_RANGE, "value"),
        Input(ids.OVERVIEW_REFRESH, "n_intervals"),
        Input(ids.THEME_STORE, "data"),
        roles=READERS,
    )
    def refresh_charts(range_key, _n, theme):
        """Redraw the charts for the chosen range; keep the old ones if the database is away."""
        rt, now = runtime(), time.time()
        try:
            series = [overview.chart_series(rt, spec, range_key, now) for spec in overview.CHARTS]
        except SQLAlchemyError:
            message = "The database is unavailable: the charts show the last data loaded."
            return *[dash.no_update] * len(overview.CHARTS), dash.no_update, message, True
        figures = [
            time_series_figure(spec, data, dark=theme == "dark")
            for spec, data in zip(overview.CHARTS, series, strict=True)
        ]
        return *figures, html.Span(f"updated {time_label(now)} UTC"), None, False

    app.clientside_callback(
        dash.ClientsideFunction("pulseboard", "extendCharts"),
        *[Output(chart_id, "extendData") for chart_id in ids.OVERVIEW_CHARTS],
        Input(ids.OVERVIEW_LIVE, "data"),
        *[State(chart_id, "figure") for chart_id in ids.OVERVIEW_CHARTS],
    )
