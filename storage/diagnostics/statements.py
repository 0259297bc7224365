"""Statement history: what the top statements of each watched database did per interval
(``statement_samples`` step 0), an hourly rollup of it (step 3600) so a week ranks fast,
their texts, rankings over any range, one statement's history, and retention.

A range reads whole hours from the rollup where it has been built, and the collected rows
for the rest (the range's partial first and last hour, and hours not rolled up yet), so a
ranking is exact whatever the range and however late the rollup runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Engine, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import StatementText

HOURLY_STEP = 3600
ORDERS: dict[str, str] = {
    "total_time": "total_time_ms",
    "mean_time": "mean_time_ms",
    "calls": "calls",
    "rows": "rows",
    "io": "shared_blks_read",
}
"""What a ranking may be ordered by -> the column it sorts on (largest first)."""
COUNTERS = ("calls", "total_time_ms", "rows", "shared_blks_hit", "shared_blks_read")


@dataclass(frozen=True, slots=True)
class StatementDelta:
    """What one statement did during one interval, with its text."""

    queryid: str
    calls: int
    total_time_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    query: str
    username: str = ""


@dataclass(frozen=True, slots=True)
class RankedStatement:
    """A statement's sums over a range."""

    target: str
    queryid: str
    query: str
    calls: int
    total_time_ms: float
    mean_time_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    share_of_total: float


@dataclass(frozen=True, slots=True)
class StatementInfo:
    """A statement's text and when it was first and last seen."""

    target: str
    queryid: str
    database: str
    username: str
    query: str
    first_seen: float
    last_seen: float


def _text(sql: str) -> TextClause:
    """``sql`` with ``:targets`` (when it names it) bound as an expanding list."""
    clause = text(sql)
    return clause.bindparams(bindparam("targets", expanding=True)) if ":targets" in sql else clause


