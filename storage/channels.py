"""Notification channels: where alerts are sent. The config is stored as given (its
secret already encrypted by the alerting layer)."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage.alerts import DuplicateName
from storage.models import NotificationChannel


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """A stored channel."""

    name: str
    kind: str
    config: dict
    enabled: bool = True
    created_by: str | None = None
    created_at: float | None = None
    updated_at: float | None = None
    id: int | None = None


def _record(row) -> ChannelRecord:
    values = {f.name: getattr(row, f.name) for f in fields(ChannelRecord)}
    values["config"] = json.loads(values["config"])
    return ChannelRecord(**values)


class ChannelStore:
    """Channels on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, channel: ChannelRecord, now: float) -> ChannelRecord:
        """Store a new channel; raises ``DuplicateName`` when the name is taken."""
        channel = replace(channel, created_at=now, updated_at=now)
        values = {
            "name": channel.name,
            "kind": channel.kind,
            "config": json.dumps(channel.config, sort_keys=True),
            "enabled": channel.enabled,
            "created_by": channel.created_by,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.engine.begin() as conn:
                channel_id = conn.execute(
                    insert(NotificationChannel).values(values).returning(NotificationChannel.id)
                ).scalar_one()
        except IntegrityError as exc:
            raise DuplicateName(channel.name) from exc
        return replace(channel, id=channel_id)

    def replace(self, channel_id: int, channel: ChannelRecord, now: float) -> ChannelRecord | None:
        """Replace a channel's name, kind, config and enabled flag; None if missing."""
        values = {
            "name": channel.name,
            "kind": channel.kind,
            "config": json.dumps(channel.config, sort_keys=True),
            "enabled": channel.enabled,
            "updated_at": now,
        }
        try:
            with self.engine.begin() as conn:
                found = conn.execute(
                    update(NotificationChannel)
                    .where(NotificationChannel.id == channel_id)
                    .values(values)
                ).rowcount
        except IntegrityError as exc:
            raise DuplicateName(channel.name) from exc
        return self.get(channel_id) if found else None

    def delete(self, channel_id: int) -> bool:
        """Delete a channel; False if there was none."""
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    delete(NotificationChannel).where(NotificationChannel.id == channel_id)
                ).rowcount
            )

    def get(self, channel_id: int) -> ChannelRecord | None:
        """One channel, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(NotificationChannel).where(NotificationChannel.id == channel_id)
            ).first()
        return _record(row) if row else None

    def list(self) -> list[ChannelRecord]:
        """Every channel, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(NotificationChannel).order_by(NotificationChannel.name))
            return [_record(r) for r in rows.all()]
