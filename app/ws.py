"""WebSocket routes: the live metrics and alerts streams and the live log tail.

Each route is a Flask route (so the auth guard and the Origin check run as for any
request); once the upgrade is answered and what comes first is sent, the socket goes to
the process's socket loop (``app.live_sockets``) and the server thread is free again. Each
message is encoded once, whatever the number of clients.

Past ``PULSEBOARD_WS_MAX_CLIENTS`` open WebSockets a new one is accepted and closed at once
with close code 1013 (try again later), after an error frame saying so.

Past the upgrade there is no HTTP status left to answer with: an error that ends a stream
is sent as ``{"type": "error", "code", "message", "fields"?, "retry_after"?}`` (the codes
of the JSON error shape) and the socket is closed with a close code that says whether to
try again.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable

from flask import Flask, current_app, request

from app.api.errors import ApiError, describe
from app.auth import READERS, roles
from app.live_sockets import (
    GOING_AWAY,
    NOT_AN_UPGRADE,
    Handshaken,
    NotAnUpgrade,
    Peer,
    accept,
    detached,
    frame,
    shared_loop,
)
from app.log_tail import MAX_LAG, encode
from app.runtime import runtime
from app.services import FieldError
from app.services.log_search import build_query
from storage.live import ALERTS_CHANNEL, METRICS_CHANNEL, LiveBus, Subscription
from storage.logquery import Query

log = logging.getLogger(__name__)
CLIENT_QUEUE = 100
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013


class Routes:
    """The WebSocket routes, registered on the Flask app by ``init_app``."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, Callable, Callable]] = []

    def route(self, rule: str) -> Callable[[Callable], Callable]:
        """Register ``view(ws)`` as the WebSocket at ``rule``; ``ws`` is the accepted socket,
        closed when the view returns unless the view handed it to the socket loop."""

        def register(view: Callable[[Handshaken], None]) -> Callable:
            @functools.wraps(view)
            def endpoint():
                loop = shared_loop()
                try:
                    ws = accept(request.environ, loop)
                except NotAnUpgrade as exc:
                    raise ApiError(
                        exc.status, "bad_upgrade", str(exc), headers=exc.headers
                    ) from None
                try:
                    capacity = runtime().settings.ws_max_clients
                    if loop.reserve(capacity):
                        ws.reserved = True
                        view(ws)
                    else:
                        _refuse(ws, capacity)
                finally:
                    if not ws.adopted:
                        ws.close()
                return detached()

            @functools.wraps(view)
            def plain():
                """A request to the address without an upgrade: say how to connect."""
                upgrade = {"Upgrade": "websocket"}
                raise ApiError(426, "upgrade_required", NOT_AN_UPGRADE, headers=upgrade)

            self._routes.append((rule, endpoint, plain))
            return endpoint

        return register

    def init_app(self, app: Flask) -> None:
        """Add the routes to ``app``, and start the socket loop that will own them."""
        for rule, endpoint, plain in self._routes:
            app.add_url_rule(rule, endpoint.__name__, endpoint, websocket=True)
            app.add_url_rule(rule, f"{endpoint.__name__}_plain", plain)
        # Started with the app rather than by the first client, so that a server which
        # stops the threads started while it ran (as Dash's test server does) leaves it be.
        shared_loop()


sock = Routes()


