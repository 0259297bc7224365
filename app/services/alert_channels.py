"""Notification channels for the API and the Alerts page: create, replace, delete, list
(masked) and test one with a sample notification.

A channel's config (URL, secret, recipients) is stored sealed whole under ``SEALED``, since
a URL may carry a token too; reads show it through ``secrets.mask``. Every change is
audited. Errors are the services' domain errors (``FieldError`` naming the field,
``Conflict`` for a taken name, ``NotFound``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.alerting import channels as kinds
from app.alerting.channels import ChannelConfigError
from app.alerting.notification import AlertView, Answer, DeliveryContext, Notification
from app.alerting.notify.stages import Sender
from app.alerting.secrets import SecretBox, SecretError, mask
from app.runtime import Runtime
from app.services import Conflict, FieldError, NotFound, Unavailable
from app.services.accounts import Actor
from app.services.downloads import utc_iso
from storage.alerts import DuplicateName
from storage.channels import ChannelRecord

SEALED = "sealed"
"""The key of a stored channel config that holds the sealed config."""
OWN_FIELDS = ("name", "kind", "enabled")
NAME_LIMIT = 200


def context(rt: Runtime) -> DeliveryContext:
    """The server's side of sending, as the delivery job has it."""
    from app import delivery_context  # the composition root, imported once it is built

    return delivery_context(rt.settings)


def sealed_sender(secret_key: str) -> Sender:
    """The delivery job's sender for channels stored here: it opens the sealed config."""
    box = SecretBox(secret_key)

    def send(kind: str, config: dict, notification: Notification, ctx: DeliveryContext) -> Answer:
        return kinds.send(kind, box.open(config[SEALED]), notification, ctx)

    return send


def _box(rt: Runtime) -> SecretBox:
    return SecretBox(rt.settings.secret_key)


def config_of(rt: Runtime, record: ChannelRecord) -> dict[str, Any]:
    """A stored channel's config, opened (Unavailable when this server's key cannot)."""
    try:
        return _box(rt).open(record.config[SEALED])
    except (SecretError, KeyError):
        raise Unavailable(
            f"channel {record.name!r} was saved with another secret key", retry_after=0
        ) from None


def channel_dict(record: ChannelRecord, config: dict[str, Any]) -> dict:
    """A channel as the API and the page show it: its config masked."""
    return {
        "id": record.id,
        "name": record.name,
        "kind": record.kind,
        "enabled": record.enabled,
        **mask(config, record.kind),
        "created_by": record.created_by,
        "created_at": utc_iso(record.created_at) if record.created_at else None,
        "updated_at": utc_iso(record.updated_at) if record.updated_at else None,
    }


def _record(rt: Runtime, channel_id: int) -> ChannelRecord:
    record = rt.channels.get(channel_id)
    if record is None:
        raise NotFound(f"no channel {channel_id}")
    return record


def _audit(rt: Runtime, actor: Actor, action: str, channel_id: int, **details) -> None:
    rt.accounts.audit(
        action,
        actor=actor.account.name,
        target=f"channel:{channel_id}",
        remote_addr=actor.remote_addr,
        details=details,
    )


def get_channel(rt: Runtime, channel_id: int) -> dict:
    """One channel, masked (NotFound when there is none)."""
    record = _record(rt, channel_id)
    return channel_dict(record, config_of(rt, record))


def list_channels(rt: Runtime) -> list[dict]:
    """Every channel by name, masked."""
    return [channel_dict(r, config_of(rt, r)) for r in rt.channels.list()]


def _checked(rt: Runtime, body: dict[str, Any]) -> tuple[str, str, bool, dict[str, Any]]:
    """Name, kind, enabled flag and the checked config of a channel body."""
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_LIMIT:
        raise FieldError("name", f"give a name of 1 to {NAME_LIMIT} characters")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise FieldError("enabled", "must be true or false")
    config = {k: v for k, v in body.items() if k not in OWN_FIELDS}
    try:
        checked = kinds.validate(body.get("kind"), config, context(rt))
    except ChannelConfigError as exc:
        raise FieldError(exc.field, exc.message) from None
    return name.strip(), body["kind"], enabled, checked


def _duplicate(name: str) -> Conflict:
    return Conflict(
        f"a channel named {name!r} exists already", {"name": "taken by another channel"}
    )


def create_channel(rt: Runtime, actor: Actor, body: dict[str, Any], now: float) -> dict:
    """Store a new channel; the channel, masked."""
    name, kind, enabled, config = _checked(rt, body)
    record = ChannelRecord(
        name=name,
        kind=kind,
        config={SEALED: _box(rt).seal(config)},
        enabled=enabled,
        created_by=actor.account.name,
    )
    try:
        saved = rt.channels.create(record, now)
    except DuplicateName:
        raise _duplicate(name) from None
    shown = channel_dict(saved, config)
    _audit(rt, actor, "alert_channel.create", saved.id, after=shown)
    return shown


def replace_channel(
    rt: Runtime, actor: Actor, channel_id: int, body: dict[str, Any], now: float
) -> dict:
    """Replace a channel; a ``url`` or ``secret`` left out keeps the saved one."""
    before = _record(rt, channel_id)
    saved_config = config_of(rt, before)
    kept = {k: saved_config[k] for k in ("url", "secret") if k in saved_config and k not in body}
    name, kind, enabled, config = _checked(rt, {**kept, **body})
    record = replace(before, name=name, kind=kind, enabled=enabled)
    record = replace(record, config={SEALED: _box(rt).seal(config)})
    try:
        saved = rt.channels.replace(channel_id, record, now)
    except DuplicateName:
        raise _duplicate(name) from None
    if saved is None:
        raise NotFound(f"no channel {channel_id}")
    shown = channel_dict(saved, config)
    _audit(rt, actor, "alert_channel.replace", channel_id, after=shown)
    return shown


def delete_channel(rt: Runtime, actor: Actor, channel_id: int, now: float) -> None:
    """Delete a channel (rules naming it no longer notify it)."""
    before = _record(rt, channel_id)
    if not rt.channels.delete(channel_id):
        raise NotFound(f"no channel {channel_id}")
    _audit(rt, actor, "alert_channel.delete", channel_id, before=channel_dict(before, {}))


def sample(channel_name: str, external_url: str, now: float) -> Notification:
    """The sample notification the Test button sends."""
    alert = AlertView(
        id=0,
        rule_id=0,
        rule_name="Pulseboard test",
        fingerprint="test",
        status="firing",
        severity="warning",
        labels={"alertname": "Pulseboard test", "severity": "warning"},
        annotations={"summary": "A test notification from Pulseboard: nothing is wrong."},
        value=None,
        starts_at=now,
        generator_url=f"{external_url}/alerts",
    )
    return Notification(
        group_key="test",
        status="firing",
        receiver=channel_name,
        alerts=(alert,),
        external_url=external_url,
        test=True,
    )


def test_channel(rt: Runtime, actor: Actor, channel_id: int, now: float) -> dict:
    """Send the sample notification now; the receiver's answer ``{"ok", "status", "answer"}``."""
    record = _record(rt, channel_id)
    ctx = context(rt)
    notification = sample(record.name, ctx.external_url, now)
    try:
        answer = kinds.send(record.kind, config_of(rt, record), notification, ctx)
    except ChannelConfigError as exc:
        raise FieldError(exc.field, exc.message) from None
    _audit(rt, actor, "alert_channel.test", channel_id, ok=answer.ok, status=answer.status)
    return {"ok": answer.ok, "status": answer.status, "answer": answer.answer}
