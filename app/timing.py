"""Request timing for Pulseboard's own Flask app and for any WSGI app that mounts it.

Labels are route templates (``/api/v1/admin/users/<int:user_id>``), never raw paths, so
ids in URLs cannot multiply the series. A request slower than the timings' threshold is
also kept on its own, with its path and trace id, for the Diagnostics page.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable

from flask import Flask, request

from collectors.requests import UNMATCHED_ROUTE, RequestTimings
from storage.diagnostics.endpoints import SlowRequest

STARTED = "pulseboard.started"
TRACE_ID = "pulseboard.trace_id"
"""Where a request's trace id is kept in its WSGI environ once someone asked for it."""
REQUEST_ID_HEADER = "X-Request-Id"
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_ID_SEGMENT = re.compile(
    r"/(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,})(?=/|$)"
)


def install(server: Flask, timings: RequestTimings) -> None:
    """Time every request ``server`` answers (upgrades to WebSocket sessions are not)."""

    def start() -> None:
        request.environ[STARTED] = time.perf_counter()

    def finish(response):
        req = request._get_current_object()  # one context lookup instead of five
        environ = req.environ
        started = environ.get(STARTED)
        if started is not None and "HTTP_UPGRADE" not in environ:
            rule = req.url_rule
            route = rule.rule if rule is not None else UNMATCHED_ROUTE
            seconds = time.perf_counter() - started
            timings.record(route, req.method, response.status_code, seconds)
            if seconds >= timings.slow_threshold:
                record_slow(timings, environ, route, response.status_code, seconds)
        if TRACE_ID in environ:  # someone (a log line, a slow request) used it: say which
            response.headers[REQUEST_ID_HEADER] = environ[TRACE_ID]
        return response

    # First in line, so refused (401/403) and throttled requests are timed too.
    server.before_request_funcs.setdefault(None, []).insert(0, start)
    server.after_request(finish)


def trace_id_of(environ: dict) -> str:
    """The request's trace id: the trace-id of its W3C ``traceparent`` header, else its
    ``X-Request-Id`` (when it is a plain token), else a new one; the same on every call."""
    known = environ.get(TRACE_ID)
    if known is not None:
        return known
    parent = _TRACEPARENT.fullmatch(environ.get("HTTP_TRACEPARENT", "").strip().lower())
    given = environ.get("HTTP_X_REQUEST_ID", "").strip()
    if parent and parent.group(1) != "0" * 32:
        trace_id = parent.group(1)
    elif _REQUEST_ID.fullmatch(given):
        trace_id = given
    else:
        trace_id = uuid.uuid4().hex
    environ[TRACE_ID] = trace_id
    return trace_id


def record_slow(
    timings: RequestTimings, environ: dict, route: str, status: int, seconds: float
) -> None:
    """Keep one slow request with its path (without the query string) and trace id."""
    timings.record_slow(
        SlowRequest(
            ts=time.time(),
            route=route,
            method=environ.get("REQUEST_METHOD", "GET"),
            path=environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "/"),
            status=status,
            duration_s=seconds,
            trace_id=trace_id_of(environ),
        )
    )


def template_of(path: str) -> str:
    """A route label for a raw path: numeric, UUID and long hex segments become ``{id}``."""
    return _ID_SEGMENT.sub("/{id}", path) or "/"


class TimingMiddleware:
    """WSGI middleware recording every request of ``app`` into ``timings``.

    For apps that are not Pulseboard's own: routes come from ``route_of(environ)``, by
    default the path with id-like segments folded (see ``template_of``).
    """

    def __init__(
        self, app, timings: RequestTimings, route_of: Callable[[dict], str] | None = None
    ) -> None:
        self.app = app
        self.timings = timings
        self.route_of = route_of or (lambda environ: template_of(environ.get("PATH_INFO", "/")))

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        started = time.perf_counter()
        status = [500]

        def recording_start_response(status_line: str, headers, exc_info=None):
            status[0] = int(status_line[:3])
            return start_response(status_line, headers, exc_info)

        try:
            return self.app(environ, recording_start_response)
        finally:
            route = self.route_of(environ)
            seconds = time.perf_counter() - started
            self.timings.record(route, environ.get("REQUEST_METHOD", "GET"), status[0], seconds)
            if seconds >= self.timings.slow_threshold:
                record_slow(self.timings, environ, route, status[0], seconds)
