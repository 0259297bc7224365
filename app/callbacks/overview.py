"""Overview callbacks: periodic refresh from the stores, live extension from the WebSocket."""

import time

import dash
from dash import Input, Output, State, html

from app import ids
from app.components.cards import health_card
from app.components.charts import time_label, time_series_figure
from app.runtime import runtime
from app.services import overview


def register(app: dash.Dash) -> None:
    """Attach the Overview's callbacks to ``app``."""

    @app.callback(
        Output(ids.OVERVIEW_CARDS, "children"),
        Input(ids.OVERVIEW_REFRESH, "n_intervals"),
        Input(ids.OVERVIEW_LIVE, "data"),
    )
    def refresh_cards(_n, _live):
        """Health cards from the stores, again after every live collection."""
        return [health_card(card) for card in overview.health_cards(runtime(), time.time())]

    @app.callback(
        *[Output(chart_id, "figure") for chart_id in ids.OVERVIEW_CHARTS],
        Output(ids.OVERVIEW_UPDATED, "children"),
        Input(ids.OVERVIEW_RANGE, "value"),
        Input(ids.OVERVIEW_REFRESH, "n_intervals"),
        Input(ids.THEME_STORE, "data"),
    )
    def refresh_charts(range_key, _n, theme):
        """Redraw the charts for the chosen range from the stores."""
        rt, now = runtime(), time.time()
        figures = [
            time_series_figure(
                spec, overview.chart_series(rt, spec, range_key, now), dark=theme == "dark"
            )
            for spec in overview.CHARTS
        ]
        return *figures, html.Span(f"updated {time_label(now)} UTC")

    app.clientside_callback(
        dash.ClientsideFunction("pulseboard", "extendCharts"),
        *[Output(chart_id, "extendData") for chart_id in ids.OVERVIEW_CHARTS],
        Input(ids.OVERVIEW_LIVE, "data"),
        *[State(chart_id, "figure") for chart_id in ids.OVERVIEW_CHARTS],
    )
