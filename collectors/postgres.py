"""PostgreSQL health from pg_stat_*: connections, long queries, transactions, cache, locks,
replication, and the top statements of pg_stat_statements when it is installed.

Every query runs under a short statement_timeout and lock_timeout, so a locked catalog or
a stuck server costs one collection a couple of seconds, never a hung collector. A target
that cannot be reached yields ``pg_up 0`` and its error, and is retried next time.
"""

from __future__ import annotations

import psycopg

from collectors import pg_statements
from collectors.base import Field, RateTracker, Sample, TargetCollector
from collectors.pg_connection import (
    LOCK_TIMEOUT_MS,
    STATEMENT_TIMEOUT_MS,
    connect,
    libpq_url,
    target_name,
)

__all__ = ["FIELDS", "LOCK_TIMEOUT_MS", "STATEMENT_TIMEOUT_MS", "PostgresCollector", "target_name"]

TOP_STATEMENTS = 5
QUERY_CHARS = 200

_T = ("target",)
FIELDS: tuple[Field, ...] = (
    Field("pg_up", "bool", "1 when the target answers", labels=_T),
    Field("pg_connections", "connections", "Backends by state", labels=("target", "state")),
    Field("pg_max_connections", "connections", "max_connections", labels=_T),
    Field("pg_connections_used_ratio", "ratio", "Backends over max_connections", labels=_T),
    Field(
        "pg_oldest_idle_in_transaction_seconds",
        "seconds",
        "Age of the oldest idle-in-transaction session",
        labels=_T,
    ),
    Field("pg_longest_query_seconds", "seconds", "Age of the longest running query", labels=_T),
    Field("pg_database_size_bytes", "bytes", "Size of the database", labels=_T),
    Field("pg_commits_per_second", "tx/s", "Transactions committed", labels=_T),
    Field("pg_rollbacks_per_second", "tx/s", "Transactions rolled back", labels=_T),
    Field("pg_cache_hit_ratio", "ratio", "Block reads served from shared buffers", labels=_T),
    Field("pg_deadlocks_per_second", "deadlocks/s", "Deadlocks detected", labels=_T),
    Field("pg_temp_bytes_per_second", "bytes/s", "Temporary file bytes written", labels=_T),
    Field("pg_waiting_locks", "locks", "Lock requests not granted", labels=_T),
    Field("pg_is_replica", "bool", "1 on a replica (in recovery), 0 on a primary", labels=_T),
    Field(
        "pg_replication_lag_seconds",
        "seconds",
        "Replay lag: of this replica, or the largest of this primary's replicas",
        labels=_T,
    ),
    Field(
        "pg_statement_seconds_per_second",
        "seconds/s",
        "Execution time of a top statement (pg_stat_statements)",
        labels=("target", "queryid"),
    ),
)

_STATS = """
SELECT
  (SELECT setting::int FROM pg_settings WHERE name = 'max_connections'),
  pg_database_size(current_database()),
  d.xact_commit, d.xact_rollback, d.blks_hit, d.blks_read, d.deadlocks, d.temp_bytes,
  (SELECT count(*) FROM pg_locks WHERE NOT granted),
  (SELECT COALESCE(EXTRACT(EPOCH FROM max(now() - state_change)), 0) FROM pg_stat_activity
     WHERE state = 'idle in transaction'),
  (SELECT COALESCE(EXTRACT(EPOCH FROM max(now() - query_start)), 0) FROM pg_stat_activity
     WHERE state = 'active' AND pid <> pg_backend_pid()),
  pg_is_in_recovery(),
  CASE WHEN pg_is_in_recovery()
       THEN EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
       ELSE (SELECT EXTRACT(EPOCH FROM max(replay_lag)) FROM pg_stat_replication) END
FROM pg_stat_database d WHERE d.datname = current_database()
"""
_STATES = "SELECT COALESCE(state, 'other'), count(*) FROM pg_stat_activity GROUP BY 1"


