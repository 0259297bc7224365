"""Reads of the incident timeline that no other store makes: error groups first seen in a
range, how often each fingerprint was logged in a range, and given log lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from storage.accounts import utc
from storage.models import ErrorGroup as ErrorGroupRow
from storage.models import LogRecord as LogRow


@dataclass(frozen=True, slots=True)
class ErrorGroup:
    """An error group as stored (times in epoch seconds)."""

    fingerprint: str
    title: str
    level: str
    source: str
    first_seen: float
    last_seen: float
    count: int
    sample: str
    regressed_at: float | None

    def to_dict(self) -> dict:
        """JSON-ready data."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class FingerprintCount:
    """How many records of one fingerprint fell in a range, and the first one's time."""

    fingerprint: str
    count: int
    first: float


@dataclass(frozen=True, slots=True)
class LogLine:
    """A log line the timeline shows as it is (a leader change)."""

    ts: float
    host: str
    message: str


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class TimelineReads:
    """Error groups and log lines over a range, read from their tables as stored."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def groups_seen(
        self,
        start: float,
        end: float,
        *,
        first_seen_only: bool = False,
        fingerprints: Sequence[str] | None = None,
        limit: int = 1000,
    ) -> list[ErrorGroup]:
        """Groups seen in [start, end) (first seen there with ``first_seen_only``), or
        the groups of ``fingerprints``; most records first, at most ``limit``."""
        stmt = select(ErrorGroupRow).order_by(ErrorGroupRow.count.desc()).limit(limit)
        if fingerprints is not None:
            stmt = stmt.where(ErrorGroupRow.fingerprint.in_(list(fingerprints)))
        elif first_seen_only:
            stmt = stmt.where(ErrorGroupRow.first_seen >= start, ErrorGroupRow.first_seen < end)
        else:
            stmt = stmt.where(ErrorGroupRow.last_seen >= start, ErrorGroupRow.first_seen < end)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [
            ErrorGroup(
                r.fingerprint,
                r.title,
                r.level,
                r.source,
                r.first_seen,
                r.last_seen,
                r.count,
                r.sample,
                r.regressed_at,
            )
            for r in rows
        ]

    def fingerprint_counts(self, start: float, end: float) -> dict[str, FingerprintCount]:
        """Records per fingerprint in [start, end), with each one's first time."""
        stmt = (
            select(LogRow.fingerprint, func.count(), func.min(LogRow.ts))
            .where(
                LogRow.fingerprint.is_not(None), LogRow.ts >= _when(start), LogRow.ts < _when(end)
            )
            .group_by(LogRow.fingerprint)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return {
            fp: FingerprintCount(fp, n, _epoch(first)) for fp, n, first in rows if first is not None
        }

    def lines(
        self, source: str, messages: Sequence[str], start: float, end: float, limit: int = 500
    ) -> list[LogLine]:
        """Lines from ``source`` whose message is one of ``messages`` in [start, end),
        oldest first."""
        stmt = (
            select(LogRow.ts, LogRow.host, LogRow.message)
            .where(
                LogRow.source == source,
                LogRow.message.in_(list(messages)),
                LogRow.ts >= _when(start),
                LogRow.ts < _when(end),
            )
            .order_by(LogRow.ts, LogRow.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [LogLine(utc(ts).timestamp(), host, message) for ts, host, message in rows]


def _epoch(value: datetime | str) -> float:
    """A ``MIN(ts)`` as epoch seconds: SQLite hands back the stored text, not a datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()
    return utc(value).timestamp()
