"""What a channel is handed: one notification about a group of alerts, and what it answers.

The delivery pipeline (``notify``) builds these from the outbox; channels (``channels``)
turn them into the receiver's payload. Neither knows about the other's storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

AlertStatus = Literal["firing", "resolved"]


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert as a notification shows it (times are epoch seconds, UTC)."""

    id: int
    rule_id: int
    rule_name: str
    fingerprint: str
    status: AlertStatus
    severity: str | None
    labels: dict[str, str]
    """Include ``alertname`` (the rule's name) and ``severity``, as Alertmanager does."""
    annotations: dict[str, str]
    """Rendered: ``summary``, ``description``, ``runbook_url`` and any others."""
    value: float | None
    starts_at: float
    ends_at: float | None = None
    generator_url: str = ""
    ack_url: str = ""
    lines: tuple[dict, ...] = ()
    """Log rules: the last matching records (``ts``, ``level``, ``source``, ``host``,
    ``message``), newest last."""


@dataclass(frozen=True, slots=True)
class Notification:
    """A group of alerts sent together to one channel."""

    group_key: str
    status: AlertStatus
    """``firing`` while any alert of the group fires."""
    receiver: str
    """The channel's name."""
    alerts: tuple[AlertView, ...]
    group_labels: dict[str, str] = field(default_factory=dict)
    external_url: str = ""
    digest: int = 0
    """How many notifications a rate limit merged into this one (0: none)."""
    test: bool = False
    """A sample sent by the Test button."""

    @property
    def common_labels(self) -> dict[str, str]:
        """Labels every alert of the group has, with the same value."""
        return _common([a.labels for a in self.alerts])

    @property
    def common_annotations(self) -> dict[str, str]:
        """Annotations every alert of the group has, with the same value."""
        return _common([a.annotations for a in self.alerts])


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first, *rest = maps
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in rest)}


@dataclass(frozen=True, slots=True)
class Answer:
    """What the receiver said: whether it took the notification, its status code (or
    an SMTP code) and the first bytes of its reply."""

    ok: bool
    status: int | None
    answer: str
    retry: bool = True
    """False when sending again cannot help (a refused address, a 4xx other than 429)."""


@dataclass(frozen=True, slots=True)
class DeliveryContext:
    """The server's side of sending: mail server, link base, network policy."""

    external_url: str = "http://127.0.0.1:8050"
    smtp_url: str | None = None
    smtp_from: str | None = None
    allow_private: bool = False
    timeout: float = 10.0
