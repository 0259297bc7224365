"""A real HTTP receiver on 127.0.0.1 that records what it is sent: the far end of
channels, deliveries and end-to-end alerting tests."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    """One request a receiver took."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records requests and answers from ``replies``
    (then 200 ``{"ok": true}``)."""

    server: ThreadingHTTPServer
    requests: list[Request] = field(default_factory=list)
    replies: list[tuple[int, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def reply(self, status: int, body: str = "", **headers: str) -> None:
        """Answer the next request with ``status`` and ``body``."""
        self.replies.append((status, body))
        self.headers.update(headers)


@contextlib.contextmanager
def receiving(port: int = 0) -> Iterator[Receiver]:
    """A receiver serving in a thread until the block ends (on ``port``, or any free one)."""
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            got = holder[0]
            length = int(self.headers.get("Content-Length") or 0)
            got.requests.append(
                Request(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
            )
            status, body = got.replies.pop(0) if got.replies else (200, '{"ok": true}')
            data = body.encode()
            self.send_response(status)
            for name, value in got.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    holder.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield holder[0]
    server.shutdown()
    server.server_close()
    thread.join()
