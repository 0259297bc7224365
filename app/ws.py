"""WebSocket routes (flask-sock): the live metrics stream."""

from __future__ import annotations

import json

from flask_sock import ConnectionClosed, Sock

from app.auth import READERS, roles
from app.runtime import runtime
from collectors.scheduler import METRICS_CHANNEL

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
