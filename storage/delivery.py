"""Delivery of the notification outbox: claiming due rows under the leader's fence, and
writing what became of each (sent, merged, failed, silenced, skipped, or due again later),
with the alert history lines that tell of it, in one transaction each.

A claim moves the rows' ``next_attempt_at`` forward by a lease instead of marking them, so
rows whose sender died come back by themselves when the lease ends: delivery is at least
once. Times are epoch seconds (UTC).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import Engine, func, insert, select, update

from storage.alerts import Fence, HistoryEntry, InstanceRecord, _instance
from storage.models import AlertHistory, AlertInstance, NotificationOutbox
from storage.outbox import OutboxEntry, OutboxRecord, _record, enqueue

ANSWER_CHARS = 500
"""How much of a receiver's answer the delivery log keeps."""
TOLD = ("sent", "merged")
"""Statuses of rows the receiver got (alone or inside a digest)."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at sending a batch of rows, and what the receiver said."""

    batch: str
    code: int | None
    answer: str


@dataclass(frozen=True, slots=True)
class Reminder:
    """Notifications queued for an instance outside evaluation (a repeat, the end of an
    acknowledgement or of a silence), applied only while the instance is as it was read."""

    instance_id: int
    notified_at: float | None
    """The instance's ``notified_at`` when read; the reminder is dropped if it changed."""
    entries: Sequence[OutboxEntry]
    now: float
    clear_ack: bool = False
    history: Sequence[HistoryEntry] = ()


def _history_rows(entries: Sequence[HistoryEntry]) -> list[dict]:
    rows = []
    for entry in entries:
        values = asdict(entry)
        values.pop("id")
        rows.append(values)
    return rows


