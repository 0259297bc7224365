"""Pulseboard's own database connection pool (SQLAlchemy), on either backend."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from collectors.base import Field, Sample

FIELDS: tuple[Field, ...] = (
    Field("pulseboard_db_pool_size", "connections", "Connections the pool keeps"),
    Field("pulseboard_db_pool_checked_out", "connections", "Connections in use"),
    Field("pulseboard_db_pool_overflow", "connections", "Connections beyond the pool size"),
    Field(
        "pulseboard_db_pool_used_ratio",
        "ratio",
        "Connections in use of the most the pool opens (size plus overflow)",
    ),
)


@dataclass(frozen=True)
class PoolState:
    """One reading of a connection pool."""

    size: int
    in_use: int
    overflow: int
    max_overflow: int
    waiting: int

    def to_dict(self) -> dict:
        """JSON-ready: what the diagnostics summary reports."""
        return {
            "size": self.size,
            "in_use": self.in_use,
            "overflow": self.overflow,
            "waiting": self.waiting,
        }


def pool_state(engine: Engine) -> PoolState:
    """Size, use, overflow and waiting threads of ``engine``'s pool (a pool that does not
    queue, such as SQLite's, reports only what is checked out)."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return PoolState(0, pool.checkedout(), 0, 0, 0)
    # QueuePool keeps its overflow limit and its queue private; they are its own state.
    queue = getattr(pool, "_pool", None)
    waiters = getattr(getattr(queue, "not_empty", None), "_waiters", ())
    return PoolState(
        pool.size(),
        pool.checkedout(),
        max(pool.overflow(), 0),
        max(pool._max_overflow, 0),
        len(waiters),
    )


class PoolCollector:
    """Size, use and overflow of the engine's connection pool."""

    name = "db_pool"
    fields = FIELDS

    def __init__(self, host: str, engine: Engine) -> None:
        self.host = host
        self.engine = engine

    def collect(self, now: float) -> list[Sample]:
        """One reading of the pool (pools that do not queue report what they can)."""
        state = pool_state(self.engine)
        if not isinstance(self.engine.pool, QueuePool):
            return [Sample(now, self.host, "pulseboard_db_pool_checked_out", float(state.in_use))]
        return [
            Sample(now, self.host, "pulseboard_db_pool_size", float(state.size)),
            Sample(now, self.host, "pulseboard_db_pool_checked_out", float(state.in_use)),
            Sample(now, self.host, "pulseboard_db_pool_overflow", float(state.overflow)),
            Sample(
                now,
                self.host,
                "pulseboard_db_pool_used_ratio",
                state.in_use / max(state.size + state.max_overflow, 1),
            ),
        ]