def _refuse(ws: Handshaken, capacity: int) -> None:
    """Tell a client past the capacity to come back later, and close."""
    message = f"Pulseboard serves at most {capacity} live connections; try again later."
    error = ApiError(503, "busy", message)
    try:
        ws.send(json.dumps(error_frame(error)))
    except OSError:
        return
    ws.close(TRY_AGAIN_LATER, message)


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
    to the server, it would become an HTTP error page written into the open socket)."""

    @functools.wraps(route)
    def run(ws: Handshaken, *args, **kwargs) -> None:
        try:
            route(ws, *args, **kwargs)
        except OSError:
            pass  # the client went away
        except Exception as exc:
            error = describe(exc)
            if error is None:
                log.exception("WebSocket %s failed", request.path)
                error = ApiError(500, "internal", "Internal error; see the server log.")
            if ws.adopted:
                return
            try:
                ws.send(json.dumps(error_frame(error)))
            except OSError:
                return
            ws.close(close_code(error.status), error.code)

    return run


BROADCAST_QUEUE = 1000
"""Messages a broadcast's reader may fall behind by: it never waits on a client, so it
falls behind only if starved."""


class Broadcast:
    """One bus channel's messages, each encoded once and pushed to every joined socket."""

    def __init__(
        self,
        name: str,
        subscription: Subscription,
        latest: Callable[[], dict | None] | None = None,
    ) -> None:
        """Fan out what ``subscription`` receives; a peer that joins is first sent what
        ``latest`` gives, when there is a ``latest``."""
        self._subscription = subscription
        self._read_latest = latest
        self._loop = shared_loop()
        self._lock = threading.Lock()
        self._peers: set[Peer] = set()
        self._latest: bytes | None = None
        threading.Thread(target=self._run, name=f"live-{name}", daemon=True).start()

    def join(self, peer: Peer) -> None:
        """Send ``peer`` every message from now on (the latest one first, for a broadcast
        that has one)."""
        with self._lock:
            if self._read_latest is not None:
                latest = self._latest
                if latest is None and (message := self._read_latest()):
                    latest = frame(json.dumps(message))
                if latest is not None:
                    self._loop.send([(peer, 1, latest)])
            self._peers.add(peer)
            self._loop.call(peer.start)  # after the latest, before anything newer
        self._loop.call(peer.on_close, lambda: self._leave(peer))

    def _leave(self, peer: Peer) -> None:
        with self._lock:
            self._peers.discard(peer)

    def _run(self) -> None:
        while not self._subscription.closed:
            message = self._subscription.get(timeout=1.0)
            if message is None:
                continue
            data = frame(json.dumps(message))
            with self._lock:
                self._latest = data
                self._loop.send([(peer, 1, data) for peer in self._peers])
        with self._lock:
            peers = list(self._peers)
        for peer in peers:
            self._loop.call(peer.close, GOING_AWAY, "server stopping")


_broadcasts_lock = threading.Lock()


def _broadcast(name: str, start: Callable[[LiveBus], Broadcast]) -> Broadcast:
    """The app's broadcast called ``name``, started by ``start(bus)`` on first use."""
    with _broadcasts_lock:
        broadcasts = current_app.extensions.setdefault("pulseboard.broadcasts", {})
        if name not in broadcasts:
            broadcasts[name] = start(runtime().bus)
        return broadcasts[name]


def _metrics(bus: LiveBus) -> Broadcast:
    return Broadcast(
        "metrics",
        bus.subscribe(METRICS_CHANNEL, maxsize=BROADCAST_QUEUE),
        latest=lambda: bus.latest(METRICS_CHANNEL),
    )


def _alerts(bus: LiveBus) -> Broadcast:
    return Broadcast("alerts", bus.subscribe(ALERTS_CHANNEL, maxsize=BROADCAST_QUEUE))


@sock.route("/api/v1/admin/monitoring/stream")
@roles(*READERS)
@reports_errors
def monitoring_stream(ws: Handshaken) -> None:
    """Push every collection as ``{"type": "metrics", "ts", "samples"}``, the latest one
    first.

    Each client has its own bounded queue: a slow client loses its oldest messages and is
    told how many with ``{"type": "dropped", "count": n}``; other clients are unaffected.
    """
    _broadcast("metrics", _metrics).join(ws.adopt(CLIENT_QUEUE))


@sock.route("/api/v1/admin/alerts/stream")
@roles(*READERS)
@reports_errors
def alerts_stream(ws: Handshaken) -> None:
    """Push every alert transition and human action as ``{"type": "alert", "event",
    "alert"}`` (the alert as the alerts API shows it), with the same bounded queue and
    ``dropped`` notices as the metrics stream."""
    _broadcast("alerts", _alerts).join(ws.adopt(CLIENT_QUEUE))


BACKLOG_DEFAULT = 100
BACKLOG_MAX = 1000
CATCH_UP_BATCH = 500


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
        peer = ws.adopt(MAX_LAG)
    except BaseException:
        rt.tail_hub.leave(client)
        raise
    rt.tail_hub.attach(client, peer, ws.loop)
    ws.loop.call(peer.on_close, lambda: rt.tail_hub.leave(client))


def _count(args, name: str, default: int | None) -> int | None:
    """The whole number 0 or more in ``args[name]``, or ``default`` when it is not given."""
    value = args.get(name, "")
    if value == "":
        return default
    if not value.isdigit():
        raise FieldError(name, "must be a whole number, 0 or more")
    return int(value)


def _send_between(ws: Handshaken, rt, query: Query, last_id: int, upto: int) -> None:
    """Send every matching record with an id in (last_id, upto], oldest first."""
    while True:
        records = rt.logs.after(last_id, query, CATCH_UP_BATCH, upto=upto)
        for record in records:
            ws.send(encode(record))
            last_id = record.id
        if len(records) < CATCH_UP_BATCH:
            return
