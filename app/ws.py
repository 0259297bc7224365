"""WebSocket routes (flask-sock): the live metrics stream and the live log tail."""

from __future__ import annotations

import json

from flask import request
from flask_sock import ConnectionClosed, Sock

from app.auth import READERS, roles
from app.log_tail import encode
from app.runtime import runtime
from app.services import FieldError
from app.services.log_search import build_query
from storage.live import METRICS_CHANNEL
from storage.logquery import Query

sock = Sock()
CLIENT_QUEUE = 100


@sock.route("/api/v1/admin/monitoring/stream")
@roles(*READERS)
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
        while ws.connected:
            message = subscription.get(timeout=1.0)
            dropped = subscription.take_dropped()
            if dropped:
                ws.send(json.dumps({"type": "dropped", "count": dropped}))
            if message is not None:
                ws.send(json.dumps(message))
    except ConnectionClosed:
        pass
    finally:
        subscription.close()


BACKLOG_DEFAULT = 100
BACKLOG_MAX = 1000
CATCH_UP_BATCH = 500
WAIT_SECONDS = 1.0


def tail_query(args) -> Query:
    """The tail's filter: ``q`` plus the ``level``/``source``/``host`` shorthands."""
    return build_query(args.get("q", ""), args.get("level"), args.get("source"), args.get("host"))


@sock.route("/api/v1/admin/logs/stream")
@roles(*READERS)
def logs_stream(ws) -> None:
    """Live tail: the last ``backlog`` matching records (or, with ``last_id``, exactly the
    ones after it), then each new one as it commits, as ``{"type": "log", ...}``.

    The process's tail hub reads new records once for every tail; this connection sends
    what matched up to the id the hub starts from itself, so nothing is missed or sent
    twice. A client more than ``MAX_LAG`` records behind loses the oldest and is told
    ``{"type": "dropped", "count": n}``; it can fetch them with ``last_id`` again.
    """
    rt = runtime()
    try:
        query = tail_query(request.args)
        backlog = min(int(request.args.get("backlog", BACKLOG_DEFAULT)), BACKLOG_MAX)
        last_id = request.args.get("last_id")
        last_id = None if last_id in (None, "") else int(last_id)
        if backlog < 0 or (last_id is not None and last_id < 0):
            raise ValueError("backlog and last_id must not be negative")
    except (FieldError, ValueError) as exc:
        ws.send(json.dumps({"type": "error", "message": str(exc)}))
        ws.close(reason=1008, message="bad query")
        return
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


def _send_between(ws, rt, query: Query, last_id: int, upto: int) -> None:
    """Send every matching record with an id in (last_id, upto], oldest first."""
    while True:
        records = rt.logs.after(last_id, query, CATCH_UP_BATCH, upto=upto)
        for record in records:
            ws.send(encode(record))
            last_id = record.id
        if len(records) < CATCH_UP_BATCH:
            return
