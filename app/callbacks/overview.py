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
        *[Output(chart_id, "figure") for chart_id in ids.OVERVIEW_CHARTS],
        Output(ids.OVERVIEW_UPDATED, "children"),
        Input(ids.OVERVIEW_RANGE, "value"),
        Input(ids.OVERVIEW_REFRESH, "n_intervals"),
        Input(ids.THEME_STORE, "data"),
    )
    def refresh(range_key, _n, theme):
        """Redraw cards and charts for the chosen range from the stores."""
        rt, now = runtime(), time.time()
        cards = [health_card(card) for card in overview.health_cards(rt, now)]
        figures = [
            time_series_figure(
                spec, overview.chart_series(rt, spec, range_key, now), dark=theme == "dark"
            )
            for spec in overview.CHARTS
        ]
        return cards, *figures, html.Span(f"updated {time_label(now)} UTC")

    app.clientside_callback(
        dash.ClientsideFunction("pulseboard", "extendCharts"),
        *[Output(chart_id, "extendData") for chart_id in ids.OVERVIEW_CHARTS],
        Input(ids.OVERVIEW_LIVE, "data"),
        *[State(chart_id, "figure") for chart_id in ids.OVERVIEW_CHARTS],
    )
