"""Typed API errors, the one JSON shape every error response has, and the one place that
turns the services' domain errors (and an unreachable database) into HTTP answers."""

from __future__ import annotations

import logging
from html import escape

import dash
from dash.exceptions import DependencyException
from flask import Flask, Response, current_app, jsonify, make_response, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from app.services import (
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    Saturated,
    ServiceError,
    TooLarge,
    TooManyRecords,
    Unavailable,
    UnsupportedMedia,
    database_unreachable,
)

log = logging.getLogger(__name__)

DASH_CATCH_ALL = "/<path:path>"
"""The endpoint Dash registers for its pages: every path no other route claims."""
NOT_FOUND_PAGE = "/404"
"""The page Dash draws for an address no page has."""
JSON_PATHS = ("/api/", "/_")
"""Paths called by programs (the API, WebSockets, Dash's own ``/_…`` routes) and
``/metrics``: they get JSON errors, people get pages."""
DATABASE_RETRY_AFTER = 5
"""Seconds a caller is told to wait while the database is unreachable."""
DATABASE_DOWN = "The database is unavailable; nothing was read or stored. Retry shortly."

STATUS: dict[type[ServiceError], tuple[int, str]] = {
    Invalid: (400, "invalid"),
    Forbidden: (403, "forbidden"),
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
    TooLarge: (413, "too_large"),
    TooManyRecords: (413, "too_many_records"),
    UnsupportedMedia: (415, "unsupported_media_type"),
    Saturated: (429, "busy"),
    Unavailable: (503, "unavailable"),
    ServiceError: (500, "internal"),
}
"""The HTTP status and error code of each domain error (the closest ancestor listed wins)."""


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict:
    """The JSON body of every error response: ``{"error": {"code", "message", "fields"?}}``."""
    error: dict = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


class ApiError(Exception):
    """An error the API reports to the caller as ``{"error": {...}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers or {}

    def body(self) -> dict:
        """The JSON body of the response."""
        return error_body(self.code, self.message, self.fields)


def bad_request(fields: dict[str, str]) -> ApiError:
    """A 400 naming each bad field with what is wrong with it."""
    names = ", ".join(fields)
    return ApiError(400, "invalid", f"Invalid parameter: {names}", fields)


def from_validation_error(exc: ValidationError) -> ApiError:
    """Turn pydantic's report into a 400 naming each field."""
    fields: dict[str, str] = {}
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "body"
        fields.setdefault(name, err["msg"])
    return bad_request(fields)


def from_service_error(exc: ServiceError) -> ApiError:
    """The status, headers and body a domain error answers with."""
    if isinstance(exc, FieldError):
        return bad_request(exc.fields or {})
    status, code = next(STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS)
    retry_after = getattr(exc, "retry_after", None)
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return ApiError(status, code, exc.message, exc.fields, headers)


def from_http_exception(exc: HTTPException) -> ApiError:
    """The JSON error for one of werkzeug's (or the HTTP server's) HTTP errors."""
    return ApiError(
        exc.code or 500, exc.name.lower().replace(" ", "_"), exc.description or exc.name
    )


def api_route_methods(app: Flask, path: str) -> set[str]:
    """The methods routes answer at ``path``, leaving out Dash's page catch-all."""
    adapter = app.url_map.bind_to_environ(request.environ)
    methods: set[str] = set()
    for method in {m for rule in app.url_map.iter_rules() for m in rule.methods or ()}:
        try:
            rule, _ = adapter.match(path, method=method, return_rule=True)
        except HTTPException:  # no route, another method, or a redirect: nothing here
            continue
        if rule.endpoint != DASH_CATCH_ALL:
            methods |= rule.methods or set()
    return methods


def _not_here():
    """404 for an API path no route has, 405 with ``Allow`` for one that has other methods."""
    methods = api_route_methods(current_app, request.path)
    if not methods:
        error = ApiError(404, "not_found", f"No such endpoint: {request.path[:200]}")
    else:
        error = from_http_exception(MethodNotAllowed())
        error.headers["Allow"] = ", ".join(sorted(methods))
    return jsonify(error.body()), error.status, error.headers


def database_unavailable() -> ApiError:
    """The answer to any request the database could not serve."""
    return from_service_error(Unavailable(DATABASE_DOWN, DATABASE_RETRY_AFTER))


def describe(exc: BaseException) -> ApiError | None:
    """The API error ``exc`` stands for, or None when it is unexpected (a bug)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ServiceError):
        return from_service_error(exc)
    if database_unreachable(exc):
        return database_unavailable()
    return None


def wants_json() -> bool:
    """Whether this request's caller is a program (JSON errors) rather than a person."""
    return request.path.startswith(JSON_PATHS) or request.path == "/metrics"


def respond(error: ApiError) -> Response:
    """``error`` as JSON for programs, as a plain page for people."""
    if wants_json():
        response = make_response(jsonify(error.body()), error.status)
    else:
        items = "".join(
            f"<li>{escape(name)}: {escape(problem)}</li>"
            for name, problem in (error.fields or {}).items()
        )
        page = f"<!doctype html><title>Pulseboard</title><p>{escape(error.message)}</p>"
        response = make_response(page + (f"<ul>{items}</ul>" if items else ""), error.status)
        response.content_type = "text/html; charset=utf-8"
    response.headers.update(error.headers)
    return response


def install(app: Flask) -> None:
    """Answer errors on program paths in the JSON shape, never with an HTML page or a trace;
    while the database is unreachable, every request it fails answers 503 with Retry-After."""

    @app.before_request
    def _api_routing():
        # Dash's page catch-all would answer a GET to any path with its index page, and
        # Flask's automatic OPTIONS would list the catch-all's methods in ``Allow``.
        if not request.path.startswith("/api/"):
            return None
        if request.endpoint == DASH_CATCH_ALL:
            return _not_here()
        rule = request.url_rule
        if request.method == "OPTIONS" and rule is not None and rule.provide_automatic_options:
            methods = api_route_methods(current_app, request.path)
            return "", 200, {"Allow": ", ".join(sorted(methods))}
        return None

    @app.after_request
    def _unknown_page(response: Response) -> Response:
        # Dash answers every address with its index page, which then draws the console's
        # not-found page; the status should say the same to browsers, crawlers and checks.
        if request.endpoint == DASH_CATCH_ALL and response.status_code == 200:
            pages = {page["path"] for page in dash.page_registry.values()}
            if (request.path.rstrip("/") or "/") not in pages - {NOT_FOUND_PAGE}:
                response.status_code = 404
        return response

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return jsonify(exc.body()), exc.status, exc.headers

    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError):
        return respond(from_service_error(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not request.path.startswith("/api/"):
            return exc
        if isinstance(exc, MethodNotAllowed):
            # Dash's catch-all makes werkzeug see a GET route at every path.
            return _not_here()
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return jsonify(from_http_exception(exc).body()), exc.code, headers

    @app.errorhandler(DependencyException)
    def _unknown_bundle(exc: DependencyException):
        # Dash raises this for a script bundle it does not serve: that is a 404, not a 500.
        return "Not found.", 404, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if database_unreachable(exc):
            log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
            return respond(database_unavailable())
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return respond(ApiError(500, "internal", "Internal error; see the server log."))
