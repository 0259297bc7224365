"""WebSocket routes (flask-sock): the live metrics stream and the live log tail."""

from __future__ import annotations

import json

from flask import request
from flask_sock import ConnectionClosed, Sock

from app.auth import READERS, roles
from app.runtime import runtime
from app.services import FieldError
from app.services.log_search import build_query
from collectors.scheduler import METRICS_CHANNEL
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


LOGS_CHANNEL = "logs"
BACKLOG_DEFAULT = 100
BACKLOG_MAX = 1000
CATCH_UP_BATCH = 500
MAX_LAG = 10_000
"""Records a client may fall behind before the oldest are skipped with a dropped notice."""


def tail_query(args) -> Query:
    """The tail's filter: ``q`` plus the ``level``/``source``/``host`` shorthands."""
    return build_query(args.get("q", ""), args.get("level"), args.get("source"), args.get("host"))


@sock.route("/api/v1/admin/logs/stream")
@roles(*READERS)
def logs_stream(ws) -> None:
    """Live tail: the last ``backlog`` matching records (or, with ``last_id``, exactly the
    ones after it), then each new one as it commits, as ``{"type": "log", ...}``.

    The database is the queue: every record is read by id, so a reconnect with ``last_id``
    has no gap and no duplicate, and a slow client only lags. A client more than
    ``MAX_LAG`` records behind skips ahead and is told ``{"type": "dropped", "count": n}``.
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
    subscription = rt.bus.subscribe(LOGS_CHANNEL, maxsize=10)
    try:
        if last_id is None:
            recent = rt.logs.search(query, limit=backlog).records if backlog else []
            for record in reversed(recent):
                ws.send(json.dumps({"type": "log", **record.to_dict()}))
            last_id = max([r.id for r in recent], default=rt.logs.latest_id())
        else:
            last_id = _send_after(ws, rt, query, last_id)  # what the client missed
        ws.send(json.dumps({"type": "ready", "last_id": last_id}))
        while ws.connected:
            newest = rt.logs.latest_id()
            if newest - last_id > MAX_LAG:
                skipped = rt.logs.count_between(last_id, newest - MAX_LAG, query)
                last_id = newest - MAX_LAG
                if skipped:
                    ws.send(json.dumps({"type": "dropped", "count": skipped}))
            last_id = _send_after(ws, rt, query, last_id)
            # Woken by a commit anywhere (through the bus), or after a short poll.
            subscription.get(timeout=0.5)
            subscription.take_dropped()
    except ConnectionClosed:
        pass
    finally:
        subscription.close()


def _send_after(ws, rt, query: Query, last_id: int) -> int:
    """Send every matching record after ``last_id``, oldest first; the new last id."""
    while True:
        records = rt.logs.after(last_id, query, CATCH_UP_BATCH)
        for record in records:
            ws.send(json.dumps({"type": "log", **record.to_dict()}))
            last_id = record.id
        if len(records) < CATCH_UP_BATCH:
            return last_id
