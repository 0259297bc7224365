"""``pulseboard serve``: gunicorn with threads, one worker, the app built inside it.

The threads answer HTTP requests; an open WebSocket is held by the socket loop
(``app.live_sockets``), not by one of them."""

from __future__ import annotations

import json
import sys

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.workers.gthread import ThreadWorker
from werkzeug.exceptions import RequestHeaderFieldsTooLarge, RequestURITooLarge
from werkzeug.http import HTTP_STATUS_CODES

from app.settings import Settings
from storage import db

TOO_LARGE = (
    (LimitRequestLine, RequestURITooLarge),
    (LimitRequestHeaders, RequestHeaderFieldsTooLarge),
)
"""Gunicorn's refusals of a request it would not read, and the HTTP errors they are."""
SWITCH_INTERVAL = 0.0005
"""Seconds a thread may hold the GIL while another waits for it."""


class PulseboardWorker(ThreadWorker):
    """Gunicorn's threaded worker, answering 414 and 431 in the API's JSON error shape.

    Gunicorn refuses a request line or headers past its limits before the app sees the
    request, and would answer with an HTML page.
    """

    def handle_error(self, req, client, addr, exc) -> None:
        """Answer a request line or headers that are too large with a JSON error."""
        refusal = next((http for limit, http in TOO_LARGE if isinstance(exc, limit)), None)
        if refusal is None:
            super().handle_error(req, client, addr, exc)
            return
        # The worker has the app loaded; the master, which imports this module, need not.
        from app.api.errors import from_http_exception

        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        error = from_http_exception(refusal())
        body = json.dumps(error.body()).encode()
        head = (
            f"HTTP/1.1 {error.status} {HTTP_STATUS_CODES[error.status]}\r\n"
            "Connection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        try:
            util.write_nonblock(client, head.encode("latin-1") + body)
        except OSError:
            self.log.debug("Failed to send error message.")


class PulseboardServer(BaseApplication):
    """Gunicorn configured in code, so ``serve`` needs no config file."""

    def __init__(self, settings: Settings, host: str, port: int, threads: int) -> None:
        self.settings = settings
        self.options = {
            "bind": f"{host}:{port}",
            "workers": 1,
            "worker_class": PulseboardWorker,
            "threads": threads,
            # A long export or catch-up may take a while; no request timeout.
            "timeout": 0,
            "graceful_timeout": 10,
            "accesslog": None,
            "loglevel": "warning",
        }
        super().__init__()

    def load_config(self) -> None:
        """Apply ``self.options`` to gunicorn's config."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        """Build the app in the worker process (so the scheduler runs there)."""
        from app import create_app

        # The socket loop writes to each open WebSocket in turn, giving up the GIL for each
        # write; with request threads busy it would wait the whole interval (5 ms) to get
        # it back after every one of them.
        sys.setswitchinterval(SWITCH_INTERVAL)

        return create_app(self.settings).server


def run(settings: Settings, host: str, port: int, threads: int) -> None:
    """Serve until interrupted (migrating an embedded SQLite database first)."""
    if settings.is_sqlite:
        # Migrating loads Alembic for good: done apart, neither gunicorn's master nor the
        # worker it forks (which then finds the database current) holds it.
        db.upgrade_apart(settings.database_url)
    PulseboardServer(settings, host, port, threads).run()
