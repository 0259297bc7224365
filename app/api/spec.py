"""Declared request/response models on views, query parsing, and the OpenAPI document."""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, request
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.api.errors import ApiError, bad_request, from_validation_error
from app.auth import PUBLIC, ROLES_ATTR

F = TypeVar("F", bound=Callable)
OPERATION_ATTR = "_pulseboard_operation"
M = TypeVar("M", bound=BaseModel)
MAX_QUERY_VALUE = 2000
MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says about one view."""

    summary: str
    query: type[BaseModel] | None = None
    body: Any = None
    response: Any = None
    errors: tuple[int, ...] = (400, 401, 403)
    status: int = 200
    files: tuple[str, ...] = ()
    """Content types of a file download, when the view answers with one."""
    path: dict[str, Any] | None = None
    """The annotated type of each path parameter."""


def operation(
    summary: str,
    *,
    query: type[BaseModel] | None = None,
    body: Any = None,
    response: Any = None,
    errors: tuple[int, ...] = (400, 401, 403),
    status: int = 200,
    files: tuple[str, ...] = (),
) -> Callable[[F], F]:
    """Declare a view's query and body models and its response (a model, or the content
    types of a file download) for validation and the docs.

    The view's annotated path parameters (``user_id: RowId``) are validated too: a value
    the route's converter let through but the annotation refuses is a 400 naming it.
    """

    def mark(view: F) -> F:
        hints = typing.get_type_hints(view, include_extras=True)
        path = {name: tp for name, tp in hints.items() if name != "return"}
        adapters = {name: TypeAdapter(tp) for name, tp in path.items()}

        @functools.wraps(view)
        def checked(**args: Any):
            for name, value in args.items():
                try:
                    adapters[name].validate_python(value)
                except ValidationError as exc:
                    raise bad_request({name: exc.errors()[0]["msg"]}) from None
            return view(**args)

        op = Operation(summary, query, body, response, errors, status, files, path)
        setattr(checked, OPERATION_ATTR, op)
        return typing.cast(F, checked)

    return mark


def parse_query(model: type[M]) -> M:
    """Validate the request's query string against ``model``; a 400 names bad fields."""
    data: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        if any(len(v) > MAX_QUERY_VALUE for v in values):
            raise ApiError(
                400,
                "invalid",
                f"Invalid parameter: {key}",
                {key: f"longer than {MAX_QUERY_VALUE} characters"},
            )
        field = model.model_fields.get(key) or next(
            (f for f in model.model_fields.values() if f.alias == key), None
        )
        is_list = field is not None and typing.get_origin(field.annotation) is list
        data[key] = values if is_list else values[-1]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def parse_body(model: type[M], max_bytes: int = MAX_BODY) -> M:
    """Validate the request's JSON body against ``model``; 400/413/415 name what is wrong."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(413, "too_large", f"Request body larger than {max_bytes} bytes.")
    if not request.is_json:
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send the body as application/json.",
            {"body": "expected Content-Type: application/json"},
        )
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(
            400, "invalid", "Invalid parameter: body", {"body": "expected a JSON object"}
        )
    try:
        # Strict: JSON has its own types, and the document promises them (no 0 for false).
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}


def openapi_document(app: Flask) -> dict:
    """The OpenAPI 3.1 document of every view that declares an operation."""
    ref = "#/components/schemas/{model}"
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict] = {}

    def schema_of(tp: Any) -> dict:
        schema = TypeAdapter(tp).json_schema(ref_template=ref, by_alias=True)
        schemas.update(schema.pop("$defs", {}))
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            schemas[tp.__name__] = schema
            return {"$ref": ref.format(model=tp.__name__)}
        return schema

    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        op: Operation | None = getattr(view, OPERATION_ATTR, None)
        if op is None:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            view_roles = getattr(view, ROLES_ATTR, ())
            entry: dict[str, Any] = {
                "summary": op.summary,
                "operationId": f"{rule.endpoint}_{method.lower()}".replace(".", "_"),
                "x-roles": list(view_roles),
                "responses": {
                    str(op.status): {
                        "description": "OK",
                        "content": {"application/json": {"schema": schema_of(op.response)}}
                        if op.response is not None
                        else {media: {"schema": _file_schema(media)} for media in op.files},
                    },
                    **{
                        str(code): {
                            "description": "Error",
                            "content": {
                                "application/json": {"schema": {"$ref": ref.format(model="Error")}}
                            },
                        }
                        for code in op.errors
                    },
                },
            }
            if PUBLIC in view_roles:
                entry["security"] = []
            params = [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": schema_of(op.path[name])
                    if op.path and name in op.path
                    else {"type": "integer" if converter == "int" else "string"},
                }
                for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule.rule)
            ]
            if op.query is not None:
                params += _parameters(op.query, schema_of)
            if params:
                entry["parameters"] = params
            if op.body is not None:
                entry["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": schema_of(op.body)}},
                }
            paths.setdefault(path, {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "Pulseboard API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


def _file_schema(media_type: str) -> dict:
    """What a downloaded file holds: JSON downloads are one array of rows, others text."""
    if media_type.split(";")[0].strip() == "application/json":
        return {"type": "array", "items": {"type": "object"}}
    return {"type": "string"}


def _parameters(model: type[BaseModel], schema_of: Callable[[Any], dict]) -> list[dict]:
    schema_of(model)
    schema = TypeAdapter(model).json_schema(
        ref_template="#/components/schemas/{model}", by_alias=True
    )
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if prop.get("type") == "array":
            param.update(style="form", explode=True)
        if "description" in prop:
            param["description"] = prop["description"]
        params.append(param)
    return params
