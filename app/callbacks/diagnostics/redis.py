"""Callbacks of the Diagnostics page · Redis: the section's figures on every refresh, and
the big-keys scan (start, poll while it runs, cancel)."""

from __future__ import annotations

import time

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State
from dash.exceptions import PreventUpdate
from flask import request

from app import ids
from app.auth import READERS, callback, current_account
from app.components.diagnostics.redis import figure_cards
from app.runtime import runtime
from app.services import NotFound, ServiceError, timerange
from app.services.accounts import Actor
from app.services.diagnostics import redis as service
from app.services.diagnostics import redis_view as view

ADMIN = ("admin",)
SLOWLOG_LINKS = [Output(link, "href") for link in ids.DIAG_REDIS_SLOWLOG_DOWNLOADS.values()]
BIGKEYS_LINKS = [Output(link, "href") for link in ids.DIAG_REDIS_BIGKEYS_DOWNLOADS.values()]


def _actor() -> Actor:
    return Actor(current_account(), request.remote_addr)


def _message(answer: dict) -> dbc.Alert | None:
    if answer["available"]:
        return None
    return dbc.Alert(answer["reason"], color="info", className="py-2 diag-redis-unavailable")


def section(range_key: str | None, window: dict | None, target: str | None) -> tuple:
    """Everything the section shows but the big-keys panel, and the newest job's id."""
    now = time.time()
    start, end = timerange.time_window(range_key, window, now)
    rt = runtime()
    if target not in service.watched(rt):
        target = None  # the first, as when the section opens
    answer = service.overview(rt, target, start=start, end=end, now=now)
    options = [{"label": t, "value": t} for t in answer["targets"]]
    latency = answer.get("latency")
    job = answer.get("bigkeys")
    link_end = end if window else None  # a preset runs to the moment of the download
    return (
        options,
        answer["target"] or "",
        _message(answer),
        figure_cards(view.figures(answer.get("memory"))),
        view.slowlog_rows(answer.get("slowlog", [])),
        view.latency_rows(latency),
        view.doctor_text(latency),
        job["id"] if job else None,
        *[view.slowlog_href(answer["target"], start, link_end, f) for f in ("csv", "json")],
    )


def panel(job_id: str | None) -> tuple:
    """The big-keys panel for the job shown."""
    try:
        job = service.get_job(runtime(), job_id) if job_id else None
    except NotFound:
        job = None  # the page outlived it (a database emptied meanwhile)
    shown = view.job_panel(job)
    return (
        shown.percent,
        shown.label,
        shown.running,
        shown.running,
        shown.status,
        shown.rows,
        not shown.running,
        shown.running,
        *[view.bigkeys_href(job_id, f) for f in ("csv", "json")],
    )


def register(app: dash.Dash) -> None:
    """Attach this section's callbacks to ``app``."""
    callback(
        app,
        Output(ids.DIAG_REDIS_TARGET, "options"),
        Output(ids.DIAG_REDIS_TARGET, "value"),
        Output(ids.DIAG_REDIS_MESSAGE, "children"),
        Output(ids.DIAG_REDIS_CARDS, "children"),
        Output(ids.DIAG_REDIS_SLOWLOG, "rowData"),
        Output(ids.DIAG_REDIS_LATENCY, "rowData"),
        Output(ids.DIAG_REDIS_DOCTOR, "children"),
        Output(ids.DIAG_REDIS_BIGKEYS_JOB, "data"),
        *SLOWLOG_LINKS,
        Input(ids.DIAG_RANGE, "value"),
        Input(ids.DIAG_WINDOW, "data"),
        Input(ids.DIAG_REFRESH, "n_intervals"),
        Input(ids.DIAG_REDIS_TARGET, "value"),
        roles=READERS,
    )(lambda range_key, window, _tick, target: section(range_key, window, target))

    callback(
        app,
        Output(ids.DIAG_REDIS_BIGKEYS_PROGRESS, "value"),
        Output(ids.DIAG_REDIS_BIGKEYS_PROGRESS, "label"),
        Output(ids.DIAG_REDIS_BIGKEYS_PROGRESS, "striped"),
        Output(ids.DIAG_REDIS_BIGKEYS_PROGRESS, "animated"),
        Output(ids.DIAG_REDIS_BIGKEYS_STATUS, "children"),
        Output(ids.DIAG_REDIS_BIGKEYS_GRID, "rowData"),
        Output(ids.DIAG_REDIS_BIGKEYS_POLL, "disabled"),
        Output(ids.DIAG_REDIS_BIGKEYS_START, "disabled"),
        *BIGKEYS_LINKS,
        Input(ids.DIAG_REDIS_BIGKEYS_JOB, "data"),
        Input(ids.DIAG_REDIS_BIGKEYS_POLL, "n_intervals"),
        roles=READERS,
    )(lambda job_id, _tick: panel(job_id))

    callback(
        app,
        Output(ids.DIAG_REDIS_BIGKEYS_CANCEL, "disabled"),
        Input(ids.DIAG_REDIS_BIGKEYS_POLL, "disabled"),
        roles=READERS,
    )(lambda stopped: bool(stopped))

    @callback(
        app,
        Output(ids.DIAG_REDIS_BIGKEYS_JOB, "data", allow_duplicate=True),
        Output(ids.DIAG_REDIS_BIGKEYS_ACTION, "children"),
        Input(ids.DIAG_REDIS_BIGKEYS_START, "n_clicks"),
        State(ids.DIAG_REDIS_TARGET, "value"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def start(clicks, target):
        """Start a scan of the chosen target and show it."""
        if not clicks:
            raise PreventUpdate
        try:
            job = service.start_bigkeys(runtime(), target or None, _actor())
        except ServiceError as exc:
            return dash.no_update, exc.message
        return job["id"], ""

    @callback(
        app,
        Output(ids.DIAG_REDIS_BIGKEYS_ACTION, "children", allow_duplicate=True),
        Input(ids.DIAG_REDIS_BIGKEYS_CANCEL, "n_clicks"),
        State(ids.DIAG_REDIS_BIGKEYS_JOB, "data"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def cancel(clicks, job_id):
        """Ask the scan shown to stop (the poll shows when it has)."""
        if not clicks or not job_id:
            raise PreventUpdate
        try:
            service.cancel_job(runtime(), job_id, _actor())
        except ServiceError as exc:
            return exc.message
        return ""
