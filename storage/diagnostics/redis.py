"""Redis SLOWLOG history: entries copied from each watched server, once each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import RedisSlowEntry


@dataclass(frozen=True)
class SlowEntry:
    """One SLOWLOG entry of a server: its id there, when it started (epoch seconds), how
    long it ran, the command as shown (secrets redacted) and the client's address."""

    target: str
    entry_id: int
    ts: float
    duration_us: int
    command: str
    client: str = ""


class RedisSlowlogStore:
    """Writes and reads ``redis_slowlog`` on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, entries: Iterable[SlowEntry]) -> int:
        """Store the entries not stored yet (a target and entry id are stored once); the
        number of rows added."""
        rows = [asdict(e) for e in entries]
        if not rows:
            return 0
        with self.engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            result = conn.execute(
                dialect.insert(RedisSlowEntry)
                .on_conflict_do_nothing(index_elements=["target", "entry_id"])
                .returning(RedisSlowEntry.entry_id),
                rows,
            )
            return len(result.all())

    def latest_entry_id(self, target: str) -> int | None:
        """The highest entry id stored for ``target``, None when there is none."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.max(RedisSlowEntry.entry_id)).where(RedisSlowEntry.target == target)
            ).scalar_one()

    def read(
        self, target: str, start: float | None, end: float | None, limit: int = 1000
    ) -> list[SlowEntry]:
        """Entries of ``target`` that started in [start, end], newest first."""
        query = (
            select(RedisSlowEntry)
            .where(RedisSlowEntry.target == target)
            .order_by(RedisSlowEntry.ts.desc(), RedisSlowEntry.entry_id.desc())
            .limit(limit)
        )
        if start is not None:
            query = query.where(RedisSlowEntry.ts >= start)
        if end is not None:
            query = query.where(RedisSlowEntry.ts <= end)
        with self.engine.connect() as conn:
            return [
                SlowEntry(r.target, r.entry_id, r.ts, r.duration_us, r.command, r.client)
                for r in conn.execute(query)
            ]

    def trim(self, before: float) -> int:
        """Delete entries that started before ``before``; how many went."""
        with self.engine.begin() as conn:
            return conn.execute(delete(RedisSlowEntry).where(RedisSlowEntry.ts < before)).rowcount