class StatementStore:
    """Reads and writes of statement_samples and statement_texts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    # -- writes ------------------------------------------------------------------------

    def write(
        self,
        target: str,
        database: str,
        ts: float,
        interval_s: float,
        rows: list[StatementDelta],
    ) -> None:
        """Store one interval of ``target`` ending at ``ts`` and upsert the texts."""
        if not rows:
            return
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        texts = insert(StatementText).values(
            [
                {
                    "target": target,
                    "queryid": r.queryid,
                    "database": database,
                    "username": r.username,
                    "query": r.query,
                    "first_seen": ts,
                    "last_seen": ts,
                }
                for r in rows
            ]
        )
        texts = texts.on_conflict_do_update(
            index_elements=["target", "queryid"],
            set_={"last_seen": texts.excluded.last_seen, "query": texts.excluded.query},
        )
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO statement_samples (ts, step, interval_s, target, queryid, "
                    "calls, total_time_ms, rows, shared_blks_hit, shared_blks_read) VALUES "
                    "(:ts, 0, :interval_s, :target, :queryid, :calls, :total_time_ms, :rows, "
                    ":shared_blks_hit, :shared_blks_read)"
                ),
                [
                    {
                        "ts": ts,
                        "interval_s": interval_s,
                        "target": target,
                        "queryid": r.queryid,
                        **{c: getattr(r, c) for c in COUNTERS},
                    }
                    for r in rows
                ],
            )
            conn.execute(texts)

    # -- reads -------------------------------------------------------------------------

    def _source(
        self, conn, start: float, end: float, where: str, filters: dict, rollup: bool = True
    ) -> tuple[str, dict]:
        """SQL of the rows of [start, end) matching ``where`` (whose parameters are
        ``filters``): rolled-up whole hours (unless not ``rollup``), collected rows around
        them; and all its parameters."""
        first_hour = math.ceil(start / HOURLY_STEP) * HOURLY_STEP
        last_hour = math.floor(end / HOURLY_STEP) * HOURLY_STEP
        rolled = None
        if rollup and last_hour > first_hour:
            # The newest hour rolled up of these rows: any later rows are still collected ones.
            newest = conn.execute(
                _text(f"SELECT MAX(ts) FROM statement_samples WHERE {where} AND step = :hour"),
                {**filters, "hour": HOURLY_STEP},
            ).scalar()
            if newest is not None:
                rolled = min(last_hour, newest + HOURLY_STEP)
        part = f"SELECT * FROM statement_samples WHERE {where} AND step = "
        if rolled is None or rolled <= first_hour:
            return f"{part}0 AND ts >= :start AND ts < :end", {
                **filters,
                "start": start,
                "end": end,
            }
        return (
            f"{part}0 AND ts >= :start AND ts < :h0 "
            f"UNION ALL {part}:hour AND ts >= :h0 AND ts < :h1 "
            f"UNION ALL {part}0 AND ts >= :h1 AND ts < :end",
            {
                **filters,
                "start": start,
                "end": end,
                "h0": first_hour,
                "h1": rolled,
                "hour": HOURLY_STEP,
            },
        )

    def rank(
        self,
        start: float,
        end: float,
        targets: list[str],
        order: str = "total_time",
        limit: int = 10,
    ) -> list[RankedStatement]:
        """The ``limit`` statements of ``targets`` that did most of ``order`` in [start,
        end), largest first, each with its share of the range's total execution time."""
        if not targets:
            return []
        column = ORDERS[order]
        with self.engine.connect() as conn:
            source, params = self._source(
                conn, start, end, "target IN :targets", {"targets": targets}
            )
            statement = _text(
                "SELECT s.target, s.queryid, COALESCE(t.query, ''), s.calls, s.total_time_ms, "
                "s.mean_time_ms, s.rows, s.shared_blks_hit, s.shared_blks_read, s.share FROM ("
                "SELECT target, queryid, SUM(calls) AS calls, SUM(total_time_ms) AS total_time_ms, "
                "COALESCE(SUM(total_time_ms) / NULLIF(SUM(calls), 0), 0) AS mean_time_ms, "
                "SUM(rows) AS rows, SUM(shared_blks_hit) AS shared_blks_hit, "
                "SUM(shared_blks_read) AS shared_blks_read, "
                "SUM(total_time_ms) / NULLIF(SUM(SUM(total_time_ms)) OVER (), 0) AS share "
                f"FROM ({source}) x GROUP BY target, queryid "
                f"ORDER BY {column} DESC, queryid LIMIT :limit) s "
                "LEFT JOIN statement_texts t ON t.target = s.target AND t.queryid = s.queryid "
                f"ORDER BY s.{column} DESC, s.queryid"
            )
            rows = conn.execute(statement, {**params, "limit": limit}).all()
        return [
            RankedStatement(
                target,
                queryid,
                query,
                int(calls),
                float(total),
                float(mean),
                int(count),
                int(hit),
                int(blks_read),
                float(share or 0.0),
            )
            for target, queryid, query, calls, total, mean, count, hit, blks_read, share in rows
        ]

    def history(self, target: str, queryid: str, start: float, end: float, step: int) -> list[dict]:
        """The statement's calls, total and mean time (ms) per ``step`` seconds of
        [start, end), buckets with no calls left out; hourly rows are read only when the
        buckets are at least an hour wide."""
        bucket = (
            "floor((ts - :start) / :bucket)::bigint"
            if self.dialect == "postgresql"
            else "CAST((ts - :start) / :bucket AS INTEGER)"
        )
        with self.engine.connect() as conn:
            source, params = self._source(
                conn,
                start,
                end,
                "target = :target AND queryid = :queryid",
                {"target": target, "queryid": queryid},
                rollup=step >= HOURLY_STEP,
            )
            rows = conn.execute(
                text(
                    f"SELECT {bucket} AS b, SUM(calls), SUM(total_time_ms), SUM(rows), "
                    f"SUM(shared_blks_read) FROM ({source}) x GROUP BY 1 ORDER BY 1"
                ),
                {**params, "bucket": step},
            ).all()
        return [
            {
                "ts": start + int(b) * step,
                "calls": int(calls),
                "total_time_ms": float(total),
                "mean_time_ms": float(total) / int(calls) if calls else 0.0,
                "rows": int(count),
                "shared_blks_read": int(blks_read),
            }
            for b, calls, total, count, blks_read in rows
        ]

    def targets(self) -> list[str]:
        """Every target with a stored statement."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    text("SELECT DISTINCT target FROM statement_texts ORDER BY target")
                ).scalars()
            )

    def statement(self, target: str | None, queryid: str) -> list[StatementInfo]:
        """The texts stored for ``queryid`` (of ``target`` only, when given)."""
        where = "queryid = :queryid" + (" AND target = :target" if target else "")
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT target, queryid, database, username, query, first_seen, last_seen "
                    f"FROM statement_texts WHERE {where} ORDER BY target"
                ),
                {"queryid": queryid, "target": target},
            ).all()
        return [StatementInfo(*row) for row in rows]

    # -- maintenance -------------------------------------------------------------------

    def rollup(self, now: float) -> int:
        """Sum the collected rows of every complete hour not rolled up yet (and the last
        one again) into hourly rows; return the rows written."""
        until = math.floor(now / HOURLY_STEP) * HOURLY_STEP
        bucket = (
            f"floor(ts / {HOURLY_STEP})::bigint * {HOURLY_STEP}"
            if self.dialect == "postgresql"
            else f"CAST(ts / {HOURLY_STEP} AS INTEGER) * {HOURLY_STEP}"
        )
        with self.engine.begin() as conn:
            since = conn.execute(
                text("SELECT MAX(ts) FROM statement_samples WHERE step = :step"),
                {"step": HOURLY_STEP},
            ).scalar()
            if since is None:
                since = conn.execute(
                    text("SELECT MIN(ts) FROM statement_samples WHERE step = 0")
                ).scalar()
            if since is None:
                return 0
            since = math.floor(since / HOURLY_STEP) * HOURLY_STEP
            if since >= until:
                return 0
            bounds = {"since": since, "until": until, "step": HOURLY_STEP}
            conn.execute(
                text(
                    "DELETE FROM statement_samples WHERE step = :step "
                    "AND ts >= :since AND ts < :until"
                ),
                bounds,
            )
            return (
                conn.execute(
                    text(
                        "INSERT INTO statement_samples (ts, step, interval_s, target, queryid, "
                        "calls, total_time_ms, rows, shared_blks_hit, shared_blks_read) "
                        f"SELECT {bucket}, :step, :step, target, queryid, SUM(calls), "
                        "SUM(total_time_ms), SUM(rows), SUM(shared_blks_hit), "
                        "SUM(shared_blks_read) FROM statement_samples WHERE step = 0 "
                        "AND ts >= :since AND ts < :until GROUP BY 1, target, queryid"
                    ),
                    bounds,
                ).rowcount
                or 0
            )

    def trim(self, now: float, *, raw_retention: float, rollup_retention: float) -> int:
        """Delete collected rows older than ``raw_retention`` seconds, hourly rows older than
        ``rollup_retention`` and texts of statements not seen since; return rows deleted."""
        with self.engine.begin() as conn:
            deleted = conn.execute(
                text("DELETE FROM statement_samples WHERE step = 0 AND ts < :cut"),
                {"cut": now - raw_retention},
            ).rowcount
            deleted += conn.execute(
                text("DELETE FROM statement_samples WHERE step = :step AND ts < :cut"),
                {"step": HOURLY_STEP, "cut": now - rollup_retention},
            ).rowcount
            conn.execute(
                text("DELETE FROM statement_texts WHERE last_seen < :cut"),
                {"cut": now - max(raw_retention, rollup_retention)},
            )
        return deleted
