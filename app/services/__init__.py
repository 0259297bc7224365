"""View logic shared by the API and the pages; plain functions over the runtime's stores.

Services speak the domain: they raise the errors below, and only the API layer
(``app/api/errors.py``) decides which HTTP status, headers and body each becomes.
"""

from __future__ import annotations

import sqlite3

import psycopg
from sqlalchemy import exc as sa

SQLITE_UNREACHABLE = (
    "database is locked",
    "unable to open database file",
    "disk i/o error",
    "database or disk is full",
)
"""SQLite's operational errors that mean "the database cannot be used now" (its other
operational errors, such as a syntax error or a missing table, are bugs)."""


class ServiceError(Exception):
    """A request a service cannot answer, said in the domain's words."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class Invalid(ServiceError, ValueError):
    """The request holds values the service cannot take; ``fields`` names each one."""


class FieldError(Invalid):
    """A request field holds a value the service cannot answer for."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, {field: message})
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class NotFound(ServiceError, LookupError):
    """No such thing (user, token, archive)."""


class Conflict(ServiceError, ValueError):
    """The change would break a rule (a duplicate name, the last admin)."""


class Forbidden(ServiceError, PermissionError):
    """The actor may not do this to that thing."""


class TooLarge(ServiceError):
    """The request is bigger than the service takes (bytes)."""


class TooManyRecords(TooLarge):
    """One batch holds more records than the service takes at once."""


class UnsupportedMedia(ServiceError):
    """The body comes in a type or encoding the service does not read."""


class Saturated(ServiceError):
    """Every slot for this work is busy; the same request may succeed after ``retry_after``."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ServiceError):
    """Something the service needs is away; the same request may succeed after
    ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached or used right now (as opposed
    to a bug in a statement)."""
    if isinstance(exc, sa.DBAPIError):
        return exc.connection_invalidated or database_unreachable(exc.orig)
    if isinstance(exc, sa.DisconnectionError | sa.TimeoutError | psycopg.OperationalError):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return str(exc).lower().startswith(SQLITE_UNREACHABLE)
    return False
