"""Indexes and tables: pgHero's hints for one monitored PostgreSQL database, each kind with
why it matters, what to do and, where it is plain, the SQL that does it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import psycopg

from app.runtime import Runtime
from app.services.diagnostics import pg_targets
from app.services.downloads import (
    TABLE_FORMATS,
    Download,
    Table,
    file_name,
    table_download,
)
from collectors import pg_hints


@dataclass(frozen=True)
class Hint:
    """One kind of hint: how to read it, the columns it shows, and its fix per row."""

    title: str
    advice: str
    columns: tuple[str, ...]
    read: Callable[[psycopg.Connection, float], list[dict]]
    fix: Callable[[dict], str | None] = lambda row: None


def _name(*parts: str) -> str:
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


def _drop_index(row: dict) -> str:
    return f"DROP INDEX CONCURRENTLY {_name(row['schema'], row['index'])};"


def _reindex(row: dict) -> str:
    return f"REINDEX INDEX CONCURRENTLY {_name(row['schema'], row['index'])};"


def _vacuum(row: dict) -> str | None:
    table = _name(row["schema"], row["table"])
    if row["needs_vacuum"]:
        return f"VACUUM (ANALYZE) {table};"
    return f"ANALYZE {table};" if row["stale"] else None


def _vacuum_freeze(row: dict) -> str | None:
    # Past autovacuum_freeze_max_age autovacuum is already freezing; help it along.
    return "VACUUM (FREEZE, ANALYZE);  -- in that database" if row["freeze_share"] >= 1 else None


def _alter_sequence(row: dict) -> str | None:
    if row["percent_used"] < pg_hints.SEQUENCE_SHARE * 100 or not row["column"]:
        return None
    return (
        f"ALTER TABLE {_name(row['schema'], row['table'])} "
        f"ALTER COLUMN {_name(row['column'])} TYPE bigint;"
    )


def _maintenance(conn: psycopg.Connection, now: float) -> list[dict]:
    return [r for r in pg_hints.maintenance(conn, now) if r["needs_vacuum"] or r["stale"]]


def _sequences(conn: psycopg.Connection, now: float) -> list[dict]:
    return [r for r in pg_hints.sequences(conn) if r["percent_used"] >= 1]


INDEX_HINTS: dict[str, Hint] = {
    "unused": Hint(
        "Unused indexes",
        "Never scanned since the statistics were reset, yet every write updates them. "
        "Check replicas and rare jobs before dropping.",
        ("schema", "table", "index", "size_bytes", "index_scans", "definition"),
        lambda conn, now: pg_hints.unused_indexes(conn),
        _drop_index,
    ),
    "duplicate": Hint(
        "Duplicate indexes",
        "Its columns lead another index of the same table, which serves the same "
        "queries: drop the shorter one.",
        ("schema", "table", "index", "covered_by", "size_bytes", "definition"),
        lambda conn, now: pg_hints.duplicate_indexes(conn),
        _drop_index,
    ),
    "invalid": Hint(
        "Invalid indexes",
        "Left by a failed CREATE INDEX CONCURRENTLY: written on every change, never "
        "used by queries. Rebuild or drop it.",
        ("schema", "table", "index", "size_bytes", "definition"),
        lambda conn, now: pg_hints.invalid_indexes(conn),
        _reindex,
    ),
    "missing": Hint(
        "Tables that may want an index",
        f"At least {pg_hints.MISSING_INDEX_ROWS} rows, read by sequential scans more "
        "often than through an index. Find the queries in Statements and index their "
        "filter columns.",
        ("schema", "table", "seq_scan", "seq_tup_read", "index_scans", "live_rows", "index_share"),
        lambda conn, now: pg_hints.missing_indexes(conn),
    ),
}
TABLE_HINTS: dict[str, Hint] = {
    "maintenance": Hint(
        "Dead tuples, vacuum and analyze",
        "Dead tuples bloat tables and slow scans; stale statistics mislead the planner. "
        "Vacuum or analyze, and tune autovacuum for tables that keep showing up.",
        (
            "schema",
            "table",
            "live_rows",
            "dead_rows",
            "dead_share",
            "last_vacuum",
            "last_autovacuum",
            "last_analyze",
            "last_autoanalyze",
            "size_bytes",
        ),
        _maintenance,
        _vacuum,
    ),
    "wraparound": Hint(
        "Transaction-id wraparound",
        "At 100 % of the limit PostgreSQL stops taking writes. Past "
        "autovacuum_freeze_max_age autovacuum freezes rows; long transactions hold it back.",
        ("database", "xid_age", "freeze_max_age", "freeze_share", "percent_used"),
        lambda conn, now: pg_hints.wraparound(conn),
        _vacuum_freeze,
    ),
    "sequences": Hint(
        "Sequences filling up",
        "A sequence at its limit makes every insert fail. The limit is the smaller of the "
        "sequence's and its column type's: widen the column to bigint early.",
        (
            "schema",
            "sequence",
            "table",
            "column",
            "column_type",
            "last_value",
            "limit",
            "percent_used",
        ),
        _sequences,
        _alter_sequence,
    ),
    "cache": Hint(
        "Cache hit ratio per table",
        "Reads served from shared buffers; well under 99 % on a busy table means it does "
        "not fit in memory: more shared_buffers or RAM, or fewer rows read.",
        ("schema", "table", "heap_hit_ratio", "idx_hit_ratio", "heap_blks_read", "idx_blks_read"),
        lambda conn, now: pg_hints.cache_hits(conn),
    ),
}
GROUPS = {"indexes": INDEX_HINTS, "tables": TABLE_HINTS}


def hints(
    rt: Runtime,
    group: str,
    database: str | None,
    kinds: tuple[str, ...] | None = None,
    now: float | None = None,
) -> dict:
    """The hints of ``group`` ("indexes" or "tables"; all its kinds, or ``kinds``) for
    ``database``: per kind its title, advice and rows, each row with its ``fix`` (SQL)
    when there is an obvious one."""
    now = time.time() if now is None else now
    name, conninfo = pg_targets.resolve(rt, database)
    out: dict = {"database": name, "databases": list(pg_targets.targets(rt))}
    with pg_targets.connected(name, conninfo) as conn:
        for kind, hint in GROUPS[group].items():
            if kinds is not None and kind not in kinds:
                continue
            out[kind] = {
                "title": hint.title,
                "advice": hint.advice,
                "items": [{**row, "fix": hint.fix(row)} for row in hint.read(conn, now)],
            }
    return out


def page_view(rt: Runtime, database: str | None) -> dict:
    """Both groups of hints as the page shows them: per kind its title, advice, columns,
    rows keyed by ``id`` and download links."""
    cards, name, databases = [], database, []
    for group, kinds in GROUPS.items():
        shown = hints(rt, group, name)
        name, databases = shown["database"], shown["databases"]
        for kind, hint in kinds.items():
            cards.append(
                {
                    "kind": kind,
                    **shown[kind],
                    "items": [{**row, "id": i} for i, row in enumerate(shown[kind]["items"])],
                    "columns": hint.columns,
                    "hrefs": {f: export_href(group, name, kind, f) for f in TABLE_FORMATS},
                }
            )
    return {"database": name, "databases": databases, "cards": cards}


def export_href(group: str, database: str, kind: str, fmt: str) -> str:
    """The address that downloads one kind of hint."""
    query = urlencode({"database": database, "kind": kind, "format": fmt})
    return f"/api/v1/admin/diagnostics/{group}/export?{query}"


def export(
    rt: Runtime,
    group: str,
    database: str | None,
    kind: str,
    fmt: str,
    *,
    actor: str,
    remote_addr: str | None,
) -> Download:
    """One kind of hint as CSV or JSON, audited."""
    hint = GROUPS[group][kind]
    now = time.time()
    shown = hints(rt, group, database, (kind,), now)
    return table_download(
        rt,
        f"diagnostics.{group}.export",
        file_name(f"{group}-{kind}-{shown['database']}", None, now, fmt),
        Table(fmt, (*hint.columns, "fix"), shown[kind]["items"]),
        actor=actor,
        remote_addr=remote_addr,
        details={"database": shown["database"], "kind": kind, "format": fmt},
    )
