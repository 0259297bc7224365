"""Evaluation through the real stores: metric and log rules fire, resolve and carry their
lines; state survives a new process; a vanished series resolves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.alerting.evaluate import Evaluator, evaluate_due, evaluate_rule, preview
from app.alerting.observe import Sources, metric_values
from app.alerting.rules import RuleBody, check, from_record, to_record
from storage.alerts import AlertStore
from storage.live import ALERTS_CHANNEL, InProcessBus
from storage.logs import LogEntry, LogStore
from storage.metrics import MetricsStore, Sample
from storage.outbox import OutboxEntry

T0 = 1_780_000_000.0


def enqueue(instance, rule, event, now) -> list[OutboxEntry]:
    return [
        OutboxEntry(
            dedup_key=f"{instance.fingerprint}:{event}:{now}:{channel}",
            group_key=f"{rule.id}:{channel}",
            channel_id=channel,
            rule_id=rule.id,
            event=event,
            payload={"labels": instance.labels},
            created_at=now,
            next_attempt_at=now,
        )
        for channel in rule.channels
    ]


@pytest.fixture
def stores(engine):
    return AlertStore(engine), MetricsStore(engine), LogStore(engine)


def saved(store: AlertStore, **body):
    rule = check(RuleBody.model_validate(body))
    return from_record(store.create_rule(to_record(rule), "admin", T0))


def disk(metrics: MetricsStore, ts: float, **values: float) -> None:
    metrics.write(
        [
            Sample(ts, "web-1", "system_disk_used_percent", v, {"mountpoint": "/" + m})
            for m, v in values.items()
        ]
    )


DISK_RULE = {
    "name": "Disk almost full",
    "kind": "metric",
    "metric": "system_disk_used_percent",
    "group_by": ["host", "mountpoint"],
    "reduce": "avg",
    "window": 60,
    "op": ">",
    "warning": 85,
    "warning_clear": 80,
    "critical": 95,
    "for": 20,
    "interval": 10,
    "channels": [7],
}


def test_a_metric_rule_pends_fires_per_group_and_resolves_with_history_and_outbox(stores):
    alerts, metrics, logs = stores
    rule = saved(alerts, **DISK_RULE)
    for i in range(6):
        disk(metrics, T0 + i * 10, data=90.0, var=50.0)
    evaluate_rule(rule, alerts, metrics, logs, T0 + 50, enqueue)
    (pending,) = alerts.open_instances()
    assert (pending.state, pending.labels) == ("pending", {"host": "web-1", "mountpoint": "/data"})
    evaluate_rule(rule, alerts, metrics, logs, T0 + 60, enqueue)
    evaluate_rule(rule, alerts, metrics, logs, T0 + 70, enqueue)
    (firing,) = alerts.open_instances()
    assert (firing.state, firing.severity, firing.value) == ("firing", "warning", 90.0)
    for i in range(7, 14):
        disk(metrics, T0 + i * 10, data=79.0, var=50.0)
    evaluate_rule(rule, alerts, metrics, logs, T0 + 140, enqueue)
    assert alerts.open_instances() == []
    events = [h.event for h in alerts.history(firing.id)]
    assert events == ["pending", "firing", "resolved"]
    rows, _ = _outbox(alerts)
    assert [r.event for r in rows] == ["resolved", "firing"]
    assert {r.channel_id for r in rows} == {7}


def _outbox(alerts: AlertStore):
    from storage.outbox import OutboxStore

    return OutboxStore(alerts.engine).deliveries()


def test_state_continues_in_a_new_process_without_firing_again(stores, engine):
    alerts, metrics, logs = stores
    rule = saved(alerts, **{**DISK_RULE, "for": 0})
    disk(metrics, T0, data=97.0)
    evaluate_rule(rule, alerts, metrics, logs, T0 + 1, enqueue)
    again = AlertStore(engine)
    disk(metrics, T0 + 10, data=97.0)
    evaluate_rule(rule, again, MetricsStore(engine), LogStore(engine), T0 + 11, enqueue)
    (instance,) = again.open_instances()
    assert (instance.state, instance.severity) == ("firing", "critical")
    assert [h.event for h in again.history(instance.id)] == ["firing"]
    assert len(_outbox(again)[0]) == 1


def test_a_series_that_disappears_resolves_after_three_evaluations(stores):
    alerts, metrics, logs = stores
    rule = saved(alerts, **{**DISK_RULE, "for": 0, "window": 5})
    disk(metrics, T0, data=97.0, var=97.0)
    evaluate_rule(rule, alerts, metrics, logs, T0 + 1, enqueue)
    assert len(alerts.open_instances()) == 2
    for n in range(1, 4):
        disk(metrics, T0 + n * 10, data=97.0)
        evaluate_rule(rule, alerts, metrics, logs, T0 + n * 10 + 1, enqueue)
    (left,) = alerts.open_instances()
    assert left.labels["mountpoint"] == "/data"
    gone = next(i for i in alerts.list_instances(resolved=True).items)
    assert gone.labels["mountpoint"] == "/var"
    assert alerts.history(gone.id)[-1].reason == "the series is gone"


def test_no_data_under_the_nodata_policy_is_its_own_state(stores):
    alerts, metrics, logs = stores
    rule = saved(alerts, **{**DISK_RULE, "metric": "not_yet_reported", "for": 0})
    evaluate_rule(rule, alerts, metrics, logs, T0, enqueue)
    (instance,) = alerts.open_instances()
    assert (instance.state, instance.labels) == ("nodata", {})


def test_a_log_rule_counts_per_source_and_carries_the_matching_lines(stores):
    alerts, metrics, logs = stores
    rule = saved(
        alerts,
        name="API errors",
        kind="log",
        query="level>=error",
        aggregate="count",
        group_by=["source"],
        window=60,
        op=">=",
        critical=3,
        interval=10,
    )
    at = datetime.fromtimestamp(T0, UTC)
    logs.write(
        [LogEntry(at, "error", "api", "web-1", f"upstream timeout #{n}") for n in range(4)]
        + [LogEntry(at, "error", "cron", "web-1", "one failure")]
        + [LogEntry(at, "info", "api", "web-1", "fine")]
    )
    evaluate_rule(rule, alerts, metrics, logs, T0 + 5, enqueue)
    (instance,) = alerts.open_instances()
    assert (instance.labels, instance.value, instance.state) == ({"source": "api"}, 4.0, "firing")
    assert [line["message"] for line in instance.lines][-1] == "upstream timeout #3"
    assert len(instance.lines) == 4
    # Past the window the count is 0 for the known group: it resolves.
    evaluate_rule(rule, alerts, metrics, logs, T0 + 120, enqueue)
    assert alerts.open_instances() == []


def test_the_ratio_of_matching_to_all_records(stores):
    alerts, metrics, logs = stores
    rule = saved(
        alerts,
        name="Error share",
        kind="log",
        query="level:error",
        aggregate="ratio",
        window=60,
        op=">",
        warning=0.4,
    )
    at = datetime.fromtimestamp(T0, UTC)
    logs.write([LogEntry(at, "error", "api", "h", "x"), LogEntry(at, "info", "api", "h", "y")])
    evaluate_rule(rule, alerts, metrics, logs, T0 + 1, enqueue)
    (instance,) = alerts.open_instances()
    assert instance.value == 0.5


def test_due_rules_are_evaluated_at_their_interval_and_published(stores):
    alerts, metrics, logs = stores
    saved(alerts, **{**DISK_RULE, "for": 0})
    disk(metrics, T0, data=99.0)
    bus = InProcessBus()
    sub = bus.subscribe(ALERTS_CHANNEL)
    # The default rules are due too; on this database they see no data ("ok" policy).
    assert evaluate_due(alerts, metrics, logs, bus, T0 + 1, enqueue) == len(alerts.list_rules())
    assert evaluate_due(alerts, metrics, logs, bus, T0 + 5, enqueue) == 0
    message = sub.get(timeout=1)
    assert message["event"] == "firing"
    assert message["alert"]["labels"] == {"host": "web-1", "mountpoint": "/data"}
    assert message["alert"]["severity"] == "critical"


def test_the_preview_shows_where_the_rule_would_have_fired(stores):
    _alerts, metrics, logs = stores
    for i in range(60):
        disk(metrics, T0 + i * 10, data=97.0 if 20 <= i < 40 else 50.0)
    rule = check(RuleBody.model_validate({**DISK_RULE, "window": 10, "for": 0}))
    shown = preview(rule, metrics, logs, T0, T0 + 590, max_points=59)
    (series,) = shown["series"]
    assert series["labels"] == {"host": "web-1", "mountpoint": "/data"}
    assert [t["event"] for t in shown["transitions"]] == ["firing", "resolved"]
    assert shown["thresholds"]["critical"] == 95


@pytest.mark.parametrize(
    ("how", "expected"),
    [("rate", (5 + 3 + 3 + 1) / 40), ("p95", 7.4), ("p99", 7.88), ("last", 4.0), ("sum", 20.0)],
)
def test_reducers_over_a_counter_with_a_reset(stores, how, expected):
    _alerts, metrics, logs = stores
    # A counter 0, 5, 8, reset, 3, 4: it grew by 5, 3, 3 (from zero) and 1 in 40 s.
    metrics.write(
        [Sample(T0 + i * 10, "h", "jobs_total", v) for i, v in enumerate([0.0, 5.0, 8.0, 3.0, 4.0])]
    )
    rule = check(
        RuleBody.model_validate(
            {"name": "r", "kind": "metric", "metric": "jobs_total", "reduce": how, "critical": 1}
        )
    )
    ((_, value),) = metric_values(rule, Sources(metrics, logs), T0 - 1, T0 + 40).items()
    assert value == pytest.approx(expected)


def test_a_cycle_that_queued_notifications_hands_them_on_at_once(stores):
    alerts, metrics, logs = stores
    saved(alerts, **{**DISK_RULE, "for": 0, "reduce": "last"})
    handed: list[int] = []
    evaluator = Evaluator(
        alerts, metrics, logs, InProcessBus(), enqueue, on_queued=lambda: handed.append(1)
    )
    disk(metrics, T0, data=50.0)
    evaluator.run(T0 + 1)
    assert handed == []
    disk(metrics, T0 + 10, data=99.0)
    # A tick that comes a hair before the rule's interval has passed still evaluates it.
    assert evaluator.run(T0 + 10.8) >= 1
    assert handed == [1]
