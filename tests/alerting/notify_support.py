"""What the delivery tests share: alerts queued the way the evaluation queues them, sent
through the real webhook channel to a receiver on 127.0.0.1 (``tests.receivers``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy import Engine

from app.alerting.notification import AlertView, DeliveryContext
from app.alerting.notify import Deliverer, DeliveryConfig, outbox_entries
from storage.alerts import (
    AlertStore,
    HistoryEntry,
    InstanceChange,
    InstanceRecord,
    RuleRecord,
    SilenceRecord,
)
from storage.channels import ChannelRecord, ChannelStore
from storage.leader import FileLeaderLock
from storage.outbox import OutboxRecord, OutboxStore
from tests.receivers import Receiver

T0 = 1_800_000_000.0
"""The tests' clock starts here (epoch seconds)."""
CONTEXT = DeliveryContext(external_url="http://pulseboard.test", allow_private=True, timeout=5)
"""Receivers on 127.0.0.1 are let through, as ``PULSEBOARD_WEBHOOK_ALLOW_PRIVATE`` does."""


def posted(receiver: Receiver) -> list[dict]:
    """The webhook bodies ``receiver`` was sent, in order."""
    return [r.json() for r in receiver.requests]


def hosts(body: dict) -> list[str]:
    """The hosts of a webhook body's alerts, sorted."""
    return sorted(a["labels"]["host"] for a in body["alerts"])


class Alerts:
    """Rules, channels and alerts on one database, queued as the evaluation queues them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = AlertStore(engine)
        self.channels = ChannelStore(engine)
        self.outbox = OutboxStore(engine)

    def channel(
        self, receiver: Receiver | str, name: str = "ops hook", **config: str
    ) -> ChannelRecord:
        """A webhook channel posting to ``receiver`` (or a URL), with more ``config``."""
        url = receiver if isinstance(receiver, str) else f"{receiver.url}/hook"
        return self.channels.create(ChannelRecord(name, "webhook", {"url": url, **config}), T0)

    def rule(
        self, name: str, channels: list[int], repeat_s: int = 3600, labels: dict | None = None
    ) -> RuleRecord:
        """A metric rule notifying ``channels``."""
        record = RuleRecord(
            name,
            "metric",
            {"metric": "cpu"},
            channels=channels,
            repeat_s=repeat_s,
            labels=labels or {},
        )
        return self.store.create_rule(record, "admin", T0)

    def silence(
        self, matchers: dict, starts_at: float, ends_at: float, weekly: dict | None = None
    ) -> SilenceRecord:
        """A silence of ``matchers`` from ``starts_at`` to ``ends_at`` (in ``weekly``'s window)."""
        record = SilenceRecord(matchers, starts_at, ends_at, weekly, created_at=T0)
        return self.store.create_silence(record)

    def fire(
        self,
        rule: RuleRecord,
        host: str,
        now: float,
        *,
        instance: InstanceRecord | None = None,
        event: str = "firing",
        severity: str = "warning",
        ts: float | None = None,
    ) -> InstanceRecord:
        """Make the instance of ``rule`` for ``host`` fire at ``now`` (or tell ``event``
        of it), with its history and outbox rows in one transaction."""
        status = "resolved" if event == "resolved" else "firing"
        current = instance or InstanceRecord(
            rule_id=rule.id, rule_name=rule.name, fingerprint=f"fp-{host}", labels={"host": host}
        )
        fired_at = now if current.state != "firing" else current.fired_at
        changed = replace(
            current,
            state="normal" if status == "resolved" else "firing",
            severity=None if status == "resolved" else severity,
            fired_at=fired_at,
            resolved_at=now if status == "resolved" else None,
            notified_at=now if status == "firing" else current.notified_at,
        )
        view = AlertView(
            id=current.id or 0,
            rule_id=rule.id,
            rule_name=rule.name,
            fingerprint=changed.fingerprint,
            status=status,
            severity=changed.severity,
            labels={**rule.labels, "host": host, "alertname": rule.name, "severity": severity},
            annotations={"summary": f"cpu high on {host}"},
            value=97.0,
            starts_at=fired_at,
            ends_at=now if status == "resolved" else None,
        )
        history = [HistoryEntry(ts=now, event=event, from_state=current.state, to_state="firing")]
        entries = outbox_entries(changed, rule.channels, event, view, now, ts)
        (written,) = self.store.apply([InstanceChange(changed, history, entries)])
        return written

    def rows(self, status: str | None = None) -> list[OutboxRecord]:
        """The outbox, oldest first."""
        rows, _ = self.outbox.deliveries(status=status, limit=10_000)
        return sorted(rows, key=lambda r: r.id)


def held_lock(tmp_path: Path) -> FileLeaderLock:
    """A leader lock this test process holds."""
    lock = FileLeaderLock(tmp_path / "leader.lock")
    assert lock.try_acquire()
    return lock


def deliverer(engine: Engine, fence, **config) -> Deliverer:
    """A deliverer through the real channels; no group wait unless given."""
    config.setdefault("group_wait", 0.0)
    return Deliverer(engine, fence, CONTEXT, DeliveryConfig(**config))
