"""pgHero's index and table hints, read from one monitored PostgreSQL database: unused,
duplicate and invalid indexes, tables that want an index, vacuum and analyze, transaction-id
wraparound, sequences near their limit and the cache hit ratio per table.

The queries follow pgHero (lib/pghero/methods/indexes.rb, maintenance.rb, sequences.rb,
space.rb); each takes a connection from ``collectors.pg_activity.connect``.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

WRAPAROUND_LIMIT = 2**31 - 1
"""Transaction ids a database can age before PostgreSQL stops taking writes."""
MISSING_INDEX_ROWS = 10_000
"""Tables smaller than this are scanned fast enough without an index (pgHero's bound)."""
MISSING_INDEX_SHARE = 0.95
"""A table whose scans use an index less often than this may want one."""
DEAD_SHARE = 0.1
"""Dead tuples over this share of the live ones are worth a vacuum."""
DEAD_ROWS = 1000
VACUUM_STALE_S = 7 * 86400
"""A table with writes not vacuumed or analyzed for this long is flagged."""
SEQUENCE_SHARE = 0.5
"""Sequences past this share of their range are reported."""
COLUMN_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}
LIMIT = 500

_USER_SCHEMAS = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"

_UNUSED = f"""
SELECT n.nspname AS schema, t.relname AS table, c.relname AS index,
  pg_relation_size(i.indexrelid) AS size_bytes, COALESCE(s.idx_scan, 0) AS index_scans,
  pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
WHERE {_USER_SCHEMAS} AND NOT i.indisunique AND NOT i.indisprimary AND i.indisvalid
  AND COALESCE(s.idx_scan, 0) = 0
ORDER BY size_bytes DESC, n.nspname, c.relname
LIMIT {LIMIT}
"""

# One index is a duplicate of another on the same table when its key columns (with their
# operator classes) are a prefix of the other's, with the same access method, expressions
# and predicate. A unique index only duplicates a unique one on the same columns, and a
# primary key is never reported: dropping it would change what the table promises.
_DUPLICATE = f"""
WITH ix AS (
  SELECT i.indexrelid, i.indrelid, i.indisunique, i.indisprimary, c.relam, i.indnkeyatts AS n,
    string_to_array(i.indkey::text, ' ') AS keys, string_to_array(i.indclass::text, ' ') AS ops,
    COALESCE(pg_get_expr(i.indexprs, i.indrelid), '') AS exprs,
    COALESCE(pg_get_expr(i.indpred, i.indrelid), '') AS pred
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
  WHERE i.indisvalid
)
SELECT DISTINCT ON (a.indexrelid)
  n.nspname AS schema, t.relname AS table, ac.relname AS index, bc.relname AS covered_by,
  pg_relation_size(a.indexrelid) AS size_bytes, pg_get_indexdef(a.indexrelid) AS definition,
  pg_get_indexdef(b.indexrelid) AS covering_definition
FROM ix a
JOIN ix b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid AND b.relam = a.relam
  AND a.n <= b.n AND a.keys[1:a.n] = b.keys[1:a.n] AND a.ops[1:a.n] = b.ops[1:a.n]
  AND a.exprs = b.exprs AND a.pred = b.pred
JOIN pg_class ac ON ac.oid = a.indexrelid
JOIN pg_class bc ON bc.oid = b.indexrelid
JOIN pg_class t ON t.oid = a.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE {_USER_SCHEMAS} AND NOT a.indisprimary
  AND (NOT a.indisunique OR (b.indisunique AND a.n = b.n))
  -- of two identical indexes, the newer is reported
  AND (a.n < b.n OR a.indisunique <> b.indisunique OR b.indisprimary
       OR a.indexrelid > b.indexrelid)
ORDER BY a.indexrelid, b.n DESC
LIMIT {LIMIT}
"""

_INVALID = f"""
SELECT n.nspname AS schema, t.relname AS table, c.relname AS index,
  pg_relation_size(i.indexrelid) AS size_bytes, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_USER_SCHEMAS} AND NOT i.indisvalid
ORDER BY n.nspname, c.relname
LIMIT {LIMIT}
"""

_MISSING = f"""
SELECT schemaname AS schema, relname AS table, seq_scan, seq_tup_read,
  COALESCE(idx_scan, 0) AS index_scans, n_live_tup AS live_rows,
  COALESCE(idx_scan, 0)::float8 / NULLIF(seq_scan + COALESCE(idx_scan, 0), 0) AS index_share
FROM pg_stat_user_tables
WHERE seq_scan > 0 AND n_live_tup >= %(rows)s
  AND COALESCE(idx_scan, 0)::float8 / (seq_scan + COALESCE(idx_scan, 0)) < %(share)s
ORDER BY seq_tup_read DESC
LIMIT {LIMIT}
"""

_MAINTENANCE = f"""
SELECT schemaname AS schema, relname AS table, n_live_tup AS live_rows,
  n_dead_tup AS dead_rows, n_mod_since_analyze AS modified_since_analyze,
  EXTRACT(EPOCH FROM GREATEST(last_vacuum, last_autovacuum))::float8 AS last_vacuum,
  EXTRACT(EPOCH FROM GREATEST(last_analyze, last_autoanalyze))::float8 AS last_analyze,
  EXTRACT(EPOCH FROM last_autovacuum)::float8 AS last_autovacuum,
  EXTRACT(EPOCH FROM last_autoanalyze)::float8 AS last_autoanalyze,
  pg_total_relation_size(relid) AS size_bytes
FROM pg_stat_user_tables
ORDER BY n_dead_tup DESC, schemaname, relname
LIMIT {LIMIT}
"""

