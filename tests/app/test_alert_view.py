"""What the Alerts page shows and sends: grid rows from the services' alerts, rules and
silences; the rule editor's inputs to a rule body and back; field errors by name; the
preview figure from the engine's preview over real samples; download links; the badge."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from app.alerting.rules import RuleBody, RuleError, check, to_body, to_record
from app.services import FieldError
from app.services import alert_view as view
from storage.metrics import Sample

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()
DISK = {
    "name": "Disk almost full",
    "kind": "metric",
    "enabled": True,
    "metric": "system_disk_used_percent",
    "matchers": {"mountpoint": "/"},
    "group_by": ["host", "mountpoint"],
    "reduce": "avg",
    "window": 300,
    "op": ">",
    "warning": 85,
    "warning_clear": 80,
    "critical": 95,
    "critical_clear": 92,
    "for": 60,
    "keep_firing_for": 0,
    "interval": 30,
    "no_data": "nodata",
    "on_error": "error",
    "repeat_interval": 14400,
    "channels": [],
    "labels": {"team": "ops"},
    "annotations": {"summary": "{{ labels.mountpoint }} is full", "runbook_url": "https://w/d"},
}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def alert(**changes) -> dict:
    """An alert as ``app.services.alerts`` shows it."""
    base = {
        "id": 7,
        "rule_id": 3,
        "rule_name": "Disk almost full",
        "state": "firing",
        "severity": "critical",
        "labels": {"mountpoint": "/", "host": "web-1"},
        "value": 96.123456,
        "active_at": iso(NOW - 600),
        "fired_at": iso(NOW - 540),
        "resolved_at": None,
        "acknowledged": None,
        "closed": False,
        "silenced": False,
        "flapping": False,
    }
    return {**base, **changes}


# -- alerts -----------------------------------------------------------------------------


def test_an_alert_row_says_since_when_relative_and_exact_and_who_acknowledged_it() -> None:
    ack = {"by": "ana", "at": iso(NOW - 120), "comment": "on it", "until": iso(NOW + 3600)}
    [row] = view.alert_rows([alert(acknowledged=ack, silenced=True, flapping=True)], NOW)
    assert row["labels"] == "host=web-1, mountpoint=/"
    assert (row["since"], row["since_exact"]) == ("9 min ago", "2026-03-02 11:51:00 UTC")
    assert row["value"] == "96.12"
    assert row["ack"] == "ana, 2 min ago: on it (until 2026-03-02 13:00:00)"
    assert (row["silenced"], row["flapping"]) == ("silenced", "flapping")


def test_an_alert_not_yet_firing_counts_from_when_it_became_active() -> None:
    [row] = view.alert_rows([alert(state="pending", fired_at=None, severity=None)], NOW)
    assert (row["since"], row["severity"], row["ack"], row["silenced"]) == (
        "10 min ago",
        "",
        "",
        "",
    )


def test_the_actions_offered_fit_where_the_alert_stands() -> None:
    ack = {"by": "ana", "at": iso(NOW), "comment": "", "until": None}
    # Acknowledge, Unacknowledge, Comment, Close, Silence 1 h: True is disabled.
    assert view.disabled_actions(alert()) == [False, True, False, True, False]
    assert view.disabled_actions(alert(acknowledged=ack)) == [False, False, False, True, False]
    resolved = alert(state="normal", resolved_at=iso(NOW))
    assert view.disabled_actions(resolved) == [True, True, False, False, True]
    closed = {**resolved, "closed": True}
    assert view.disabled_actions(closed) == [True, True, False, True, True]


def test_the_badge_counts_open_alerts_and_is_red_while_one_fires_critical() -> None:
    assert view.badge([]) == ("0", "secondary")
    assert view.badge([alert(state="pending", severity=None)]) == ("1", "secondary")
    assert view.badge([alert(severity="warning"), alert(state="nodata")]) == ("2", "warning")
    assert view.badge([alert(severity="warning"), alert()]) == ("2", "danger")


def test_history_and_deliveries_of_one_alert_read_newest_first() -> None:
    history = [
        {"id": 1, "ts": iso(NOW - 60), "event": "firing", "from": "normal", "to": "firing",
         "severity": "critical", "value": 96.0, "reason": "value 96 > 95", "actor": None},
        {"id": 2, "ts": iso(NOW), "event": "acknowledged", "from": None, "to": None,
         "severity": "critical", "value": 96.0, "reason": "on it", "actor": "ana"},
    ]  # fmt: skip
    rows = view.history_entry_rows(history)
    assert [(r["event"], r["change"], r["by"]) for r in rows] == [
        ("acknowledged", "", "ana"),
        ("firing", "normal → firing", ""),
    ]
    delivery = {"id": 5, "channel_id": 2, "channel": None, "event": "firing", "status": "failed",
                "attempts": 3, "last_code": 502, "last_answer": "x" * 500,
                "created_at": iso(NOW), "sent_at": None}  # fmt: skip
    [row] = view.delivery_rows([delivery])
    assert (row["channel"], row["code"], len(row["answer"]), row["sent"]) == ("#2", "502", 200, "")


def test_history_downloads_carry_the_filters() -> None:
    href = view.export_href("firing", "3", "24h", "csv", NOW)
    assert href == (
        f"/api/v1/admin/alerts/export?event=firing&rule_id=3&from={int(NOW - 86400)}&format=csv"
    )
    assert view.export_href("all", "any", "all", "json", NOW) == (
        "/api/v1/admin/alerts/export?format=json"
    )
    assert view.span_range("1h", NOW) == (NOW - 3600, NOW)
    assert view.span_range(None, NOW) == (None, None)


# -- rules and the editor ---------------------------------------------------------------


def test_a_rule_goes_through_the_editor_unchanged() -> None:
    record = to_record(check(RuleBody.model_validate(DISK)))
    values = view.form_values(to_body(record))
    assert values["matchers"] == "mountpoint=/" and values["group_by"] == "host, mountpoint"
    assert values["summary"] == "{{ labels.mountpoint }} is full" and values["description"] == ""
    body = view.form_body(values)
    assert "query" not in body and "aggregate" not in body
    assert to_record(check(RuleBody.model_validate(body))) == record


def test_a_log_rule_leaves_the_metric_fields_out() -> None:
    values = view.form_values(view.NEW_RULE)
    values.update(name="Errors", kind="log", query="level>=error", aggregate="count", critical="5")
    body = view.form_body(values)
    assert not {"metric", "matchers", "reduce"} & set(body)
    rule = check(RuleBody.model_validate(body))
    assert (rule.query_text, rule.aggregate, rule.thresholds.critical) == (
        "level>=error",
        "count",
        5,
    )


def test_editor_text_that_is_not_a_value_names_each_field() -> None:
    values = view.form_values(view.NEW_RULE)
    values.update(matchers="mountpoint", warning="high", window="1.5")
    with pytest.raises(RuleError) as caught:
        view.form_body(values)
    assert set(caught.value.fields) == {"matchers", "warning", "window"}
    assert view.field_errors(caught.value) == caught.value.fields


def test_a_refused_rule_body_names_its_fields_as_the_editor_does() -> None:
    values = view.form_values(view.NEW_RULE)
    values.update(metric="cpu", critical="90", **{"for": "-5"})
    with pytest.raises(ValidationError) as caught:
        RuleBody.model_validate(view.form_body(values))
    assert set(view.field_errors(caught.value)) == {"name", "for"}
    long_summary = {**DISK, "annotations": {"summary": "x" * 5000}}
    with pytest.raises(ValidationError) as caught:
        RuleBody.model_validate(long_summary)
    assert set(view.field_errors(caught.value)) == {"summary"}
    assert view.field_errors(FieldError("channels", "no such channel: 9")) == {
        "channels": "no such channel: 9"
    }


def test_the_rules_grid_sums_up_each_rules_open_alerts() -> None:
    rules = [
        {**DISK, "id": 3, "evaluated_at": iso(NOW)},
        {**DISK, "id": 4, "name": "Quiet", "enabled": False, "warning": None, "evaluated_at": None},
    ]
    rows = view.rule_rows(rules, [alert(), alert(id=8), alert(id=9, state="pending")])
    assert [(r["name"], r["state"], r["enabled"]) for r in rows] == [
        ("Disk almost full", "2 firing, 1 pending", "yes"),
        ("Quiet", "normal", "no"),
    ]
    assert rows[0]["condition"] == "avg(300s) warning > 85, critical > 95"
    assert rows[1]["condition"] == "avg(300s) critical > 95"
    assert view.rule_options(rules)[1:] == [
        {"label": "Disk almost full", "value": "3"},
        {"label": "Quiet", "value": "4"},
    ]


# -- preview ----------------------------------------------------------------------------


def test_the_preview_figure_draws_thresholds_and_marks_where_it_fires() -> None:
    preview = {
        "series": [{"labels": {"host": "web-1"}, "points": [[NOW - 60, 50.0], [NOW, 97.0]]}],
        "thresholds": {"op": ">", "warning": 85, "warning_clear": None, "critical": 95},
        "transitions": [
            {"ts": NOW - 30, "from": "normal", "to": "firing", "severity": "warning", "value": 90},
            {"ts": NOW, "from": "firing", "to": "firing", "severity": "critical", "value": 97},
            {"ts": NOW, "from": "firing", "to": "recovering", "severity": None, "value": 1},
        ],
    }
    figure = view.preview_figure(preview, NOW - 86400, NOW)
    names = [t["name"] for t in figure["data"]]
    assert names == ["host=web-1", "fires critical", "fires warning"]
    assert figure["data"][0]["y"] == [50.0, 97.0]
    assert [s["y0"] for s in figure["layout"]["shapes"]] == [85, 95]
    assert figure["layout"]["xaxis"]["range"] == ["2026-03-01 12:00:00", "2026-03-02 12:00:00"]
    assert view.preview_summary(preview) == ("1 series; it would have fired once in the last 24 h.")
    assert view.preview_summary({"series": [], "transitions": []}).startswith("No data")


@pytest.fixture
def rt(app):
    """The runtime of an app on each backend."""
    return app.server.extensions["pulseboard"]


def test_a_preview_runs_the_engine_over_the_last_day_of_samples(rt) -> None:
    rt.metrics.write(
        [
            Sample(NOW - 86400 + i * 600, "web-1", "queue_depth", 99.0 if i == 100 else 1.0)
            for i in range(144)
        ]
    )
    values = view.form_values(view.NEW_RULE)
    values.update(metric="queue_depth", reduce="max", window="600", critical="50", **{"for": "0"})
    figure, summary = view.preview(rt, view.form_body(values), NOW)
    assert summary == "1 series; it would have fired once in the last 24 h."
    assert [t["name"] for t in figure["data"]] == ["host=web-1", "fires critical"]
    assert figure["data"][1]["y"] == [99.0]


# -- channels and silences --------------------------------------------------------------


def test_a_channel_row_shows_its_config_as_the_service_masked_it() -> None:
    channel = {"id": 1, "name": "ops", "kind": "webhook", "enabled": True,
               "url": "https://hooks.example/••••", "secret": "••••ab", "created_by": "ana",
               "created_at": None, "updated_at": None}  # fmt: skip
    [row] = view.channel_rows([channel])
    assert row["config"] == "secret: ••••ab; url: https://hooks.example/••••"
    assert view.channel_options([channel]) == [{"label": "ops (webhook)", "value": 1}]


def test_a_channel_form_leaves_out_what_is_kept_as_saved() -> None:
    assert view.channel_body(" ops ", "webhook", "https://h", "", "", True) == {
        "name": "ops",
        "kind": "webhook",
        "enabled": True,
        "url": "https://h",
    }
    assert "url" not in view.channel_body("ops", "webhook", "", None, "", True, keep_url=True)
    assert view.channel_body("m", "email", "", "", "a@x, b@x", False)["to"] == ["a@x", "b@x"]


def test_a_silence_form_becomes_a_silence_body() -> None:
    body = view.silence_body(
        "alertname=Disk almost full, host=web-1", "", "2026-03-02T14:00", " deploy ", [5, 4],
        "22:00", "02:00", NOW,
    )  # fmt: skip
    assert body == {
        "matchers": {"alertname": "Disk almost full", "host": "web-1"},
        "starts_at": NOW,
        "ends_at": NOW + 7200,
        "comment": "deploy",
        "weekly": {"days": [4, 5], "start": "22:00", "end": "02:00"},
    }
    with pytest.raises(FieldError) as caught:
        view.silence_body("host=web-1", None, None, None, None, None, None, NOW)
    assert caught.value.field == "ends_at"
    with pytest.raises(FieldError) as caught:
        view.silence_body("", None, "2026-03-02 14:00", None, None, None, None, NOW)
    assert caught.value.field == "matchers"
    with pytest.raises(FieldError) as caught:
        view.silence_body("a=b", "tomorrow", "2026-03-02 14:00", None, None, None, None, NOW)
    assert caught.value.field == "starts_at"


def test_silences_list_active_and_pending_before_expired() -> None:
    silences = [
        {"id": i, "state": state, "matchers": {"host": "web-1"}, "starts_at": iso(NOW),
         "ends_at": iso(NOW + 60), "weekly": None, "author": "ana", "comment": ""}
        for i, state in enumerate(["expired", "active", "pending"])
    ]  # fmt: skip
    assert [r["status"] for r in view.silence_rows(silences)] == ["active", "pending", "expired"]


def test_times_read_as_the_services_write_them() -> None:
    assert view.epoch("2026-03-02T12:00:00Z") == NOW
    assert view.exact(iso(NOW)) == "2026-03-02 12:00:00" and view.exact(None) == ""
    assert [view.ago(NOW - s, NOW) for s in (5, 60, 7200, 90000)] == [
        "5 s ago",
        "1 min ago",
        "2 h ago",
        "1 d ago",
    ]
    assert view.parse_time("2026-03-02 12:00", "until") == NOW
    assert view.parse_time("", "until") is None
