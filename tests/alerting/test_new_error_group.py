"""The ``new_error_group`` rule kind through the real stores on both backends: one alert
per error group first seen within the look-back, labelled with its fingerprint and title,
filtered by the rule's query, resolved once the group is no longer new; and the rule body
checks of the kind."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.alerting.evaluate import evaluate_rule, preview
from app.alerting.rules import RuleBody, RuleError, check, from_record, to_body, to_record
from storage.alerts import AlertStore
from storage.log_fingerprint import fingerprint
from storage.logs import LogEntry, LogStore
from storage.metrics import MetricsStore
from tests.alerting.test_evaluate import enqueue

T0 = 1_780_000_000.0
RULE = {"name": "New errors", "kind": "new_error_group", "window": 600, "interval": 10}


@pytest.fixture
def stores(engine):
    return AlertStore(engine), MetricsStore(engine), LogStore(engine)


def saved(store: AlertStore, **body):
    rule = check(RuleBody.model_validate({**RULE, **body}))
    return from_record(store.create_rule(to_record(rule), "admin", T0))


def write(logs: LogStore, ts: float, *records: tuple[str, str, str]) -> None:
    at = datetime.fromtimestamp(ts, UTC)
    logs.write(
        [LogEntry(at, level, source, "web-1", message) for level, source, message in records]
    )


def test_each_new_group_fires_its_own_alert_with_fingerprint_and_title(stores):
    alerts, metrics, logs = stores
    rule = saved(alerts, channels=[3])
    write(logs, T0 - 3600, ("error", "api", "old problem 1"))
    write(
        logs,
        T0,
        ("error", "api", "payment 7 declined"),
        ("error", "api", "payment 8 declined"),
        ("critical", "db", "disk full"),
        ("error", "api", "old problem 2"),  # first seen an hour ago: not new
        ("warning", "api", "slow 3"),
    )
    events = evaluate_rule(rule, alerts, metrics, logs, T0 + 5, enqueue)
    firing = {i.labels["title"]: i for i in alerts.open_instances()}
    assert set(firing) == {"payment <int> declined", "disk full"}
    payment = firing["payment <int> declined"]
    assert (
        payment.labels["fingerprint"]
        == fingerprint("error", "api", "payment 7 declined").fingerprint
    )
    assert (payment.state, payment.severity, payment.value) == ("firing", "warning", 2.0)
    assert [line["message"] for line in payment.lines] == [
        "payment 7 declined",
        "payment 8 declined",
    ]
    assert sorted(e for e, _ in events) == ["firing", "firing"]
    # Nothing new since: the alerts stay until the groups are older than the look-back.
    evaluate_rule(rule, alerts, metrics, logs, T0 + 300, enqueue)
    assert len(alerts.open_instances()) == 2
    evaluate_rule(rule, alerts, metrics, logs, T0 + 700, enqueue)
    assert alerts.open_instances() == []


def test_the_query_narrows_the_records_and_thresholds_set_the_severity(stores):
    alerts, metrics, logs = stores
    rule = saved(alerts, query="source:api", critical=2, op=">=")
    # A quiet log is the normal state, not missing data.
    write(logs, T0 - 5, ("info", "api", "fine"))
    assert evaluate_rule(rule, alerts, metrics, logs, T0 - 1, enqueue) == []
    assert alerts.open_instances() == []
    write(
        logs,
        T0,
        ("error", "api", "timeout 1"),
        ("error", "api", "timeout 2"),
        ("error", "api", "refused"),
        ("error", "cron", "job 4 died"),
    )
    evaluate_rule(rule, alerts, metrics, logs, T0 + 5, enqueue)
    (instance,) = alerts.open_instances()
    assert (instance.labels["title"], instance.severity) == ("timeout <int>", "critical")


def test_keep_firing_for_holds_a_resolving_alert(stores):
    alerts, metrics, logs = stores
    rule = saved(alerts, window=60, keep_firing_for=120)
    write(logs, T0, ("error", "api", "boom 1"))
    evaluate_rule(rule, alerts, metrics, logs, T0 + 5, enqueue)
    evaluate_rule(rule, alerts, metrics, logs, T0 + 100, enqueue)
    (instance,) = alerts.open_instances()
    assert instance.state == "recovering"
    evaluate_rule(rule, alerts, metrics, logs, T0 + 240, enqueue)
    assert alerts.open_instances() == []


def test_the_preview_shows_when_a_new_group_would_have_fired(stores):
    _, metrics, logs = stores
    rule = check(RuleBody.model_validate(RULE))
    write(logs, T0 + 100, ("error", "api", "boom 1"))
    shown = preview(rule, metrics, logs, T0, T0 + 300, max_points=30)
    assert [t["event"] for t in shown["transitions"]] == ["firing"]
    assert shown["transitions"][0]["labels"]["title"] == "boom <int>"


def test_a_new_error_group_rule_takes_a_query_and_defaults_to_any_record():
    rule = check(RuleBody.model_validate(RULE))
    assert (rule.thresholds.op, rule.thresholds.warning, rule.thresholds.critical) == (">", 0, None)
    body = to_body(to_record(rule))
    assert body["kind"] == "new_error_group" and body["query"] is None
    assert "aggregate" not in body and "metric" not in body


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"aggregate": "count"}, "aggregate"),
        ({"metric": "up"}, "metric"),
        ({"group_by": ["host"]}, "group_by"),
        ({"matchers": {"host": "a"}}, "matchers"),
        ({"query": '"open'}, "query"),
    ],
)
def test_fields_of_other_kinds_are_refused_by_name(extra, field):
    with pytest.raises(RuleError) as caught:
        check(RuleBody.model_validate({**RULE, **extra}))
    assert field in caught.value.fields
