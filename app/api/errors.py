"""Typed API errors and the one JSON shape every error response has."""

from __future__ import annotations

from dash.exceptions import DependencyException
from flask import Flask, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from app.services import FieldError

DASH_CATCH_ALL = "/<path:path>"
"""The endpoint Dash registers for its pages: every path no other route claims."""


class ApiError(Exception):
    """An error the API reports to the caller as ``{"error": {...}}``."""

    def __init__(
        self, status: int, code: str, message: str, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self) -> dict:
        """The JSON body of the response."""
        error: dict = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


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


def install(app: Flask) -> None:
    """Answer errors on API paths in the JSON shape, never with an HTML page or a trace."""

    @app.before_request
    def _unknown_api_path():
        # Dash's page catch-all would answer any path with its index page.
        if request.path.startswith("/api/") and request.endpoint == DASH_CATCH_ALL:
            body = ApiError(404, "not_found", f"No such endpoint: {request.path[:200]}").body()
            return jsonify(body), 404
        return None

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return jsonify(exc.body()), exc.status

    @app.errorhandler(FieldError)
    def _field_error(exc: FieldError):
        error = bad_request({exc.field: exc.message})
        return jsonify(error.body()), error.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not request.path.startswith("/api/"):
            return exc
        body = ApiError(
            exc.code or 500, exc.name.lower().replace(" ", "_"), exc.description or exc.name
        ).body()
        return jsonify(body), exc.code

    @app.errorhandler(DependencyException)
    def _unknown_bundle(exc: DependencyException):
        # Dash raises this for a script bundle it does not serve: that is a 404, not a 500.
        return "Not found.", 404, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if request.path.startswith("/api/"):
            return jsonify(
                ApiError(500, "internal", "Internal error; see the server log.").body()
            ), 500
        return "Internal error; see the server log.", 500
