"""The stages a round of delivery passes claimed outbox rows through, in order:

silence -> acknowledged -> channel -> wait -> dedup -> rate_limit -> send -> record | retry

Each has one job (modelled on Alertmanager's notify pipeline). A row a stage stops gets
its final status there (``silenced``, ``skipped``) or is made due again later (waiting
for its group, or for the channel's rate window); rows that go on reach the receiver
grouped into one notification per channel and group.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby

from app.alerting.notification import Answer, DeliveryContext, Notification
from app.alerting.notify.outbox import group_labels, view_of
from app.alerting.silences import silenced_by
from storage.alerts import HistoryEntry, InstanceRecord, SilenceRecord
from storage.channels import ChannelRecord
from storage.delivery import Attempt, DeliveryStore
from storage.outbox import OutboxRecord

log = logging.getLogger(__name__)

GROUP_WAIT = 30.0
"""Seconds a new group waits for more alerts before its first notification."""
GROUP_INTERVAL = 300.0
"""Seconds between two notifications of one group."""
RATE_LIMITS: Mapping[str, int] = {"dingtalk": 20, "wecom": 20, "slack": 60, "feishu": 100}
"""Notifications a minute a channel kind takes (DingTalk and WeCom robots: 20)."""
DEFAULT_RATE_LIMIT = 30
WAIT_RECHECK = 5.0
"""Seconds at most between two looks at a waiting group, so that a deploy's new waits (or
a restart with other settings) apply within that time rather than at the old ones' end."""

Sender = Callable[[str, dict, Notification, DeliveryContext], Answer]
"""Sends one notification through a channel: ``(kind, config, notification, context)``."""


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """How delivery groups, spaces, retries and limits notifications (seconds)."""

    group_wait: float = GROUP_WAIT
    group_interval: float = GROUP_INTERVAL
    claim_limit: int = 500
    lease_s: float = 60.0
    """How long claimed rows stay with their sender before another round may take them."""
    max_attempts: int = 10
    give_up_after: float = 86400.0
    backoff_base: float = 5.0
    backoff_cap: float = 600.0
    rate_window: float = 60.0
    rate_limits: Mapping[str, int] = field(default_factory=lambda: dict(RATE_LIMITS))
    default_rate_limit: int = DEFAULT_RATE_LIMIT

    def rate_limit(self, kind: str) -> int:
        """Notifications a ``rate_window`` a channel of ``kind`` takes."""
        return self.rate_limits.get(kind, self.default_rate_limit)

    def backoff(self, attempts: int, rng: random.Random) -> float:
        """Seconds before the next try after ``attempts`` failed ones: doubling from
        ``backoff_base`` up to ``backoff_cap``, less up to a tenth of jitter (so that rows
        failed together do not all come back at once)."""
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempts - 1))
        return delay * rng.uniform(0.9, 1.0)


@dataclass(frozen=True, slots=True)
class Round:
    """One round of delivery: its time and what the stages read."""

    now: float
    store: DeliveryStore
    config: DeliveryConfig
    context: DeliveryContext
    sender: Sender
    channels: Mapping[int, ChannelRecord]
    silences: Sequence[SilenceRecord]
    instances: Mapping[int, InstanceRecord]
    rng: random.Random