class DeliveryStore:
    """The outbox as the delivery job works it, on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- claiming ------------------------------------------------------------------------

    def claim_due(self, now: float, limit: int, lease_s: float, fence: Fence) -> list[OutboxRecord]:
        """Pending rows due by ``now`` (at most ``limit``, oldest first), leased for
        ``lease_s`` seconds; raises ``NotLeader`` (from ``fence``) in a process that no
        longer leads, claiming nothing."""
        due = (
            select(NotificationOutbox.id)
            .where(
                NotificationOutbox.status == "pending", NotificationOutbox.next_attempt_at <= now
            )
            .order_by(NotificationOutbox.next_attempt_at, NotificationOutbox.id)
            .limit(limit)
        )
        with self.engine.begin() as conn:
            fence(conn)
            # A round with nothing due (most of them) writes nothing, so it takes no write lock.
            if conn.execute(due.limit(1)).first() is None:
                return []
            rows = conn.execute(
                update(NotificationOutbox)
                .where(
                    NotificationOutbox.id.in_(
                        due.with_for_update(skip_locked=True).scalar_subquery()
                    )
                )
                .values(next_attempt_at=now + lease_s)
                .returning(NotificationOutbox)
            ).all()
        return sorted((_record(r) for r in rows), key=lambda r: r.id)

    # -- outcomes ------------------------------------------------------------------------

    def finish(
        self,
        ids: Sequence[int],
        status: str,
        now: float,
        attempt: Attempt,
        history: Sequence[HistoryEntry] = (),
    ) -> None:
        """Record the last attempt at rows ``ids`` and their final ``status`` (``sent``,
        ``merged`` or ``failed``), with ``history``, in one transaction."""
        values = self._attempt_values(attempt)
        values["status"] = status
        if status in TOLD:
            values["sent_at"] = now
        self._update(ids, values, history)

    def reschedule(self, ids: Sequence[int], at: float, attempt: Attempt | None = None) -> None:
        """Make rows ``ids`` due again at ``at``, recording ``attempt`` if one was made."""
        values = self._attempt_values(attempt) if attempt else {}
        values["next_attempt_at"] = at
        self._update(ids, values, ())

    def mark(
        self,
        ids: Sequence[int],
        status: str,
        batch: str | None = None,
        *,
        reason: str | None = None,
        history: Sequence[HistoryEntry] = (),
    ) -> None:
        """Give rows ``ids`` their final ``status`` without sending them (``silenced``,
        ``skipped``), ``reason`` kept as their answer, with ``history``."""
        values = {"status": status, "batch": batch}
        if reason is not None:
            values["last_answer"] = reason[:ANSWER_CHARS]
        self._update(ids, values, history)

    @staticmethod
    def _attempt_values(attempt: Attempt) -> dict:
        return {
            "attempts": NotificationOutbox.attempts + 1,
            "last_code": attempt.code,
            "last_answer": attempt.answer[:ANSWER_CHARS],
            "batch": attempt.batch,
        }

    def _update(self, ids: Sequence[int], values: dict, history: Sequence[HistoryEntry]) -> None:
        if not ids:
            return
        with self.engine.begin() as conn:
            # Only pending rows: a row another sender finished after its lease ran out stays.
            conn.execute(
                update(NotificationOutbox)
                .where(NotificationOutbox.id.in_(list(ids)), NotificationOutbox.status == "pending")
                .values(values)
            )
            if history:
                conn.execute(insert(AlertHistory), _history_rows(history))

    # -- what the stages ask -------------------------------------------------------------

    def group_state(self, channel_id: int, group_key: str) -> tuple[float | None, float | None]:
        """For one group of one channel: when its oldest pending, never tried row was
        queued, and when the receiver last got a notification of it (None: never)."""
        in_group = (
            NotificationOutbox.channel_id == channel_id,
            NotificationOutbox.group_key == group_key,
        )
        with self.engine.connect() as conn:
            oldest = conn.execute(
                select(func.min(NotificationOutbox.created_at)).where(
                    *in_group,
                    NotificationOutbox.status == "pending",
                    NotificationOutbox.attempts == 0,
                )
            ).scalar()
            last = conn.execute(
                select(func.max(NotificationOutbox.sent_at)).where(
                    *in_group, NotificationOutbox.status.in_(TOLD)
                )
            ).scalar()
        return oldest, last

    def last_told(self, instance_id: int, channel_id: int) -> OutboxRecord | None:
        """The newest row about ``instance_id`` that channel ``channel_id`` received."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(NotificationOutbox)
                .where(
                    NotificationOutbox.instance_id == instance_id,
                    NotificationOutbox.channel_id == channel_id,
                    NotificationOutbox.status.in_(TOLD),
                )
                .order_by(NotificationOutbox.sent_at.desc(), NotificationOutbox.id.desc())
                .limit(1)
            ).first()
        return _record(row) if row else None

    def sends_since(self, channel_id: int, since: float) -> list[float]:
        """When each notification (one per batch) that channel ``channel_id`` received
        after ``since`` went out, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(func.max(NotificationOutbox.sent_at))
                .where(
                    NotificationOutbox.channel_id == channel_id,
                    NotificationOutbox.status.in_(TOLD),
                    NotificationOutbox.sent_at > since,
                )
                .group_by(NotificationOutbox.batch)
            ).all()
        return sorted(r[0] for r in rows)

    def last_payloads(self, instance_ids: Sequence[int]) -> dict[int, dict]:
        """The payload (the alert as last queued) of the newest row of each instance."""
        if not instance_ids:
            return {}
        newest = (
            select(func.max(NotificationOutbox.id))
            .where(NotificationOutbox.instance_id.in_(list(instance_ids)))
            .group_by(NotificationOutbox.instance_id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(NotificationOutbox.instance_id, NotificationOutbox.payload).where(
                    NotificationOutbox.id.in_(newest.scalar_subquery())
                )
            ).all()
        return {r.instance_id: json.loads(r.payload) for r in rows}

    def known_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` the outbox already holds as dedup keys."""
        if not keys:
            return set()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(NotificationOutbox.dedup_key).where(
                    NotificationOutbox.dedup_key.in_(list(keys))
                )
            ).all()
        return {r[0] for r in rows}

    def instances(self, ids: Sequence[int]) -> dict[int, InstanceRecord]:
        """Instances by id (those that still exist)."""
        if not ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(AlertInstance).where(AlertInstance.id.in_(list(set(ids))))
            ).all()
        return {r.id: _instance(r) for r in rows}

    # -- notifications made outside evaluation -------------------------------------------

    def remind(self, reminder: Reminder, fence: Fence) -> bool:
        """Queue a reminder's notifications, note the instance notified now (and clear
        its acknowledgement if asked), with its history, in one fenced transaction;
        False when the instance changed since it was read (nothing is written)."""
        values: dict = {"notified_at": reminder.now}
        if reminder.clear_ack:
            values.update(ack_by=None, ack_at=None, ack_until=None, ack_comment=None)
        with self.engine.begin() as conn:
            fence(conn)
            changed = conn.execute(
                update(AlertInstance)
                .where(
                    AlertInstance.id == reminder.instance_id,
                    AlertInstance.notified_at.is_(None)
                    if reminder.notified_at is None
                    else AlertInstance.notified_at == reminder.notified_at,
                )
                .values(values)
            ).rowcount
            if not changed:
                return False
            enqueue(conn, reminder.entries)
            if reminder.history:
                conn.execute(insert(AlertHistory), _history_rows(reminder.history))
        return True
