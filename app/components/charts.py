"""Time-series figures: one line per series, keyed for live extension."""

from __future__ import annotations

from datetime import UTC, datetime

import plotly.graph_objects as go

from app.services.overview import ChartSpec, trace_key, trace_label
from storage.metrics import SeriesData

HOVER = {"%": "%{y:.1f}%", "ratio": "%{y:.1%}", "s": "%{y:.3s}s"}


def time_label(ts: float) -> str:
    """Epoch seconds as the UTC wall-clock string the charts use on their x axis."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def time_series_figure(
    spec: ChartSpec,
    series: list[SeriesData],
    dark: bool,
    shown: tuple[float, float],
    revision: str | None = None,
) -> go.Figure:
    """A line chart of ``series``; each trace carries its live key in ``meta``.

    ``shown`` is the (start, end) of the window, the x range of a chart without data;
    ``revision`` keeps the user's zoom across refreshes until it changes.
    """
    many_hosts = len({s.host for s in series}) > 1
    many_targets = len({s.labels.get("target") for s in series}) > 1
    fig = go.Figure()
    for s in series:
        fig.add_trace(
            go.Scatter(
                x=[time_label(p[0]) for p in s.points],
                y=[p[1] for p in s.points],
                mode="lines",
                name=trace_label(s.name, s.labels, s.host, many_hosts, many_targets),
                meta=trace_key(s.host, s.name, s.labels),
                hovertemplate=HOVER.get(spec.unit, "%{y:.3s} " + spec.unit)
                + "<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(
        template="plotly_dark" if dark else "plotly_white",
        title={"text": spec.title, "x": 0.01, "font": {"size": 14}},
        margin={"l": 48, "r": 12, "t": 36, "b": 32},
        height=260,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        # Below the x labels whatever their height (they turn on narrow screens).
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0},
        hovermode="x unified",
        uirevision=revision or spec.key,
        xaxis={"type": "date", "title": None},
        yaxis={
            "ticksuffix": spec.unit if spec.unit == "%" else "",
            "rangemode": "tozero",
            "title": None if spec.unit in ("%", "ratio") else spec.unit,
        },
    )
    if spec.unit == "%":
        fig.update_yaxes(range=[0, 100])
    elif spec.unit == "ratio":
        fig.update_yaxes(range=[0, 1], tickformat=".0%")
    if not series:
        fig.update_xaxes(range=[time_label(shown[0]), time_label(shown[1])])
        fig.add_annotation(
            text="No data in this range yet",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
        )
    return fig
