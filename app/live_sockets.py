"""Open WebSockets held by one event loop thread, not by a server thread each.

A route accepts the upgrade in its server thread (after the auth guard has run), may send
what comes first with blocking writes, and then hands the socket to the process's
``SocketLoop``: the loop answers pings and closes and writes every frame without ever
waiting on a slow client, whose oldest frames are dropped past its bound (and counted, so
the client can be told). The server thread returns at once, under gunicorn and under
Werkzeug's development server alike: the server's socket object is pointed elsewhere, so
neither can read from the connection, write into it or close it.

Server frames are not masked and no extension is negotiated, so a message's frame is the
same bytes for every client: it is built once and written to each.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable

from flask import Response
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    Request,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

log = logging.getLogger(__name__)

NORMAL_CLOSURE = 1000
GOING_AWAY = 1001
CLOSE_WAIT_SECONDS = 2.0
"""How long a closing side waits for the client to answer its close frame."""
SEND_WAIT_SECONDS = 30.0
"""How long a route's thread waits for a client that reads nothing of what comes first (a
tail's backlog): then the client is let go and the thread is free again."""
VERSION = 13
"""The only WebSocket protocol version there is (RFC 6455)."""
NOT_AN_UPGRADE = "This address is a WebSocket; connect with an upgrade."
HIGH_WATER = 256 * 1024
"""Bytes a client's transport may buffer before its frames queue (and may be dropped)."""
SEND_BUFFER = 256 * 1024
"""Bytes the kernel may hold for a client (it doubles this for its own bookkeeping): left to
grow, it takes up to megabytes for each slow client before the queue's bound applies."""


def frame(text: str) -> bytes:
    """The unmasked, final text frame carrying ``text``."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x81, 126, size)
    else:
        head = struct.pack("!BBQ", 0x81, 127, size)
    return head + payload


class NotAnUpgrade(ValueError):
    """The request is not a valid WebSocket upgrade: it is answered ``status`` (a 4xx) with
    ``headers``."""

    def __init__(self, reason: str, status: int = 400, headers: dict[str, str] | None = None):
        super().__init__(reason)
        self.status = status
        self.headers = headers or {}


def _upgrade_request(environ: dict) -> bytes:
    """The HTTP request the server already parsed, rebuilt for the WebSocket handshake."""
    target = environ.get("PATH_INFO", "/")
    if environ.get("QUERY_STRING"):
        target += "?" + environ["QUERY_STRING"]
    lines = [f"{environ.get('REQUEST_METHOD', 'GET')} {target} HTTP/1.1"]
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            lines.append(f"{key[5:].replace('_', '-')}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Handshaken:
    """An accepted WebSocket, still written to by the route's thread.

    The answer to the upgrade (``101 Switching Protocols``) goes out with the first thing
    sent, or when the peer is started: a client that sees its socket open is already
    subscribed, and misses nothing published from then on.
    """

    def __init__(
        self, sock: socket.socket, conn: WSConnection, loop: SocketLoop, greeting: bytes
    ) -> None:
        self.sock = sock
        self.conn = conn
        self.loop = loop
        self._greeting: bytes | None = greeting
        self.reserved = False
        """Whether this socket holds one of the loop's places."""
        self.adopted = False
        self.closed = False

    def send(self, text: str) -> None:
        """Send one text message, waiting while the client is slow to read it (at most
        SEND_WAIT_SECONDS, then ``TimeoutError``)."""
        self.sock.sendall(self._take_greeting() + frame(text))

    def _take_greeting(self) -> bytes:
        greeting, self._greeting = self._greeting or b"", None
        return greeting

    def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close with ``code`` and ``reason``, waiting briefly for the client's answer."""
        if self.closed:
            return
        self.closed = True
        try:
            closing = self.conn.send(CloseConnection(code=code, reason=reason))
            self.sock.settimeout(CLOSE_WAIT_SECONDS)
            self.sock.sendall(self._take_greeting() + closing)
            while data := self.sock.recv(4096):
                self.conn.receive_data(data)
                if any(isinstance(e, CloseConnection) for e in self.conn.events()):
                    break
        except (OSError, LocalProtocolError, RemoteProtocolError):
            pass  # the client is gone or misbehaved: closing is all that is left
        finally:
            self.sock.close()
            if self.reserved:
                self.loop.release()

    def adopt(self, max_queued: int) -> Peer:
        """Hand the socket to the loop, which writes to it from now on; at most
        ``max_queued`` messages wait for a slow client before the oldest are dropped.
        Until ``Peer.start`` what is pushed waits, if the upgrade was not answered yet."""
        self.adopted, self.reserved = True, False  # the peer gives the place back
        return self.loop.adopt(self.sock, self.conn, max_queued, self._take_greeting() or None)