_WRAPAROUND = """
SELECT datname AS database, age(datfrozenxid)::bigint AS xid_age,
  (SELECT setting::bigint FROM pg_settings WHERE name = 'autovacuum_freeze_max_age')
    AS freeze_max_age
FROM pg_database WHERE datallowconn
ORDER BY xid_age DESC
"""

_SEQUENCES = f"""
SELECT s.schemaname AS schema, s.sequencename AS sequence, s.last_value, s.min_value,
  s.max_value, s.increment_by, t.relname AS table, a.attname AS column,
  format_type(a.atttypid, NULL) AS column_type
FROM pg_sequences s
JOIN pg_namespace sn ON sn.nspname = s.schemaname
JOIN pg_class sc ON sc.relnamespace = sn.oid AND sc.relname = s.sequencename
LEFT JOIN pg_depend d ON d.objid = sc.oid AND d.classid = 'pg_class'::regclass
  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
LEFT JOIN pg_class t ON t.oid = d.refobjid
LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
ORDER BY s.schemaname, s.sequencename
LIMIT {LIMIT}
"""

_CACHE = f"""
SELECT schemaname AS schema, relname AS table, heap_blks_hit, heap_blks_read,
  COALESCE(idx_blks_hit, 0) AS idx_blks_hit, COALESCE(idx_blks_read, 0) AS idx_blks_read
FROM pg_statio_user_tables
ORDER BY heap_blks_read + COALESCE(idx_blks_read, 0) DESC, schemaname, relname
LIMIT {LIMIT}
"""


def _rows(conn: psycopg.Connection, sql: str, params: dict | None = None) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(sql, params))


def unused_indexes(conn: psycopg.Connection) -> list[dict]:
    """Indexes never scanned since the statistics were reset (not unique, not primary),
    largest first."""
    return _rows(conn, _UNUSED)


def duplicate_indexes(conn: psycopg.Connection) -> list[dict]:
    """Indexes whose key columns lead another index of the same table (same method,
    expressions and predicate), with the index that covers each."""
    return _rows(conn, _DUPLICATE)


def invalid_indexes(conn: psycopg.Connection) -> list[dict]:
    """Indexes left invalid (by a failed CREATE INDEX CONCURRENTLY): written, never read."""
    return _rows(conn, _INVALID)


def missing_indexes(conn: psycopg.Connection) -> list[dict]:
    """Tables of many rows scanned sequentially more often than through an index."""
    return _rows(conn, _MISSING, {"rows": MISSING_INDEX_ROWS, "share": MISSING_INDEX_SHARE})


def maintenance(conn: psycopg.Connection, now: float) -> list[dict]:
    """Tables with their dead tuples and last (auto)vacuum and analyze; ``needs_vacuum``
    when dead tuples pile up, ``stale`` when a changed table went long without either."""
    rows = _rows(conn, _MAINTENANCE)
    for row in rows:
        live, dead = row["live_rows"], row["dead_rows"]
        row["dead_share"] = dead / live if live else (1.0 if dead else 0.0)
        row["needs_vacuum"] = dead >= DEAD_ROWS and row["dead_share"] >= DEAD_SHARE
        changed = dead > 0 or row["modified_since_analyze"] > 0
        oldest = min(row["last_vacuum"] or 0.0, row["last_analyze"] or 0.0)
        row["stale"] = changed and now - oldest > VACUUM_STALE_S
    return rows


def wraparound(conn: psycopg.Connection) -> list[dict]:
    """Each database's transaction-id age, as a share of the wraparound limit and of
    ``autovacuum_freeze_max_age`` (past 1, autovacuum is forcing freezes)."""
    rows = _rows(conn, _WRAPAROUND)
    for row in rows:
        row["percent_used"] = round(100.0 * row["xid_age"] / WRAPAROUND_LIMIT, 2)
        row["freeze_share"] = row["xid_age"] / row["freeze_max_age"]
    return rows


def sequences(conn: psycopg.Connection) -> list[dict]:
    """Sequences with the share of their range used, bounded by the column they feed (an
    ``integer`` column fills long before a ``bigint`` sequence); fullest first."""
    rows = _rows(conn, _SEQUENCES)
    for row in rows:
        limit = row["max_value"] if row["increment_by"] > 0 else -row["min_value"]
        limit = min(limit, COLUMN_MAX.get(row["column_type"] or "", limit))
        used = abs(row["last_value"] or 0)
        row["limit"] = limit
        row["percent_used"] = round(100.0 * used / limit, 4) if limit else 0.0
    rows.sort(key=lambda r: r["percent_used"], reverse=True)
    return rows


def cache_hits(conn: psycopg.Connection) -> list[dict]:
    """Per table the share of heap and index block reads served from shared buffers
    (None until a block was read), most disk reads first."""
    rows = _rows(conn, _CACHE)
    for row in rows:
        for kind in ("heap", "idx"):
            hit, read = row[f"{kind}_blks_hit"], row[f"{kind}_blks_read"]
            row[f"{kind}_hit_ratio"] = hit / (hit + read) if hit + read else None
    return rows
