"""Callbacks of the Diagnostics page · Timeline: the timeline and the ranked changes of the
chosen range, an event's detail on click, a changed series on selection, and annotations
added by admins."""

from __future__ import annotations

import json
import time

import dash
from dash import Input, Output, State, html
from dash.exceptions import PreventUpdate
from flask import request

from app import ids
from app.auth import READERS, callback, current_account
from app.components.charts import time_label
from app.components.diagnostics import timeline_figure as figures
from app.components.settings import feedback
from app.runtime import runtime
from app.services import FieldError, ServiceError, timerange
from app.services.accounts import Actor
from app.services.diagnostics import annotations, timeline

ADMIN = ("admin",)
LINKS = (
    (ids.DIAG_TIMELINE_CSV, "timeline_csv"),
    (ids.DIAG_TIMELINE_JSON, "timeline_json"),
    (ids.DIAG_TIMELINE_CHANGES_CSV, "changes_csv"),
    (ids.DIAG_TIMELINE_CHANGES_JSON, "changes_json"),
    (ids.DIAG_TIMELINE_BUNDLE, "bundle"),
)
"""Each download link and its key in ``timeline.download_hrefs``."""


def show_timeline(range_key: str | None, window: dict | None, _added: int | None = None) -> tuple:
    """The figure, the events behind it, the grid rows, the note and the links."""
    start, end = timerange.time_window(range_key, window, time.time())
    data = timeline.timeline(runtime(), start, end)
    hrefs = timeline.download_hrefs(start, end)
    note = f"{len(data['events'])} events"
    if data["truncated"]:
        note += f"; only the first {timeline.MAX_EVENTS} of: {', '.join(data['truncated'])}"
    if "changes_note" in data:
        note += f"; no changes ranked: {data['changes_note']}"
    events = [
        {k: e.get(k) for k in ("ts", "kind", "title", "link", "detail")} for e in data["events"]
    ]
    return (
        figures.timeline_figure(data),
        events,
        timeline.change_grid_rows(data["changes"]),
        note,
        *(hrefs[key] for _, key in LINKS),
    )


def event_detail(click: dict | None, events: list[dict] | None):
    """What the clicked event was, with its link; text only."""
    if not click or not events:
        raise PreventUpdate
    index = click["points"][0].get("customdata")
    if not isinstance(index, int) or not 0 <= index < len(events):
        raise PreventUpdate
    event = events[index]
    parts = [
        html.Strong(event["title"]),
        html.Span(f" · {event['kind'].replace('_', ' ')} · {time_label(event['ts'])} UTC"),
    ]
    if event.get("link"):
        parts += [" · ", html.A("Open", href=event["link"])]
    return [
        html.Div(parts),
        html.Pre(
            json.dumps(event["detail"], indent=1, sort_keys=True, default=str)[:4000],
            className="small bg-body-tertiary p-2 mb-0 text-wrap",
        ),
    ]


def selected_series(rows: list[dict] | None, range_key: str | None, window: dict | None):
    """The selected series before and in the window."""
    if not rows:
        return figures.empty_figure("Select a series to see it before and in the window.")
    row = rows[0]
    start, end = timerange.time_window(range_key, window, time.time())
    try:
        points, lo, hi = timeline.change_series(
            runtime(), row["name"], row["host"], row["labels"], start, end
        )
    except FieldError as exc:
        return figures.empty_figure(exc.message)
    return figures.series_figure(points, lo, hi, f"{row['series']} on {row['host']}")


def add_annotation(
    _clicks: int | None,
    title: str | None,
    text: str | None,
    tags: str | None,
    span: bool,
    range_key,
    window,
    added,
):
    """Store the form's annotation as the signed-in admin: now, or spanning the window."""
    ts = ts_end = None
    if span:
        ts, ts_end = timerange.time_window(range_key, window, time.time())
    try:
        annotations.create(
            runtime(),
            Actor(current_account(), request.remote_addr),
            title=title or "",
            text=text or "",
            tags=[t for t in (tags or "").split(",") if t.strip()],
            ts=ts,
            ts_end=ts_end,
            now=time.time(),
        )
    except ServiceError as exc:
        fields = exc.fields or {}
        message = "; ".join(f"{k}: {v}" for k, v in fields.items()) or exc.message
        return feedback(message, False), dash.no_update, dash.no_update
    return feedback("Annotation added.", True), (added or 0) + 1, ""


def register(app: dash.Dash) -> None:
    """Attach this section's callbacks to ``app``."""
    callback(
        app,
        Output(ids.DIAG_TIMELINE_FIGURE, "figure"),
        Output(ids.DIAG_TIMELINE_EVENTS, "data"),
        Output(ids.DIAG_TIMELINE_CHANGES, "rowData"),
        Output(ids.DIAG_TIMELINE_NOTE, "children"),
        *(Output(link, "href") for link, _ in LINKS),
        Input(ids.DIAG_RANGE, "value"),
        Input(ids.DIAG_WINDOW, "data"),
        Input(ids.DIAG_TIMELINE_ADDED, "data"),
        roles=READERS,
    )(show_timeline)
    callback(
        app,
        Output(ids.DIAG_TIMELINE_DETAIL, "children"),
        Input(ids.DIAG_TIMELINE_FIGURE, "clickData"),
        State(ids.DIAG_TIMELINE_EVENTS, "data"),
        roles=READERS,
        prevent_initial_call=True,
    )(event_detail)
    callback(
        app,
        Output(ids.DIAG_TIMELINE_SERIES, "figure"),
        Input(ids.DIAG_TIMELINE_CHANGES, "selectedRows"),
        State(ids.DIAG_RANGE, "value"),
        State(ids.DIAG_WINDOW, "data"),
        roles=READERS,
    )(selected_series)
    callback(
        app,
        Output(ids.DIAG_TIMELINE_FEEDBACK, "children"),
        Output(ids.DIAG_TIMELINE_ADDED, "data"),
        Output(ids.DIAG_TIMELINE_TITLE, "value"),
        Input(ids.DIAG_TIMELINE_ADD, "n_clicks"),
        State(ids.DIAG_TIMELINE_TITLE, "value"),
        State(ids.DIAG_TIMELINE_TEXT, "value"),
        State(ids.DIAG_TIMELINE_TAGS, "value"),
        State(ids.DIAG_TIMELINE_SPAN, "value"),
        State(ids.DIAG_RANGE, "value"),
        State(ids.DIAG_WINDOW, "data"),
        State(ids.DIAG_TIMELINE_ADDED, "data"),
        roles=ADMIN,
        prevent_initial_call=True,
    )(add_annotation)
