"""pg_stat_statements of the watched PostgreSQL databases: whether it can be read (and what
to change when not), and snapshots turned into per-interval deltas of the top statements.

A snapshot's counters are cumulative since the server's last reset; what is stored is how
much each statement did between two snapshots, so any range can be ranked, not only
"since the last reset". A counter that went down means the entry restarted (a
``pg_stat_statements_reset()`` or an eviction): its new value is what it did since.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import astuple, dataclass, field

import psycopg
from sqlalchemy.engine import make_url

from collectors.pg_connection import connect, libpq_url, target_name
from storage.diagnostics.statements import StatementDelta, StatementStore

log = logging.getLogger(__name__)

TOP_BY_TIME = 100
"""Statements kept per interval: the ones that took the most execution time..."""
TOP_BY_CALLS = 20
"""...and also the most frequently called, should they not be among those."""

_DATABASE = "dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
_READ = (
    "SELECT userid, pg_get_userbyid(userid), queryid::text, {text}, sum(calls), "
    "sum(total_exec_time), sum(rows), sum(shared_blks_hit), sum(shared_blks_read) "
    f"FROM pg_stat_statements({{show}}) WHERE {_DATABASE} AND queryid IS NOT NULL "
    "GROUP BY userid, queryid"
)
"""Per user and statement of the connected database (top-level and nested entries merged)."""
_TEXTS = (
    "SELECT queryid::text, min(query) FROM pg_stat_statements(true) "
    f"WHERE {_DATABASE} AND queryid = ANY(%s::bigint[]) GROUP BY queryid"
)
_HAS_EXTENSION = "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"
_PROBE = "SELECT 1 FROM pg_stat_statements LIMIT 1"


class NotAvailable(Exception):
    """pg_stat_statements cannot be read on a target; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Counters:
    """The cumulative counters of one entry of pg_stat_statements."""

    calls: int
    total_time_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int

    def plus(self, other: Counters) -> Counters:
        """Both counters together."""
        return Counters(
            self.calls + other.calls,
            self.total_time_ms + other.total_time_ms,
            self.rows + other.rows,
            self.shared_blks_hit + other.shared_blks_hit,
            self.shared_blks_read + other.shared_blks_read,
        )

    def minus(self, before: Counters | None) -> Counters:
        """What happened since ``before``; all of it when the entry is new or restarted."""
        if before is None or self.calls < before.calls or self.total_time_ms < before.total_time_ms:
            return self
        return Counters(
            self.calls - before.calls,
            self.total_time_ms - before.total_time_ms,
            max(0, self.rows - before.rows),
            max(0, self.shared_blks_hit - before.shared_blks_hit),
            max(0, self.shared_blks_read - before.shared_blks_read),
        )


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of a snapshot: a statement as run by one user."""

    userid: int
    username: str
    queryid: str
    query: str
    counters: Counters


def _preload_hint(database: str) -> str:
    return (
        "pg_stat_statements is not loaded by the server: add "
        "shared_preload_libraries = 'pg_stat_statements' to postgresql.conf (keeping any "
        "libraries already listed there), restart PostgreSQL, then run "
        f'CREATE EXTENSION IF NOT EXISTS pg_stat_statements; in database "{database}".'
    )


def _create_hint(database: str) -> str:
    return (
        f'pg_stat_statements is loaded but not created in database "{database}": run '
        "CREATE EXTENSION pg_stat_statements; in it (as its owner or a superuser)."
    )


def ensure_available(conn: psycopg.Connection) -> None:
    """NotAvailable, with what to change, unless pg_stat_statements can be read on ``conn``."""
    database = conn.info.dbname
    if conn.execute(_HAS_EXTENSION).fetchone() is None:
        if _preloaded(conn) is False:
            raise NotAvailable(_preload_hint(database))
        raise NotAvailable(_create_hint(database))
    try:
        conn.execute(_PROBE)
    except psycopg.errors.ObjectNotInPrerequisiteState:
        raise NotAvailable(_preload_hint(database)) from None


def read(conn: psycopg.Connection, texts: bool = True) -> list[Entry]:
    """The entries of pg_stat_statements for the connected database (NotAvailable when it
    cannot be read); without ``texts`` each query is "" and the server reads no text."""
    ensure_available(conn)
    sql = (
        _READ.format(text="min(query)", show="true")
        if texts
        else _READ.format(text="''", show="false")
    )
    return [
        Entry(
            userid,
            username or "",
            queryid,
            query or "",
            Counters(int(calls), float(total), int(count), int(hit), int(blks_read)),
        )
        for userid, username, queryid, query, calls, total, count, hit, blks_read in conn.execute(
            sql
        )
    ]


def query_texts(conn: psycopg.Connection, queryids: list[str]) -> dict[str, str]:
    """The texts of these statements of the connected database."""
    if not queryids:
        return {}
    return dict(conn.execute(_TEXTS, ([int(q) for q in queryids],)).fetchall())


def _preloaded(conn: psycopg.Connection) -> bool | None:
    """Whether the server preloads the library; None when this user may not see it."""
    try:
        libraries = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
    except psycopg.errors.InsufficientPrivilege:
        return None
    return "pg_stat_statements" in {name.strip() for name in libraries.split(",")}


def check(conninfo: str) -> str | None:
    """None when pg_stat_statements can be read at ``conninfo``, else what to change (or
    why the database could not be asked)."""
    try:
        with connect(conninfo) as conn:
            ensure_available(conn)
    except NotAvailable as exc:
        return str(exc)
    except psycopg.Error as exc:
        return f"could not ask the database: {type(exc).__name__}: {exc}".strip()[:300]
    return None


def top(deltas: dict[str, tuple[Counters, Entry]]) -> list[str]:
    """Queryids of the statements worth keeping of one interval: the top by time, plus
    the top by calls."""
    active = [q for q, (c, _) in deltas.items() if c.calls > 0]
    by_time = sorted(active, key=lambda q: deltas[q][0].total_time_ms, reverse=True)
    by_calls = sorted(active, key=lambda q: deltas[q][0].calls, reverse=True)
    return list(dict.fromkeys(by_time[:TOP_BY_TIME] + by_calls[:TOP_BY_CALLS]))


@dataclass
class _Previous:
    ts: float
    entries: dict[tuple[int, str], Counters] = field(default_factory=dict)


class StatementCollector:
    """Snapshots pg_stat_statements of each target and stores the top statements' deltas."""

    def __init__(
        self,
        urls: list[str],
        store: StatementStore,
        connector: Callable[[str], psycopg.Connection] = connect,
    ) -> None:
        self.conninfo = {target_name(url): libpq_url(url) for url in urls}
        self.store = store
        self.connector = connector
        self.unavailable: dict[str, str | None] = dict.fromkeys(self.conninfo)
        """Per target: why its statements could not be read last time (None: they were)."""
        self._previous: dict[str, _Previous] = {}
        self._texts: dict[str, dict[str, str]] = {}
        """Per target: the texts already read, so each collection reads only new ones."""
        self._connections: dict[str, psycopg.Connection] = {}

    def collect(self, now: float) -> int:
        """Read every target once and store what changed since the last reading; return
        the statement rows stored."""
        stored = 0
        for target in self.conninfo:
            try:
                stored += self._collect_target(target, now)
                self.unavailable[target] = None
            except NotAvailable as exc:
                self.unavailable[target] = str(exc)
                self._previous.pop(target, None)
            except psycopg.Error as exc:
                self.unavailable[target] = f"{type(exc).__name__}: {exc}".strip()[:300]
                log.warning("pg_stat_statements of %s not read: %s", target, exc)
                self._drop(target)
        return stored

    def _connection(self, target: str) -> psycopg.Connection:
        conn = self._connections.get(target)
        if conn is None or conn.closed or conn.broken:
            conn = self._connections[target] = self.connector(self.conninfo[target])
        return conn

    def _drop(self, target: str) -> None:
        conn = self._connections.pop(target, None)
        if conn is not None and not conn.closed:
            conn.close()

    def close(self) -> None:
        """Close every connection."""
        for target in list(self._connections):
            self._drop(target)

    def _collect_target(self, target: str, now: float) -> int:
        conn = self._connection(target)
        entries = read(conn, texts=False)
        previous = self._previous.get(target)
        current = _Previous(now, {(e.userid, e.queryid): e.counters for e in entries})
        if previous is None or now <= previous.ts:
            self._previous[target] = current
            return 0
        per_query: dict[str, tuple[Counters, Entry]] = {}
        for entry in entries:
            delta = entry.counters.minus(previous.entries.get((entry.userid, entry.queryid)))
            seen = per_query.get(entry.queryid)  # the same statement run by another user
            per_query[entry.queryid] = (
                (delta, entry) if seen is None else (seen[0].plus(delta), seen[1])
            )
        kept = top(per_query)
        known = self._texts.setdefault(target, {})
        for gone in known.keys() - per_query.keys():
            del known[gone]
        known.update(query_texts(conn, [q for q in kept if q not in known]))
        rows = [
            StatementDelta(
                q,
                *astuple(per_query[q][0]),
                query=known.get(q, ""),
                username=per_query[q][1].username,
            )
            for q in kept
        ]
        database = make_url(self.conninfo[target]).database or ""
        self.store.write(target, database, now, now - previous.ts, rows)
        # Only a stored interval moves the baseline: one whose write failed (Pulseboard's
        # own database away) is counted with the next.
        self._previous[target] = current
        return len(rows)
