"""Diagnostics API · Indexes and tables: pgHero's hints for a monitored PostgreSQL
database, and their downloads."""

from __future__ import annotations

from typing import Literal

from flask import jsonify, request
from pydantic import BaseModel, Field

from app.api.diagnostics.activity import LIVE_ERRORS, DatabaseQuery
from app.api.diagnostics.blueprint import bp
from app.api.downloads import FILES, TableFormat
from app.api.spec import operation, parse_query
from app.api.streams import attachment
from app.auth import READERS, current_account, roles
from app.runtime import runtime
from app.services.diagnostics import indexes as service


class HintOut(BaseModel):
    """One kind of hint: what it means and its rows (each with ``fix``, SQL or null)."""

    title: str
    advice: str
    items: list[dict]


class IndexesOut(BaseModel):
    """The index hints of one database."""

    database: str
    databases: list[str]
    unused: HintOut
    duplicate: HintOut
    invalid: HintOut
    missing: HintOut


class TablesOut(BaseModel):
    """The table hints of one database."""

    database: str
    databases: list[str]
    maintenance: HintOut
    wraparound: HintOut
    sequences: HintOut
    cache: HintOut


class IndexesExportQuery(DatabaseQuery):
    """Query string of GET /api/v1/admin/diagnostics/indexes/export."""

    kind: Literal[tuple(service.INDEX_HINTS)] = Field("unused", description="Which hint")
    format: TableFormat = Field("csv", description="File format")


class TablesExportQuery(DatabaseQuery):
    """Query string of GET /api/v1/admin/diagnostics/tables/export."""

    kind: Literal[tuple(service.TABLE_HINTS)] = Field("maintenance", description="Which hint")
    format: TableFormat = Field("csv", description="File format")


@bp.get("/diagnostics/indexes")
@roles(*READERS)
@operation(
    "Unused, duplicate and invalid indexes, and tables that may want one (pgHero's hints), "
    "each row with the SQL that fixes it where that is plain",
    query=DatabaseQuery,
    response=IndexesOut,
    errors=LIVE_ERRORS,
)
def get_indexes():
    """The index hints of the chosen database."""
    params = parse_query(DatabaseQuery)
    return jsonify(service.hints(runtime(), "indexes", params.database))


@bp.get("/diagnostics/tables")
@roles(*READERS)
@operation(
    "Dead tuples and stale vacuum or analyze, transaction-id wraparound, sequences near "
    "their limit and the cache hit ratio per table",
    query=DatabaseQuery,
    response=TablesOut,
    errors=LIVE_ERRORS,
)
def get_tables():
    """The table hints of the chosen database."""
    params = parse_query(DatabaseQuery)
    return jsonify(service.hints(runtime(), "tables", params.database))


@bp.get("/diagnostics/indexes/export")
@roles(*READERS)
@operation(
    "Download one kind of index hint as CSV or JSON; audited",
    query=IndexesExportQuery,
    files=FILES,
    errors=LIVE_ERRORS,
)
def export_indexes():
    """Stream one index hint table as an attachment."""
    params = parse_query(IndexesExportQuery)
    return _export("indexes", params.database, params.kind, params.format)


@bp.get("/diagnostics/tables/export")
@roles(*READERS)
@operation(
    "Download one kind of table hint as CSV or JSON; audited",
    query=TablesExportQuery,
    files=FILES,
    errors=LIVE_ERRORS,
)
def export_tables():
    """Stream one table hint table as an attachment."""
    params = parse_query(TablesExportQuery)
    return _export("tables", params.database, params.kind, params.format)


def _export(group: str, database: str | None, kind: str, fmt: str):
    return attachment(
        service.export(
            runtime(),
            group,
            database,
            kind,
            fmt,
            actor=current_account().name,
            remote_addr=request.remote_addr,
        )
    )
