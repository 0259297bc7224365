"""Error groups over a range: the groups the log store keeps at write time
(``error_groups``), with their counts, hosts, sources and sparkline in the range read from
the records' fingerprints (``ix_log_records_fingerprint_ts``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select

from storage.logquery import Query
from storage.logs import LogStore
from storage.models import ErrorGroup
from storage.models import LogRecord as LogRow

EVERYTHING = Query()
MAX_NAMES = 10
"""Hosts and sources listed per group (the most frequent first)."""

_GROUP_COLUMNS = (
    ErrorGroup.fingerprint,
    ErrorGroup.title,
    ErrorGroup.level,
    ErrorGroup.source,
    ErrorGroup.first_seen,
    ErrorGroup.last_seen,
    ErrorGroup.count,
    ErrorGroup.sample,
    ErrorGroup.regressed_at,
)


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class ErrorGroupStore:
    """Reads error groups; the log store writes them."""

    def __init__(self, logs: LogStore) -> None:
        self.logs = logs

    def groups(
        self,
        start: float,
        end: float,
        limit: int = 10,
        query: Query = EVERYTHING,
        new_only: bool = False,
        buckets: int = 24,
        details: bool = True,
    ) -> list[dict]:
        """The groups with records matching ``query`` in [start, end), most records first
        (``new_only``: only those first seen in it); each a dict of ``error_groups``'
        columns plus ``in_range``, ``new``, ``regressed`` and (unless not ``details``)
        ``hosts``, ``sources`` and ``sparkline`` (``buckets`` counts)."""
        counted = self.logs.matching(
            select(LogRow.fingerprint.label("fp"), func.count().label("n")).where(
                LogRow.fingerprint.is_not(None)
            ),
            query,
            _when(start),
            _when(end),
        ).group_by(LogRow.fingerprint)
        counts = counted.subquery()
        stmt = (
            select(*_GROUP_COLUMNS, counts.c.n)
            .join(counts, counts.c.fp == ErrorGroup.fingerprint)
            .order_by(counts.c.n.desc(), ErrorGroup.last_seen.desc(), ErrorGroup.fingerprint)
            .limit(limit)
        )
        if new_only:
            stmt = stmt.where(ErrorGroup.first_seen >= start, ErrorGroup.first_seen < end)
        with self.logs.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        found = [_group(row[:-1], row[-1], start, end, buckets) for row in rows]
        if details:
            self._add_details(found, start, end, query, buckets)
        return found

    def group(self, fingerprint: str, start: float, end: float, buckets: int = 60) -> dict | None:
        """One group with its counts in [start, end) as ``groups`` gives them, plus
        ``step`` and ``series`` (``[[bucket start, count]…]``); None when unknown."""
        with self.logs.engine.connect() as conn:
            row = conn.execute(
                select(*_GROUP_COLUMNS).where(ErrorGroup.fingerprint == fingerprint)
            ).first()
        if row is None:
            return None
        found = _group(row, 0, start, end, buckets)
        self._add_details([found], start, end, EVERYTHING, buckets)
        found["in_range"] = sum(found["sparkline"])
        step = _step(start, end, buckets)
        found["step"] = step
        found["series"] = [[start + i * step, n] for i, n in enumerate(found["sparkline"])]
        return found

    def _add_details(
        self, groups: Sequence[dict], start: float, end: float, query: Query, buckets: int
    ) -> None:
        """Fill in each group's hosts, sources and sparkline over [start, end)."""
        if not groups:
            return
        by_fp = {g["fingerprint"]: g for g in groups}
        ours = LogRow.fingerprint.in_(list(by_fp))
        for name in ("host", "source"):
            column = getattr(LogRow, name)
            stmt = self.logs.matching(
                select(LogRow.fingerprint, column, func.count()).where(ours),
                query,
                _when(start),
                _when(end),
            ).group_by(LogRow.fingerprint, column)
            with self.logs.engine.connect() as conn:
                rows = sorted(conn.execute(stmt).all(), key=lambda r: (-r[2], r[1]))
            for fp, value, _ in rows:
                names = by_fp[fp][f"{name}s"]
                if len(names) < MAX_NAMES:
                    names.append(value)
        step = _step(start, end, buckets)
        bucket = self.logs.bucket(start, step).label("b")
        stmt = self.logs.matching(
            select(bucket, LogRow.fingerprint, func.count()).where(ours),
            query,
            _when(start),
            _when(end),
        ).group_by("b", LogRow.fingerprint)
        with self.logs.engine.connect() as conn:
            for index, fp, n in conn.execute(stmt):
                line = by_fp[fp]["sparkline"]
                line[min(max(int(index), 0), len(line) - 1)] += n


def _step(start: float, end: float, buckets: int) -> float:
    """The width of one of ``buckets`` buckets over [start, end), whole seconds."""
    return max(1.0, math.ceil(max(end - start, 1.0) / max(buckets, 1)))


def _group(row: Sequence, in_range: int, start: float, end: float, buckets: int) -> dict:
    fingerprint, title, level, source, first_seen, last_seen, count, sample, regressed_at = row
    return {
        "fingerprint": fingerprint,
        "title": title,
        "level": level,
        "source": source,
        "first_seen": first_seen,
        "last_seen": last_seen,
        "total": count,
        "in_range": in_range,
        "sample": sample,
        "regressed_at": regressed_at,
        "new": start <= first_seen < end,
        "regressed": regressed_at is not None and start <= regressed_at < end,
        "hosts": [],
        "sources": [],
        "sparkline": [0] * math.ceil(max(end - start, 1.0) / _step(start, end, buckets)),
    }
