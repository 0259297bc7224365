"""The notification outbox: what is to be sent, written in the transaction of the change
it tells of, and, with each attempt and the receiver's answer, the delivery log."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import NotificationOutbox

STATUSES = ("pending", "sent", "failed", "silenced", "merged", "skipped")
"""``pending`` until sent; ``failed`` after the last retry; ``silenced`` muted by a
silence; ``merged`` carried by a digest; ``skipped`` no longer worth sending."""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A notification to queue for one channel. ``dedup_key`` makes queueing the same
    notification twice (a retried transaction, two evaluations) write it once."""

    dedup_key: str
    group_key: str
    channel_id: int
    rule_id: int
    event: str
    payload: dict
    created_at: float
    next_attempt_at: float
    instance_id: int | None = None


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """A stored outbox row: one notification and how its delivery went."""

    id: int
    dedup_key: str
    group_key: str
    channel_id: int
    rule_id: int
    instance_id: int
    event: str
    payload: dict = field(default_factory=dict)
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_code: int | None = None
    last_answer: str | None = None
    created_at: float = 0.0
    sent_at: float | None = None
    batch: str | None = None


def _record(row) -> OutboxRecord:
    values = {f.name: getattr(row, f.name) for f in fields(OutboxRecord)}
    values["payload"] = json.loads(values["payload"])
    return OutboxRecord(**values)


def enqueue(conn: Connection, entries: Sequence[OutboxEntry]) -> None:
    """Queue ``entries`` inside the caller's transaction, skipping known dedup keys."""
    if not entries:
        return
    rows = [
        {
            "dedup_key": e.dedup_key,
            "group_key": e.group_key,
            "channel_id": e.channel_id,
            "rule_id": e.rule_id,
            "instance_id": e.instance_id,
            "event": e.event,
            "payload": json.dumps(e.payload, sort_keys=True),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": e.next_attempt_at,
            "created_at": e.created_at,
        }
        for e in entries
    ]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(NotificationOutbox).on_conflict_do_nothing(index_elements=["dedup_key"]),
        rows,
    )


class OutboxStore:
    """Reads the outbox (the delivery log) on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def deliveries(
        self,
        *,
        channel_id: int | None = None,
        instance_id: int | None = None,
        status: str | None = None,
        cursor: int | None = None,
        limit: int = 100,
    ) -> tuple[list[OutboxRecord], int | None]:
        """The delivery log newest first, and the cursor of the next page (None at the end)."""
        sql = select(NotificationOutbox).order_by(NotificationOutbox.id.desc()).limit(limit + 1)
        if channel_id is not None:
            sql = sql.where(NotificationOutbox.channel_id == channel_id)
        if instance_id is not None:
            sql = sql.where(NotificationOutbox.instance_id == instance_id)
        if status is not None:
            sql = sql.where(NotificationOutbox.status == status)
        if cursor is not None:
            sql = sql.where(NotificationOutbox.id < cursor)
        with self.engine.connect() as conn:
            rows = [_record(r) for r in conn.execute(sql).all()]
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (rows[-1].id if more and rows else None)
