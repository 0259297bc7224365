"""WebSocket routes (flask-sock): the live metrics and alerts streams and the live log tail.

Past the upgrade there is no HTTP status left to answer with: an error that ends a stream
is sent as ``{"type": "error", "code", "message", "fields"?, "retry_after"?}`` (the codes
of the JSON error shape) and the socket is closed with a close code that says whether to
try again.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Callable

from flask import request
from flask_sock import ConnectionClosed, Sock

from app.api.errors import ApiError, describe
from app.auth import READERS, roles
from app.log_tail import encode
from app.runtime import runtime
from app.services import FieldError
from app.services.log_search import build_query
from storage.live import ALERTS_CHANNEL, METRICS_CHANNEL, Subscription
from storage.logquery import Query

log = logging.getLogger(__name__)
sock = Sock()
CLIENT_QUEUE = 100
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013
CLOSE_WAIT_SECONDS = 2.0


def close_code(status: int) -> int:
    """The WebSocket close code for an error of HTTP ``status``."""
    if status in (429, 503):
        return TRY_AGAIN_LATER
    return INTERNAL_ERROR if status >= 500 else POLICY_VIOLATION


def error_frame(error: ApiError) -> dict:
    """The message that tells a WebSocket client why its stream ends."""
    frame = {"type": "error", **error.body()["error"]}
    if "Retry-After" in error.headers:
        frame["retry_after"] = int(error.headers["Retry-After"])
    return frame


def reports_errors(route: Callable) -> Callable:
    """Turn an error that ends a WebSocket route into an error frame and a close code (left
    to flask-sock, it would become an HTTP error page written into the open socket)."""

    @functools.wraps(route)
    def run(ws, *args, **kwargs) -> None:
        try:
            route(ws, *args, **kwargs)
        except ConnectionClosed:
            pass
        except Exception as exc:
            error = describe(exc)
            if error is None:
                log.exception("WebSocket %s failed", request.path)
                error = ApiError(500, "internal", "Internal error; see the server log.")
            with contextlib.suppress(ConnectionClosed):
                ws.send(json.dumps(error_frame(error)))
                ws.close(reason=close_code(error.status), message=error.code)
        if not ws.connected:
            # The socket's reader marks it closed before it answers the client's close
            # frame, and under Werkzeug's server what the route returns is then written
            # into the socket: let the answer go out first, or the client reads an HTTP
            # status line where it expects a frame.
            ws.thread.join(timeout=CLOSE_WAIT_SECONDS)

    return run


@sock.route("/api/v1/admin/monitoring/stream")
@roles(*READERS)
@reports_errors
def monitoring_stream(ws) -> None:
    """Push every collection as ``{"type": "metrics", "ts", "samples"}``.

    Each client has its own bounded queue: a slow client loses its oldest messages and is
    told how many with ``{"type": "dropped", "count": n}``; other clients are unaffected.
    """
    rt = runtime()
    subscription = rt.bus.subscribe(METRICS_CHANNEL, maxsize=CLIENT_QUEUE)
    try:
        latest = rt.bus.latest(METRICS_CHANNEL)
        if latest is not None:
            ws.send(json.dumps(latest))
        _forward(ws, subscription)
    finally:
        subscription.close()


@sock.route("/api/v1/admin/alerts/stream")
@roles(*READERS)
@reports_errors
def alerts_stream(ws) -> None:
    """Push every alert transition and human action as ``{"type": "alert", "event",
    "alert"}`` (the alert as the alerts API shows it), with the same bounded queue and
    ``dropped`` notices as the metrics stream."""
    subscription = runtime().bus.subscribe(ALERTS_CHANNEL, maxsize=CLIENT_QUEUE)
    try:
        _forward(ws, subscription)
    finally:
        subscription.close()


def _forward(ws, subscription: Subscription) -> None:
    """Send each message of ``subscription`` while the client is connected, telling it
    how many it lost when its queue overflowed."""
    try:
        while ws.connected:
            message = subscription.get(timeout=1.0)
            dropped = subscription.take_dropped()
            if dropped:
                ws.send(json.dumps({"type": "dropped", "count": dropped}))
            if message is not None:
                ws.send(json.dumps(message))
    except ConnectionClosed:
        pass


BACKLOG_DEFAULT = 100
BACKLOG_MAX = 1000
CATCH_UP_BATCH = 500
WAIT_SECONDS = 1.0


def tail_query(args) -> Query:
    """The tail's filter: ``q`` plus the ``level``/``source``/``host`` shorthands."""
    return build_query(args.get("q", ""), args.get("level"), args.get("source"), args.get("host"))


@sock.route("/api/v1/admin/logs/stream")
@roles(*READERS)
@reports_errors
def logs_stream(ws) -> None:
    """Live tail: the last ``backlog`` matching records (or, with ``last_id``, exactly the
    ones after it), then each new one as it commits, as ``{"type": "log", ...}``.

    The process's tail hub reads new records once for every tail; this connection sends
    what matched up to the id the hub starts from itself, so nothing is missed or sent
    twice. A client more than ``MAX_LAG`` records behind loses the oldest and is told
    ``{"type": "dropped", "count": n}``; it can fetch them with ``last_id`` again.
    """
    rt = runtime()
    query = tail_query(request.args)
    backlog = min(_count(request.args, "backlog", BACKLOG_DEFAULT), BACKLOG_MAX)
    last_id = _count(request.args, "last_id", None)
    client, start = rt.tail_hub.join(query)
    try:
        if last_id is None:
            for record in rt.logs.latest(query, start, backlog) if backlog else []:
                ws.send(encode(record))
        else:
            _send_between(ws, rt, query, last_id, start)  # what the client missed
        ws.send(json.dumps({"type": "ready", "last_id": start}))
        while ws.connected:
            items, dropped = client.take(WAIT_SECONDS)
            if dropped:
                ws.send(json.dumps({"type": "dropped", "count": dropped}))
            for _, text in items:
                ws.send(text)
    except ConnectionClosed:
        pass
    finally:
        rt.tail_hub.leave(client)


def _count(args, name: str, default: int | None) -> int | None:
    """The whole number 0 or more in ``args[name]``, or ``default`` when it is not given."""
    value = args.get(name, "")
    if value == "":
        return default
    if not value.isdigit():
        raise FieldError(name, "must be a whole number, 0 or more")
    return int(value)


def _send_between(ws, rt, query: Query, last_id: int, upto: int) -> None:
    """Send every matching record with an id in (last_id, upto], oldest first."""
    while True:
        records = rt.logs.after(last_id, query, CATCH_UP_BATCH, upto=upto)
        for record in records:
            ws.send(encode(record))
            last_id = record.id
        if len(records) < CATCH_UP_BATCH:
            return
