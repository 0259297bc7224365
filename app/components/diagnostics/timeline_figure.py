"""Figures of the Timeline section: the incident timeline (lanes of events over the log
level histogram, one time axis) and one changed series before and in the window."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.components.charts import time_label

LANES = {
    "alert": "Alerts",
    "ack": "Alerts",
    "error_new": "Errors",
    "error_spike": "Errors",
    "change": "Metrics",
    "annotation": "Annotations",
    "leader": "Leader",
    "audit": "Admin",
}
"""The lane (row) of each event kind; the y axis lists them top to bottom."""
LANE_ORDER = ["Admin", "Leader", "Annotations", "Metrics", "Errors", "Alerts"]
SEVERITY_COLOURS = {
    "critical": "#dc3545",
    "error": "#dc3545",
    "warning": "#fd7e14",
    "info": "#0d6efd",
}
KIND_COLOURS = {
    "ack": "#20c997",
    "error_new": "#d63384",
    "error_spike": "#dc3545",
    "change": "#6f42c1",
    "annotation": "#198754",
    "leader": "#0dcaf0",
    "audit": "#6c757d",
}
KIND_SYMBOLS = {"ack": "check", "error_new": "star", "error_spike": "triangle-up"}
LEVEL_COLOURS = {
    "debug": "#adb5bd",
    "info": "#0d6efd",
    "warning": "#fd7e14",
    "error": "#dc3545",
    "critical": "#842029",
}
DEFAULT_COLOUR = "#6c757d"


def _colour(event: dict) -> str:
    if event["kind"] == "alert":
        return SEVERITY_COLOURS.get(event.get("severity") or "", DEFAULT_COLOUR)
    return KIND_COLOURS.get(event["kind"], DEFAULT_COLOUR)


def timeline_figure(data: dict) -> go.Figure:
    """The timeline of ``data`` (what the timeline service returns): one marker per event
    in its lane (``customdata`` is its index in ``data["events"]``), a bar from firing to
    resolved, a line across for each annotation, and the log levels stacked below."""
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.04
    )
    events = data["events"]
    for index, event in enumerate(events):
        if event.get("ts_end") is not None and event["kind"] == "alert":
            fig.add_trace(
                go.Scatter(
                    x=[time_label(event["ts"]), time_label(event["ts_end"])],
                    y=[LANES["alert"]] * 2,
                    mode="lines",
                    line={"width": 10, "color": _colour(event)},
                    opacity=0.5,
                    customdata=[index, index],
                    hovertext=[event["title"]] * 2,
                    hoverinfo="text",
                    showlegend=False,
                ),
                row=1,
                col=1,
            )
        if event["kind"] == "annotation":
            end = event.get("ts_end")
            fig.add_shape(
                type="rect" if end is not None else "line",
                x0=time_label(event["ts"]),
                x1=time_label(end if end is not None else event["ts"]),
                y0=0,
                y1=1,
                xref="x",
                yref="paper",
                line={"color": KIND_COLOURS["annotation"], "dash": "dot", "width": 1},
                fillcolor=KIND_COLOURS["annotation"],
                opacity=0.15 if end is not None else 0.7,
                layer="below",
            )
    by_kind: dict[str, list[int]] = {}
    for index, event in enumerate(events):
        by_kind.setdefault(event["kind"], []).append(index)
    for kind, indexes in by_kind.items():
        fig.add_trace(
            go.Scatter(
                x=[time_label(events[i]["ts"]) for i in indexes],
                y=[LANES[kind] for _ in indexes],
                mode="markers",
                marker={
                    "size": 11,
                    "color": [_colour(events[i]) for i in indexes],
                    "symbol": KIND_SYMBOLS.get(kind, "circle"),
                    "line": {"width": 1, "color": "white"},
                },
                customdata=indexes,
                hovertext=[
                    f"{time_label(events[i]['ts'])}<br>{_escape(events[i]['title'])}"
                    for i in indexes
                ],
                hoverinfo="text",
                name=kind.replace("_", " "),
                showlegend=False,
            ),
            row=1,
            col=1,
        )
    levels: dict[str, tuple[list[str], list[int]]] = {}
    for bucket in data["histogram"]["buckets"]:
        xs, ys = levels.setdefault(bucket["level"], ([], []))
        xs.append(time_label(bucket["ts"]))
        ys.append(bucket["count"])
    for level in sorted(
        levels,
        key=lambda name: (
            list(LEVEL_COLOURS).index(name) if name in LEVEL_COLOURS else len(LEVEL_COLOURS)
        ),
    ):
        xs, ys = levels[level]
        fig.add_trace(
            go.Bar(
                x=xs,
                y=ys,
                width=data["histogram"]["step"] * 1000,  # ms on a date axis
                offset=0,
                name=level,
                marker_color=LEVEL_COLOURS.get(level, DEFAULT_COLOUR),
                hovertemplate=f"{level}: %{{y}}<extra></extra>",
            ),
            row=2,
            col=1,
        )
    window = [time_label(data["from"]), time_label(data["to"])]
    fig.update_xaxes(range=window, type="date")
    fig.update_yaxes(
        categoryorder="array",
        categoryarray=LANE_ORDER,
        range=[-0.5, len(LANE_ORDER) - 0.5],
        type="category",
        row=1,
        col=1,
    )
    fig.update_yaxes(title_text="logs", row=2, col=1)
    fig.update_layout(
        barmode="stack",
        margin={"l": 90, "r": 10, "t": 10, "b": 30},
        legend={"orientation": "h", "y": -0.12},
        hovermode="closest",
        clickmode="event",
        uirevision="timeline",
    )
    return fig


def _escape(text: str) -> str:
    """Hover text is rendered as HTML by Plotly: event titles come from data."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def series_figure(points: list[tuple[float, float]], start: float, end: float, title: str):
    """One series over the baseline and the window, the window shaded."""
    fig = go.Figure(
        go.Scatter(
            x=[time_label(ts) for ts, _ in points],
            y=[value for _, value in points],
            mode="lines",
            name=title,
            hovertemplate="%{x}: %{y:.4g}<extra></extra>",
        )
    )
    fig.add_vrect(
        x0=time_label(start), x1=time_label(end), fillcolor="#fd7e14", opacity=0.12, line_width=0
    )
    fig.update_layout(
        title={"text": _escape(title), "font": {"size": 13}},
        margin={"l": 50, "r": 10, "t": 36, "b": 30},
        showlegend=False,
    )
    return fig


def empty_figure(message: str) -> go.Figure:
    """A figure with only ``message`` in it."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig
