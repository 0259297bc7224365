"""Alerting over HTTP: alerts and the actions on them, rules, silences, channels, the
delivery log and the history download."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request

from app.alerting.rules import RuleBody
from app.api.alert_models import (
    AckBody,
    AlertDetail,
    AlertExportQuery,
    AlertOut,
    AlertPage,
    AlertSilenceBody,
    AlertsQuery,
    ChannelBody,
    ChannelList,
    ChannelOut,
    ChannelTestOut,
    CommentBody,
    DeliveriesQuery,
    DeliveryPage,
    PreviewBody,
    PreviewOut,
    RuleList,
    RuleOut,
    RuleSaved,
    SilenceBody,
    SilenceList,
    SilenceOut,
    SilencesQuery,
)
from app.api.downloads import FILES
from app.api.models import RowId
from app.api.spec import operation, parse_body, parse_query
from app.api.streams import attachment
from app.auth import READERS, current_account, roles
from app.runtime import runtime
from app.services import alert_channels
from app.services import alerts as service
from app.services.accounts import Actor

bp = Blueprint("alerts", __name__, url_prefix="/api/v1/admin/alerts")

READ_ONE = (400, 401, 403, 404)
ACTION = (400, 401, 403, 404, 409, 413, 415)


def _actor() -> Actor:
    return Actor(current_account(), request.remote_addr)


# -- alerts --------------------------------------------------------------------------------


@bp.get("")
@roles(*READERS)
@operation("Alerts, newest first, keyset-paged", query=AlertsQuery, response=AlertPage)
def list_alerts():
    """Alert instances filtered by state, severity, rule and time."""
    params = parse_query(AlertsQuery)
    return jsonify(
        service.list_alerts(
            runtime(),
            now=time.time(),
            state=params.state,
            severity=params.severity,
            rule_id=params.rule_id,
            start=params.from_,
            end=params.to,
            cursor=params.cursor,
            limit=params.limit,
        )
    )


@bp.get("/<int:alert_id>")
@roles(*READERS)
@operation(
    "One alert with its history and its notifications", response=AlertDetail, errors=READ_ONE
)
def get_alert(alert_id: RowId):
    """The alert, every line of its history and its newest outbox rows."""
    return jsonify(service.get_alert(runtime(), alert_id, time.time()))


@bp.post("/<int:alert_id>/ack")
@roles(*READERS)
@operation(
    "Acknowledge an open alert (repeats stop; optionally until a time)",
    body=AckBody,
    response=AlertOut,
    errors=ACTION,
)
def acknowledge(alert_id: RowId):
    """Acknowledge with a comment; 409 when the alert is not open."""
    body = parse_body(AckBody)
    return jsonify(
        service.acknowledge(runtime(), _actor(), alert_id, body.comment, body.until, time.time())
    )


@bp.post("/<int:alert_id>/unack")
@roles(*READERS)
@operation("Take an acknowledgement back", body=CommentBody, response=AlertOut, errors=ACTION)
def unacknowledge(alert_id: RowId):
    """Unacknowledge; 409 when the alert is not acknowledged."""
    body = parse_body(CommentBody)
    return jsonify(service.act(runtime(), _actor(), alert_id, "unack", body.comment, time.time()))


@bp.post("/<int:alert_id>/comment")
@roles(*READERS)
@operation(
    "Add a comment to an alert's history", body=CommentBody, response=AlertOut, errors=ACTION
)
def comment(alert_id: RowId):
    """Comment on an alert in any state."""
    body = parse_body(CommentBody)
    return jsonify(service.act(runtime(), _actor(), alert_id, "comment", body.comment, time.time()))


@bp.post("/<int:alert_id>/close")
@roles(*READERS)
@operation("Close a resolved alert", body=CommentBody, response=AlertOut, errors=ACTION)
def close(alert_id: RowId):
    """Close; 409 while the alert is open or once it is closed."""
    body = parse_body(CommentBody)
    return jsonify(service.act(runtime(), _actor(), alert_id, "close", body.comment, time.time()))


@bp.post("/<int:alert_id>/silence")
@roles(*READERS)
@operation(
    "Silence this alert (its rule and labels) for a while, one hour by default",
    body=AlertSilenceBody,
    response=SilenceOut,
    status=201,
    errors=(400, 401, 403, 404, 413, 415),
)
def silence_alert(alert_id: RowId):
    """A silence matching the alert's alertname and labels from now on."""
    body = parse_body(AlertSilenceBody)
    silence = service.silence_alert(
        runtime(), _actor(), alert_id, body.duration, body.comment, time.time()
    )
    return jsonify(silence), 201


# -- rules ---------------------------------------------------------------------------------


@bp.get("/rules")
@roles(*READERS)
@operation("Every alert rule, by name", response=RuleList)
def list_rules():
    """The rules with their bookkeeping."""
    return jsonify({"items": service.list_rules(runtime())})


@bp.post("/rules")
@roles("admin")
@operation(
    "Create an alert rule (an unknown metric is accepted with a warning)",
    body=RuleBody,
    response=RuleSaved,
    status=201,
    errors=(400, 401, 403, 409, 413, 415),
)
def create_rule():
    """Check and store a rule; 409 naming ``name`` when it is taken."""
    body = parse_body(RuleBody)
    return jsonify(service.create_rule(runtime(), _actor(), body, time.time())), 201


@bp.post("/rules/preview")
@roles(*READERS)
@operation(
    "Preview a rule over a past range (default: the last 24 h): its reduced series, "
    "thresholds and the transitions it would have made",
    body=PreviewBody,
    response=PreviewOut,
    errors=(400, 401, 403, 413, 415),
)
def preview_rule():
    """Run the evaluation's engine over the range, storing nothing."""
    body = parse_body(PreviewBody)
    return jsonify(service.preview_rule(runtime(), body, body.from_, body.to, time.time()))


@bp.get("/rules/<int:rule_id>")
@roles(*READERS)
@operation("One alert rule", response=RuleOut, errors=READ_ONE)
def get_rule(rule_id: RowId):
    """The rule."""
    return jsonify(service.get_rule(runtime(), rule_id))


@bp.put("/rules/<int:rule_id>")
@roles("admin")
@operation(
    "Replace an alert rule (its version goes up)",
    body=RuleBody,
    response=RuleSaved,
    errors=ACTION,
)
def replace_rule(rule_id: RowId):
    """Check and store the new body of a rule."""
    body = parse_body(RuleBody)
    return jsonify(service.replace_rule(runtime(), _actor(), rule_id, body, time.time()))


@bp.delete("/rules/<int:rule_id>")
@roles("admin")
@operation("Delete an alert rule, resolving its open alerts", status=204, errors=READ_ONE)
def delete_rule(rule_id: RowId):
    """Delete the rule; its open alerts are resolved in the same transaction."""
    service.delete_rule(runtime(), _actor(), rule_id, time.time())
    return "", 204


# -- silences ------------------------------------------------------------------------------


@bp.get("/silences")
@roles(*READERS)
@operation("Silences, newest first", query=SilencesQuery, response=SilenceList)
def list_silences():
    """Silences not yet ended, or all of them."""
    params = parse_query(SilencesQuery)
    return jsonify({"items": service.list_silences(runtime(), time.time(), params.state)})


@bp.post("/silences")
@roles(*READERS)
@operation(
    "Create a silence: matching alerts do not notify while it is active",
    body=SilenceBody,
    response=SilenceOut,
    status=201,
    errors=(400, 401, 403, 413, 415),
)
def create_silence():
    """Store a silence; 400 naming ``ends_at`` when it ends before it starts or has ended."""
    body = parse_body(SilenceBody)
    silence = service.create_silence(
        runtime(),
        _actor(),
        matchers=body.matchers,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        comment=body.comment,
        weekly=body.weekly.model_dump() if body.weekly else None,
        now=time.time(),
    )
    return jsonify(silence), 201


@bp.get("/silences/<int:silence_id>")
@roles(*READERS)
@operation("One silence", response=SilenceOut, errors=READ_ONE)
def get_silence(silence_id: RowId):
    """The silence and its state now."""
    return jsonify(service.get_silence(runtime(), silence_id, time.time()))


@bp.delete("/silences/<int:silence_id>")
@roles(*READERS)
@operation("Expire a silence now (it is kept)", response=SilenceOut, errors=READ_ONE)
def expire_silence(silence_id: RowId):
    """End the silence now; matching alerts notify again."""
    return jsonify(service.expire_silence(runtime(), _actor(), silence_id, time.time()))


# -- channels ------------------------------------------------------------------------------


def _channel_body() -> dict:
    """The channel body as given: a field left out is left to the service (on replace, a
    saved ``url`` or ``secret`` is kept)."""
    return parse_body(ChannelBody).model_dump(exclude_unset=True)


@bp.get("/channels")
@roles(*READERS)
@operation("Every notification channel, by name, secrets masked", response=ChannelList)
def list_channels():
    """The channels with their configs masked."""
    return jsonify({"items": alert_channels.list_channels(runtime())})


@bp.post("/channels")
@roles("admin")
@operation(
    "Create a notification channel (receiver URLs must be public unless the server allows "
    "private ones)",
    body=ChannelBody,
    response=ChannelOut,
    status=201,
    errors=(400, 401, 403, 409, 413, 415),
)
def create_channel():
    """Check and store a channel, its config sealed."""
    channel = alert_channels.create_channel(runtime(), _actor(), _channel_body(), time.time())
    return jsonify(channel), 201


@bp.get("/channels/<int:channel_id>")
@roles(*READERS)
@operation("One notification channel, secrets masked", response=ChannelOut, errors=READ_ONE)
def get_channel(channel_id: RowId):
    """The channel with its config masked."""
    return jsonify(alert_channels.get_channel(runtime(), channel_id))


@bp.put("/channels/<int:channel_id>")
@roles("admin")
@operation(
    "Replace a notification channel (a url or secret left out keeps the saved one)",
    body=ChannelBody,
    response=ChannelOut,
    errors=ACTION,
)
def replace_channel(channel_id: RowId):
    """Check and store the new body of a channel."""
    return jsonify(
        alert_channels.replace_channel(
            runtime(), _actor(), channel_id, _channel_body(), time.time()
        )
    )


@bp.delete("/channels/<int:channel_id>")
@roles("admin")
@operation("Delete a notification channel", status=204, errors=READ_ONE)
def delete_channel(channel_id: RowId):
    """Delete the channel; rules naming it no longer notify it."""
    alert_channels.delete_channel(runtime(), _actor(), channel_id, time.time())
    return "", 204


@bp.post("/channels/<int:channel_id>/test")
@roles("admin")
@operation(
    "Send a sample notification through a channel now; the receiver's answer",
    response=ChannelTestOut,
    errors=(400, 401, 403, 404, 503),
)
def test_channel(channel_id: RowId):
    """Send the sample and report what the receiver said."""
    return jsonify(alert_channels.test_channel(runtime(), _actor(), channel_id, time.time()))


# -- deliveries and export -----------------------------------------------------------------


@bp.get("/deliveries")
@roles(*READERS)
@operation(
    "The delivery log: every notification and how it went, newest first",
    query=DeliveriesQuery,
    response=DeliveryPage,
)
def list_deliveries():
    """Outbox rows filtered by channel and status, keyset-paged."""
    params = parse_query(DeliveriesQuery)
    return jsonify(
        service.list_deliveries(
            runtime(),
            channel_id=params.channel_id,
            status=params.status,
            cursor=params.cursor,
            limit=params.limit,
        )
    )


@bp.get("/export")
@roles(*READERS)
@operation(
    "Download the alert history (ts, alert_id, rule, labels, event, from, to, severity, "
    "value, reason, actor) as CSV or JSON, oldest first; audited",
    query=AlertExportQuery,
    files=FILES,
)
def export_history():
    """Stream the history entries of the range as an attachment named after it."""
    params = parse_query(AlertExportQuery)
    return attachment(
        service.history_export(
            runtime(),
            start=params.from_,
            end=params.to,
            rule_id=params.rule_id,
            events=params.event or None,
            fmt=params.format,
            actor=current_account().name,
            remote_addr=request.remote_addr,
            now=time.time(),
        )
    )