def accept(environ: dict, loop: SocketLoop) -> Handshaken:
    """Answer the WebSocket upgrade in ``environ`` and take its socket from the server."""
    raw = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if raw is None or environ.get("HTTP_UPGRADE", "").lower() != "websocket":
        raise NotAnUpgrade(NOT_AN_UPGRADE)
    conn = WSConnection(ConnectionType.SERVER)
    try:
        conn.receive_data(_upgrade_request(environ))
        event = next(conn.events(), None)
    except RemoteProtocolError as exc:
        hint = exc.event_hint
        status = getattr(hint, "status_code", 400)
        headers = {k.decode(): v.decode() for k, v in getattr(hint, "headers", ())}
        reason = f"Sec-WebSocket-Version must be {VERSION}." if status == 426 else str(exc)
        raise NotAnUpgrade(reason, status, headers) from None
    if not isinstance(event, Request):
        raise NotAnUpgrade(NOT_AN_UPGRADE)
    if not _valid_key(environ.get("HTTP_SEC_WEBSOCKET_KEY", "")):
        raise NotAnUpgrade("Sec-WebSocket-Key must be 16 bytes in base64.")
    accepted = conn.send(AcceptConnection())
    sock = socket.socket(fileno=os.dup(raw.fileno()))
    _blind(raw)
    sock.settimeout(SEND_WAIT_SECONDS)
    return Handshaken(sock, conn, loop, accepted)


def _valid_key(key: str) -> bool:
    """Whether ``key`` is what RFC 6455 asks a client to send: 16 random bytes in base64."""
    try:
        return len(key) == 24 and len(base64.b64decode(key, validate=True)) == 16
    except binascii.Error:
        return False


def _blind(server_socket: socket.socket) -> None:
    """Point the server's socket object at a socket that reads end-of-file: the server
    then ends the connection on its side (Werkzeug reads on for a next request) while the
    real connection lives on in the copy of its descriptor that is ours."""
    spare, gone = socket.socketpair()
    gone.close()
    os.dup2(spare.fileno(), server_socket.fileno())
    spare.close()


class _Detached(Response):
    """What a WebSocket route returns to the server once the socket is no longer its own:
    the server must not write a response into it (flask-sock ends the request alike)."""

    def __call__(self, environ, start_response):
        if "gunicorn.socket" in environ:
            raise StopIteration  # gunicorn then closes its side of the connection quietly
        raise ConnectionError("WebSocket handed over")  # Werkzeug: the client went away


def detached() -> Response:
    """The response that ends the HTTP side of a WebSocket route."""
    return _Detached()