class PostgresCollector(TargetCollector):
    """Samples of each PostgreSQL database in ``urls``."""

    name = "postgres"
    fields = FIELDS

    def __init__(self, host: str, urls: list[str]) -> None:
        self.conninfo = {target_name(url): libpq_url(url) for url in urls}
        super().__init__(host, self.conninfo)
        self.top_statements: dict[str, list[tuple[str, float, str]]] = {}
        """Per target: (queryid, seconds spent in the last interval, query text)."""
        self._connections: dict[str, psycopg.Connection] = {}
        self._rates = RateTracker()

    def collect(self, now: float) -> list[Sample]:
        """One reading of every target."""
        out: list[Sample] = []
        for target in self.conninfo:
            try:
                out += self._collect_target(now, target)
                self.target_answered(target)
            except psycopg.Error as exc:
                self.target_failed(target, exc)
                self._drop(target)
                out.append(Sample(now, self.host, "pg_up", 0.0, {"target": target}))
        return out

    def _connection(self, target: str) -> psycopg.Connection:
        conn = self._connections.get(target)
        if conn is None or conn.closed or conn.broken:
            conn = self._connections[target] = connect(self.conninfo[target])
        return conn

    def _drop(self, target: str) -> None:
        conn = self._connections.pop(target, None)
        if conn is not None and not conn.closed:
            conn.close()

    def _collect_target(self, now: float, target: str) -> list[Sample]:
        conn = self._connection(target)
        labels = {"target": target}
        (
            max_conn,
            size,
            commits,
            rollbacks,
            hits,
            reads,
            deadlocks,
            temp_bytes,
            waiting,
            idle_tx,
            longest,
            in_recovery,
            lag,
        ) = conn.execute(_STATS).fetchone()
        states = dict(conn.execute(_STATES).fetchall())
        rate = self._rates.rate
        values: dict[str, float | None] = {
            "pg_up": 1.0,
            "pg_max_connections": max_conn,
            "pg_connections_used_ratio": sum(states.values()) / max_conn if max_conn else None,
            "pg_oldest_idle_in_transaction_seconds": idle_tx,
            "pg_longest_query_seconds": longest,
            "pg_database_size_bytes": size,
            "pg_commits_per_second": rate((target, "commit"), now, commits),
            "pg_rollbacks_per_second": rate((target, "rollback"), now, rollbacks),
            "pg_deadlocks_per_second": rate((target, "deadlocks"), now, deadlocks),
            "pg_temp_bytes_per_second": rate((target, "temp"), now, temp_bytes),
            "pg_waiting_locks": waiting,
            "pg_replication_lag_seconds": lag,
            "pg_is_replica": float(in_recovery),
        }
        hit_rate = rate((target, "hits"), now, hits)
        read_rate = rate((target, "reads"), now, reads)
        if hit_rate is not None and read_rate is not None and hit_rate + read_rate > 0:
            values["pg_cache_hit_ratio"] = hit_rate / (hit_rate + read_rate)
        out = [
            Sample(now, self.host, name, float(value), labels)
            for name, value in values.items()
            if value is not None
        ]
        out += [
            Sample(
                now, self.host, "pg_connections", float(count), {"target": target, "state": state}
            )
            for state, count in sorted(states.items())
        ]
        out += self._statements(now, conn, target)
        return out

    def _statements(self, now: float, conn: psycopg.Connection, target: str) -> list[Sample]:
        try:
            entries = pg_statements.read(conn)
        except pg_statements.NotAvailable:
            # Missing or not preloaded: nothing to read, and the target is fine.
            self.top_statements[target] = []
            return []
        seconds: dict[str, float] = {}
        texts: dict[str, str] = {}
        for entry in entries:  # one sample per statement, whichever users ran it
            spent = entry.counters.total_time_ms / 1000
            seconds[entry.queryid] = seconds.get(entry.queryid, 0.0) + spent
            texts.setdefault(entry.queryid, entry.query[:QUERY_CHARS])
        deltas = []
        for queryid, total in seconds.items():
            per_second = self._rates.rate((target, "stmt", queryid), now, total)
            if per_second:
                deltas.append((queryid, per_second, texts[queryid]))
        deltas.sort(key=lambda d: d[1], reverse=True)
        self.top_statements[target] = deltas[:TOP_STATEMENTS]
        return [
            Sample(
                now,
                self.host,
                "pg_statement_seconds_per_second",
                per_second,
                {"target": target, "queryid": queryid},
            )
            for queryid, per_second, _ in deltas[:TOP_STATEMENTS]
        ]
