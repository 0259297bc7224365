"""The outbox rows of a notification: how the evaluation (and the reminders) queue them,
one row per channel of the rule, what they are keyed by, and the alert they carry.

Key formats (``dedup_key`` is unique in the outbox, so queueing the same row twice, from a
retried transaction or a second evaluator, writes it once):

* ``dedup_key``: ``"{rule_id}/{fingerprint}:{event}:{ts:.3f}:{channel_id}"``, where ``ts``
  is when the event happened: the transition's time; for a repeat the time it fell due;
  ``silence-{id}@{end}`` for the end of a silence (or of one of its weekly windows) over
  a firing alert. The rule and fingerprint name the instance whether or not it has an id
  yet (a fingerprint is unique within its rule only).
* ``group_key``: ``"{rule_id}:{channel_id}:{group labels as sorted JSON}"``; the group
  labels are ``{"alertname": <rule name>}``, so one rule's alerts go to one channel
  together (Alertmanager's ``group_by: [alertname]``). Labels too long for the column
  (``KEY_CHARS``) are replaced by ``sha256:<hex digest of their JSON>``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, fields

from app.alerting.notification import AlertView
from storage.alerts import InstanceRecord
from storage.outbox import OutboxEntry

KEY_CHARS = 300
"""The longest key the outbox stores."""
EVENTS = ("firing", "resolved", "severity", "nodata", "error", "repeat")
"""What a row tells of an instance."""


def group_labels(view: AlertView) -> dict[str, str]:
    """The labels a notification groups its alerts by."""
    return {"alertname": view.rule_name}


def group_key(rule_id: int, channel_id: int, labels: dict[str, str]) -> str:
    """The key of one rule's group of alerts for one channel."""
    text = json.dumps(labels, sort_keys=True, ensure_ascii=False)
    key = f"{rule_id}:{channel_id}:{text}"
    if len(key) <= KEY_CHARS:
        return key
    return f"{rule_id}:{channel_id}:sha256:{hashlib.sha256(text.encode()).hexdigest()}"


def dedup_key(instance: InstanceRecord, event: str, ts: float | str, channel_id: int) -> str:
    """The unique key of one row (see the module docstring)."""
    stamp = f"{ts:.3f}" if isinstance(ts, float | int) else ts
    return f"{instance.rule_id}/{instance.fingerprint}:{event}:{stamp}:{channel_id}"


def outbox_entries(
    instance: InstanceRecord,
    rule_channels: Iterable[int],
    event: str,
    view: AlertView,
    now: float,
    ts: float | str | None = None,
) -> list[OutboxEntry]:
    """The rows to queue, one per channel, for ``event`` of ``instance`` shown as
    ``view``; ``ts`` (default ``now``) is when the event happened."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    payload = asdict(view)
    labels = group_labels(view)
    return [
        OutboxEntry(
            dedup_key=dedup_key(instance, event, now if ts is None else ts, channel_id),
            group_key=group_key(instance.rule_id, channel_id, labels),
            channel_id=channel_id,
            rule_id=instance.rule_id,
            event=event,
            payload=payload,
            created_at=now,
            next_attempt_at=now,
            instance_id=instance.id,
        )
        for channel_id in dict.fromkeys(rule_channels)
    ]


def view_of(payload: dict) -> AlertView:
    """The alert a row's payload carries (keys an ``AlertView`` does not have are left)."""
    known = {f.name for f in fields(AlertView)}
    values = {k: v for k, v in payload.items() if k in known}
    values["lines"] = tuple(values.get("lines", ()))
    return AlertView(**values)
