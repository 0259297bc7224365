"""Pulseboard's own database connection pool (SQLAlchemy), on either backend."""

from __future__ import annotations

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


class PoolCollector:
    """Size, use and overflow of the engine's connection pool."""

    name = "db_pool"
    fields = FIELDS

    def __init__(self, host: str, engine: Engine) -> None:
        self.host = host
        self.engine = engine

    def collect(self, now: float) -> list[Sample]:
        """One reading of the pool (pools that do not queue report what they can)."""
        pool = self.engine.pool
        if not isinstance(pool, QueuePool):
            return [
                Sample(now, self.host, "pulseboard_db_pool_checked_out", float(pool.checkedout()))
            ]
        return [
            Sample(now, self.host, "pulseboard_db_pool_size", float(pool.size())),
            Sample(now, self.host, "pulseboard_db_pool_checked_out", float(pool.checkedout())),
            Sample(now, self.host, "pulseboard_db_pool_overflow", float(max(pool.overflow(), 0))),
            Sample(
                now,
                self.host,
                "pulseboard_db_pool_used_ratio",
                # QueuePool keeps its overflow limit private; it is the pool's own setting.
                pool.checkedout() / max(pool.size() + max(pool._max_overflow, 0), 1),
            ),
        ]
