"""Time-series figures: one line per series, keyed for live extension."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from plotly.io import templates

from app.services.overview import ChartSpec, is_hidden, trace_key, trace_label
from storage.metrics import SeriesData

HOVER = {"%": "%{y:.1f}%", "ratio": "%{y:.1%}", "s": "%{y:.3s}s"}
GAP_INTERVALS = 5
"""A line bridges up to this many missed points; a longer silence is an outage and shows
as a gap."""
LIMIT_IN_REACH = 0.5
"""A limit line is drawn once the data reaches this share of it; below, it would only
flatten the data, so it is listed in the legend with its value."""
CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d", "toImage"],
}
"""dcc.Graph config of every Overview chart."""
TEMPLATES: dict[bool, dict] = {
    dark: templates[name].to_plotly_json()
    for dark, name in ((False, "plotly_white"), (True, "plotly_dark"))
}
"""Plotly's light and dark templates (by ``dark``) as plain dicts, built once and shared by
every figure (never changed): copying them into each figure was most of a refresh."""


def chart_id(key: str) -> str:
    """Id of the Overview chart of ``key``."""
    return f"overview-chart-{key}"


def download_id(key: str, fmt: str) -> str:
    """Id of the download link in ``fmt`` of the Overview chart of ``key``."""
    return f"overview-download-{key}-{fmt}"


@functools.lru_cache(maxsize=8192)  # a refresh labels the same bucket starts on every chart
def time_label(ts: float) -> str:
    """Epoch seconds as the UTC wall-clock string the charts use on their x axis."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def gap_seconds(series: list[SeriesData], interval: float) -> float:
    """Silence longer than this between two points is an outage, not a missed point."""
    step = max((s.step for s in series), default=0)
    return GAP_INTERVALS * max(step, interval)


def with_gaps(points: list[tuple[float, ...]], gap: float) -> tuple[list[str], list[float | None]]:
    """x labels and y values of ``points``, with a break (None) where they are ``gap``
    or more seconds apart."""
    xs: list[str] = []
    ys: list[float | None] = []
    previous = None
    for ts, value, *_ in points:
        if previous is not None and ts - previous > gap:
            xs.append(time_label((previous + ts) / 2))
            ys.append(None)
        xs.append(time_label(ts))
        ys.append(value)
        previous = ts
    return xs, ys


def _amount(value: float, unit: str) -> str:
    if unit in ("B", "B/s"):
        for prefix in ("", "Ki", "Mi", "Gi", "Ti"):
            if abs(value) < 1024 or prefix == "Ti":
                return f"{value:.3g} {prefix}{unit}"
            value /= 1024
    return f"{value:g}"


def _limit_trace(spec: ChartSpec, s: SeriesData, peak: float, label: str) -> dict:
    """How a limit series shows: its latest value in the legend name; drawn only in reach."""
    latest = s.points[-1][1]
    if latest <= 0:  # Redis maxmemory 0: no limit at all
        return {"name": f"{label} unlimited", "visible": "legendonly"}
    return {
        "name": f"{label} {_amount(latest, spec.unit)}",
        "visible": True if peak >= LIMIT_IN_REACH * latest else "legendonly",
        "line": {"dash": "dash", "width": 1},
    }


def time_series_figure(
    spec: ChartSpec,
    series: list[SeriesData],
    dark: bool,
    shown: tuple[float, float],
    revision: str | None = None,
    interval: float = 0.0,
) -> dict:
    """A line chart of ``series`` over the window ``shown``, as a plain figure dict; each
    trace carries its live key in ``meta``.

    The x axis spans ``shown`` at least (and follows live points past its end); lines
    bridge short pauses of collection (``interval`` seconds) and break at outages;
    ``revision`` keeps the user's zoom across refreshes until it changes.
    """
    many_hosts = len({s.host for s in series}) > 1
    many_targets = len({s.labels.get("target") for s in series}) > 1
    gap = gap_seconds(series, interval)
    peak = max((p[1] for s in series if s.name not in spec.limits for p in s.points), default=0.0)
    hover = HOVER.get(spec.unit, "%{y:.3s} " + spec.unit) + "<extra>%{fullData.name}</extra>"
    traces = []
    for s in series:
        xs, ys = with_gaps(s.points, gap)
        label = trace_label(s.name, s.labels, s.host, many_hosts, many_targets)
        style = {"name": label, "visible": "legendonly" if is_hidden(spec, s) else True}
        if s.name in spec.limits:
            style = _limit_trace(spec, s, peak, label)
        traces.append(
            {
                "type": "scatter",
                "x": xs,
                "y": ys,
                "mode": "lines",
                "meta": trace_key(s.host, s.name, s.labels),
                "hovertemplate": hover,
                **style,
            }
        )
    yaxis: dict = {
        "ticksuffix": spec.unit if spec.unit == "%" else "",
        "rangemode": "tozero",
        "title": {} if spec.unit in ("%", "ratio") else {"text": spec.unit},
    }
    if spec.unit == "%":
        yaxis["range"] = [0, 100]
    elif spec.unit == "ratio":
        yaxis.update(range=[0, 1], tickformat=".0%")
    layout = {
        "template": TEMPLATES[dark],
        # The title is the card's header: in the figure the mode bar covered it on phones.
        "margin": {"l": 48, "r": 12, "t": 28, "b": 32},
        "height": 250,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        # Below the x labels whatever their height (they turn on narrow screens).
        "legend": {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0},
        "hovermode": "x unified",
        "uirevision": revision or spec.key,
        # The live extension reads the gap to break a line after an outage too.
        "meta": {"gap": gap},
        "xaxis": {
            "type": "date",
            "title": {},
            "autorange": True,
            "autorangeoptions": {"include": [time_label(shown[0]), time_label(shown[1])]},
        },
        "yaxis": yaxis,
    }
    if not series:
        layout["annotations"] = [
            {
                "text": "No data in this range yet",
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
            }
        ]
    return {"data": traces, "layout": layout}