@dataclass(frozen=True, slots=True)
class Batch:
    """The due rows of one group for one channel: one notification."""

    channel: ChannelRecord
    group_key: str
    rows: list[OutboxRecord]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A notification ready to send and the rows it carries; on success they become
    ``status`` (``sent``, or ``merged`` into a digest), all with one ``batch`` id."""

    channel: ChannelRecord
    notification: Notification
    rows: list[OutboxRecord]
    status: str = "sent"
    batch: str = field(default_factory=lambda: uuid.uuid4().hex)


def _ids(rows: Sequence[OutboxRecord]) -> list[int]:
    return [r.id for r in rows]


def _history(rnd: Round, row: OutboxRecord, event: str, reason: str) -> HistoryEntry:
    return HistoryEntry(
        ts=rnd.now, event=event, reason=reason, instance_id=row.instance_id, rule_id=row.rule_id
    )


def _once_per_instance(rows: Sequence[OutboxRecord]) -> list[OutboxRecord]:
    """One row of each instance: its rows for several channels tell one story."""
    return list({r.instance_id: r for r in rows}.values())


# -- row stages --------------------------------------------------------------------------


def silence(rnd: Round, rows: list[OutboxRecord]) -> list[OutboxRecord]:
    """Rows of alerts an active silence matches become ``silenced``, and their alerts'
    history says so; the others go on."""
    muted: dict[int, list[OutboxRecord]] = {}
    going = []
    for row in rows:
        labels = {**row.payload.get("labels", {}), "alertname": row.payload.get("rule_name", "")}
        found = next(iter(silenced_by(rnd.silences, labels, rnd.now)), None)
        if found is None:
            going.append(row)
        else:
            muted.setdefault(found.id, []).append(row)
    for silence_id, silenced in muted.items():
        reason = f"notification silenced by silence {silence_id}"
        history = [
            _history(rnd, r, "silenced", f"{r.event} {reason}")
            for r in _once_per_instance(silenced)
        ]
        rnd.store.mark(_ids(silenced), "silenced", reason=reason, history=history)
    return going


def acknowledged(rnd: Round, rows: list[OutboxRecord]) -> list[OutboxRecord]:
    """Repeats of acknowledged alerts (for good, or until a time still ahead) are
    ``skipped``: acknowledging stops repeats."""
    going, stopped = [], []
    for row in rows:
        instance = rnd.instances.get(row.instance_id)
        held = (
            row.event == "repeat"
            and instance is not None
            and instance.acknowledged
            and (instance.ack_until is None or instance.ack_until > rnd.now)
        )
        (stopped if held else going).append(row)
    rnd.store.mark(_ids(stopped), "skipped", reason="acknowledged: repeats stopped")
    return going


def channel(rnd: Round, rows: list[OutboxRecord]) -> list[OutboxRecord]:
    """Rows for a channel that was deleted or disabled are ``skipped``, saying which."""
    going: list[OutboxRecord] = []
    gone: dict[str, list[OutboxRecord]] = {}
    for row in rows:
        found = rnd.channels.get(row.channel_id)
        if found is None:
            gone.setdefault(f"channel {row.channel_id} was deleted", []).append(row)
        elif not found.enabled:
            gone.setdefault(f"channel {found.name!r} is disabled", []).append(row)
        else:
            going.append(row)
    for reason, skipped in gone.items():
        rnd.store.mark(_ids(skipped), "skipped", reason=reason)
    return going


# -- group stages ------------------------------------------------------------------------


def wait(rnd: Round, rows: list[OutboxRecord]) -> list[Batch]:
    """Rows of one channel and group go together once the group is ready: ``group_wait``
    after its oldest new row, and ``group_interval`` after its last notification. Rows
    of a group not ready yet are due again when it is (or at the next recheck)."""
    batches = []
    by_group = sorted(rows, key=lambda r: (r.channel_id, r.group_key, r.id))
    for (channel_id, key), grouped in groupby(by_group, lambda r: (r.channel_id, r.group_key)):
        group = list(grouped)
        ready_at = _ready_at(rnd, channel_id, key, group)
        if ready_at > rnd.now:
            rnd.store.reschedule(_ids(group), min(ready_at, rnd.now + WAIT_RECHECK))
        else:
            batches.append(Batch(rnd.channels[channel_id], key, group))
    return batches


def _ready_at(rnd: Round, channel_id: int, key: str, rows: list[OutboxRecord]) -> float:
    if any(r.attempts for r in rows):
        return rnd.now  # a retry follows its backoff, not the group's timers
    oldest, last_sent = rnd.store.group_state(channel_id, key)
    first = oldest if oldest is not None else min(r.created_at for r in rows)
    ready = first + rnd.config.group_wait
    if last_sent is not None:
        ready = max(ready, last_sent + rnd.config.group_interval)
    return ready


def dedup(rnd: Round, batches: list[Batch]) -> list[Batch]:
    """What the channel already got is not sent again: of an instance's rows in one batch
    the newest tells its state, and a row the delivery log shows the channel received
    (same event, status, severity and start; repeats aside) is ``skipped``."""
    kept = []
    for batch in batches:
        newest = {r.instance_id: r for r in batch.rows}
        going = []
        for row in batch.rows:
            if newest[row.instance_id] is not row:
                reason = f"superseded by notification {newest[row.instance_id].id}"
            elif (told := _told_before(rnd, row)) is not None:
                reason = f"already sent as notification {told.id}"
            else:
                going.append(row)
                continue
            rnd.store.mark([row.id], "skipped", reason=reason)
        if going:
            kept.append(Batch(batch.channel, batch.group_key, going))
    return kept


def _told_before(rnd: Round, row: OutboxRecord) -> OutboxRecord | None:
    if row.event == "repeat":
        return None  # telling again is what a repeat is for
    last = rnd.store.last_told(row.instance_id, row.channel_id)
    return last if last is not None and _story(last) == _story(row) else None


def _story(row: OutboxRecord) -> tuple:
    """What a row tells the receiver of its alert."""
    event = "firing" if row.event == "repeat" else row.event
    p = row.payload
    return (event, p.get("status"), p.get("severity"), p.get("starts_at"))


def rate_limit(rnd: Round, batches: list[Batch]) -> list[Outgoing]:
    """Each channel takes its kind's number of notifications per window: batches past
    that are merged into one digest in the window's last place; when the window is full,
    its rows are due again when the oldest notification in it leaves."""
    outgoing = []
    by_channel = sorted(batches, key=lambda b: (b.channel.id, b.rows[0].id))
    for _, grouped in groupby(by_channel, lambda b: b.channel.id):
        group = list(grouped)
        ch = group[0].channel
        limit = rnd.config.rate_limit(ch.kind)
        window = rnd.config.rate_window
        sent = rnd.store.sends_since(ch.id, rnd.now - window)
        room = limit - len(sent)
        if room <= 0:
            rnd.store.reschedule([r.id for b in group for r in b.rows], sent[-limit] + window)
            continue
        if len(group) <= room:
            outgoing += [_outgoing(rnd, b) for b in group]
        else:
            outgoing += [_outgoing(rnd, b) for b in group[: room - 1]]
            outgoing.append(_digest(rnd, group[room - 1 :]))
    return outgoing


def _notification(
    rnd: Round, ch: ChannelRecord, key: str, rows: list[OutboxRecord], labels: dict, digest: int
) -> Notification:
    alerts = tuple(view_of(r.payload) for r in rows)
    return Notification(
        group_key=key,
        status="firing" if any(a.status == "firing" for a in alerts) else "resolved",
        receiver=ch.name,
        alerts=alerts,
        group_labels=labels,
        external_url=rnd.context.external_url,
        digest=digest,
    )


def _outgoing(rnd: Round, batch: Batch) -> Outgoing:
    labels = group_labels(view_of(batch.rows[0].payload))
    notification = _notification(rnd, batch.channel, batch.group_key, batch.rows, labels, 0)
    return Outgoing(batch.channel, notification, batch.rows)


def _digest(rnd: Round, batches: list[Batch]) -> Outgoing:
    ch = batches[0].channel
    rows = [r for b in batches for r in b.rows]
    key = f"digest:{ch.id}"
    notification = _notification(rnd, ch, key, rows, {}, len(batches))
    return Outgoing(ch, notification, rows, status="merged")


# -- sending -----------------------------------------------------------------------------


def send(rnd: Round, out: Outgoing) -> Answer:
    """Hand the notification to its channel; a channel that raises is a failed attempt
    worth retrying."""
    try:
        return rnd.sender(out.channel.kind, out.channel.config, out.notification, rnd.context)
    except Exception as exc:
        log.exception("channel %r failed to send", out.channel.name)
        return Answer(ok=False, status=None, answer=f"{type(exc).__name__}: {exc}")


def record(rnd: Round, out: Outgoing, answer: Answer) -> None:
    """Rows the receiver took become ``sent`` (or ``merged``), and each alert's history
    says it was notified, and where."""
    where = f"sent to {out.channel.name}"
    if out.notification.digest:
        where += f" in a digest of {out.notification.digest}"
    history = [
        _history(rnd, r, "notified", f"{r.event} {where}") for r in _once_per_instance(out.rows)
    ]
    attempt = Attempt(out.batch, answer.status, answer.answer)
    rnd.store.finish(_ids(out.rows), out.status, rnd.now, attempt, history)


def retry(rnd: Round, out: Outgoing, answer: Answer) -> None:
    """After a failed attempt the rows are due again after a backoff, or ``failed`` when
    retrying cannot help, or after the last attempt, or a day after they were queued."""
    cfg = rnd.config
    attempt = Attempt(out.batch, answer.status, answer.answer)
    done = [
        r
        for r in out.rows
        if not answer.retry
        or r.attempts + 1 >= cfg.max_attempts
        or rnd.now - r.created_at >= cfg.give_up_after
    ]
    gone = {r.id for r in done}
    again = [r for r in out.rows if r.id not in gone]
    rnd.store.finish(_ids(done), "failed", rnd.now, attempt)
    if again:
        tries = max(r.attempts for r in again) + 1
        rnd.store.reschedule(_ids(again), rnd.now + cfg.backoff(tries, rnd.rng), attempt)
