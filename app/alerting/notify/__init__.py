"""Delivery of notifications, at least once, from the outbox the evaluation writes in the
transaction of each state change.

Each round (the leader's ``alerts-deliver`` job, every second) first queues the
notifications no evaluation makes (``reminders``), then claims the due rows under the
leader's fence, with a lease so that rows of a sender that died come back, and passes them
through the stages of ``stages``: silence, acknowledged, channel, wait, dedup, rate limit,
send, record or retry. The evaluation queues rows with ``outbox_entries``.
"""

from __future__ import annotations

import random

from sqlalchemy import Engine

from app.alerting import channels
from app.alerting.notification import DeliveryContext
from app.alerting.notify import stages
from app.alerting.notify.outbox import outbox_entries
from app.alerting.notify.reminders import schedule_reminders
from app.alerting.notify.stages import (
    GROUP_INTERVAL,
    GROUP_WAIT,
    DeliveryConfig,
    Round,
    Sender,
)
from storage.alerts import AlertStore, Fence
from storage.channels import ChannelStore
from storage.delivery import DeliveryStore

__all__ = [
    "GROUP_INTERVAL",
    "GROUP_WAIT",
    "Deliverer",
    "DeliveryConfig",
    "Sender",
    "outbox_entries",
    "schedule_reminders",
]

ROW_STAGES = (stages.silence, stages.acknowledged, stages.channel)


class Deliverer:
    """The delivery job: one ``deliver(now)`` a round, on the leader only (``fence``)."""

    def __init__(
        self,
        engine: Engine,
        fence: Fence,
        context: DeliveryContext,
        config: DeliveryConfig | None = None,
        sender: Sender = channels.send,
        rng: random.Random | None = None,
    ) -> None:
        self.alerts = AlertStore(engine)
        self.channels = ChannelStore(engine)
        self.store = DeliveryStore(engine)
        self.fence = fence
        self.context = context
        self.config = config or DeliveryConfig()
        self.sender = sender
        self.rng = rng or random.Random()

    def deliver(self, now: float) -> int:
        """Queue the reminders due, then deliver the due rows; how many notifications
        the receivers took. Raises ``NotLeader`` in a process that no longer leads."""
        schedule_reminders(self.alerts, self.store, now, self.fence)
        rows = self.store.claim_due(now, self.config.claim_limit, self.config.lease_s, self.fence)
        if not rows:
            return 0
        rnd = Round(
            now=now,
            store=self.store,
            config=self.config,
            context=self.context,
            sender=self.sender,
            channels={c.id: c for c in self.channels.list()},
            silences=self.alerts.list_silences(active_at=now),
            instances=self.store.instances([r.instance_id for r in rows]),
            rng=self.rng,
        )
        for stage in ROW_STAGES:
            rows = stage(rnd, rows)
        delivered = 0
        for out in stages.rate_limit(rnd, stages.dedup(rnd, stages.wait(rnd, rows))):
            answer = stages.send(rnd, out)
            if answer.ok:
                stages.record(rnd, out, answer)
                delivered += 1
            else:
                stages.retry(rnd, out, answer)
        return delivered