class Peer(asyncio.Protocol):
    """One open WebSocket in the loop: a bounded queue of frames waiting for a slow
    client and what to do when it closes. Every method runs in the loop's thread."""

    def __init__(
        self, conn: WSConnection, max_queued: int, loop: SocketLoop, greeting: bytes | None
    ) -> None:
        self._conn = conn
        self._greeting = greeting
        self._max_queued = max_queued
        self._loop = loop
        self._queue: deque[tuple[int, bytes]] = deque()
        self._queued = 0
        self._dropped = 0
        self._paused = False
        self._transport: asyncio.Transport | None = None
        self._on_close: list[Callable[[], None]] = []
        self.closed = False

    def connection_made(self, transport) -> None:
        self._transport = transport
        transport.set_write_buffer_limits(high=HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        try:
            self._conn.receive_data(data)
            for event in self._conn.events():
                if isinstance(event, Ping):
                    self._transport.write(self._conn.send(event.response()))
                elif isinstance(event, CloseConnection):
                    self._transport.write(self._conn.send(event.response()))
                    self._transport.close()
        except RemoteProtocolError:
            self._transport.abort()

    def eof_received(self) -> bool:
        return False  # the client closed without a close frame: close too

    def connection_lost(self, exc) -> None:
        self.closed = True
        self._queue.clear()
        self._loop.release()
        for callback in self._on_close:
            try:
                callback()
            except Exception:
                log.exception("WebSocket close callback failed")

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._greeting is None:
            self._flush()

    def start(self) -> None:
        """Answer the upgrade if that is still to do, then write what waits."""
        if self._greeting is not None and not self.closed:
            self._transport.write(self._greeting)
            self._greeting = None
            self._flush()

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` (in the loop's thread) once the socket is closed."""
        if self.closed:
            callback()
        else:
            self._on_close.append(callback)

    def push(self, count: int, data: bytes) -> None:
        """Write ``data`` (``count`` messages), or queue it while the client is slow."""
        if self.closed:
            return
        if self._greeting is not None or self._paused or self._queue:
            self._queue.append((count, data))
            self._queued += count
            while self._queued > self._max_queued and len(self._queue) > 1:
                dropped, _ = self._queue.popleft()
                self._queued -= dropped
                self._dropped += dropped
        else:
            self._transport.write(data)

    def close(self, code: int, reason: str) -> None:
        """Send a close frame and close once it is written."""
        if self.closed or self._transport.is_closing():
            return
        self._queue.clear()
        if self._greeting is not None:
            self._transport.write(self._greeting)
            self._greeting = None
        self._transport.write(self._conn.send(CloseConnection(code=code, reason=reason)))
        self._transport.close()

    def _flush(self) -> None:
        if self._dropped and not self.closed:
            notice = frame(json.dumps({"type": "dropped", "count": self._dropped}))
            self._dropped = 0
            self._transport.write(notice)
        while self._queue and not self._paused and not self.closed:
            count, data = self._queue.popleft()
            self._queued -= count
            self._transport.write(data)


class SocketLoop:
    """The event loop thread that owns every adopted WebSocket of the process."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._open = 0
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="pulseboard-websockets", daemon=True
        )
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the loop's thread still runs."""
        return self._thread.is_alive()

    def reserve(self, capacity: int) -> bool:
        """Take a place for one more WebSocket, unless ``capacity`` are open already."""
        with self._lock:
            if self._open >= capacity:
                return False
            self._open += 1
            return True

    def release(self) -> None:
        """Give back the place of a WebSocket that closed."""
        with self._lock:
            self._open -= 1

    def adopt(
        self, sock: socket.socket, conn: WSConnection, max_queued: int, greeting: bytes | None
    ) -> Peer:
        """Own ``sock`` from now on; returns its peer once the loop watches it (holding
        what is pushed until it is started, when ``greeting`` is still to be sent)."""
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        peer = Peer(conn, max_queued, self, greeting)

        async def attach() -> None:
            await self._loop.connect_accepted_socket(lambda: peer, sock)

        asyncio.run_coroutine_threadsafe(attach(), self._loop).result()
        return peer

    def call(self, callback: Callable[..., None], *args) -> None:
        """Run ``callback(*args)`` in the loop's thread (where peers may be written to)."""
        self._loop.call_soon_threadsafe(callback, *args)

    def send(self, deliveries: list[tuple[Peer, int, bytes]]) -> None:
        """Push each ``(peer, count, data)`` in the loop's thread, in this order."""
        if deliveries:
            self._loop.call_soon_threadsafe(_push_all, deliveries)


def _push_all(deliveries: list[tuple[Peer, int, bytes]]) -> None:
    for peer, count, data in deliveries:
        peer.push(count, data)


_shared: SocketLoop | None = None
_shared_lock = threading.Lock()


def shared_loop() -> SocketLoop:
    """The process's socket loop, started on first use (and again should its thread have
    been stopped, as a test server's shutdown stops every thread it did not start with)."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive:
            _shared = SocketLoop()
        return _shared
