"""The alert state machine, one rule of it per test: pending, firing, severity and its
hysteresis, keep_firing_for, NoData and Error policies, missing series and flapping."""

from __future__ import annotations

import pytest

from app.alerting.engine import Instance, Policy, Result, Thresholds, missing, step

DISK = Thresholds(">", warning=85, critical=95, warning_clear=80, critical_clear=92)


def run(values, policy=None, thresholds=DISK, start=0.0, every=10.0):
    """Feed ``values`` (None: no data, an Exception: an error) one ``every`` seconds apart;
    the final instance and the (ts, from, to, severity) of every transition."""
    policy = policy or Policy()
    instance, seen = Instance(), []
    for i, value in enumerate(values):
        failed = isinstance(value, Exception)
        result = Result(error=str(value)) if failed else Result(value=value)
        instance, transitions = step(instance, result, start + i * every, thresholds, policy)
        seen += [(t.ts, t.from_state, t.to_state, t.severity) for t in transitions]
    return instance, seen


def test_a_condition_fires_at_once_without_a_pending_period():
    instance, seen = run([50, 90])
    assert seen == [(10.0, "normal", "firing", "warning")]
    assert (instance.state, instance.fired_at, instance.active_at) == ("firing", 10.0, 10.0)


def test_a_condition_must_hold_for_the_pending_period():
    instance, seen = run([90, 90, 90, 90], Policy(for_s=30))
    assert seen == [(0.0, "normal", "pending", "warning"), (30.0, "pending", "firing", "warning")]
    assert instance.fired_at == 30.0


def test_a_condition_that_clears_while_pending_never_fires():
    instance, seen = run([90, 90, 50, 90], Policy(for_s=30))
    assert [s[2] for s in seen] == ["pending", "normal", "pending"]
    assert instance.fired_at is None and instance.resolved_at is None


def test_critical_is_checked_before_warning_and_severity_changes_are_transitions():
    _, seen = run([90, 97, 90])
    # 90 after critical stays critical: above the critical clear of 92? No: 90 <= 92, so
    # it falls back to warning, which it still holds (above the warning clear of 80).
    assert seen == [
        (0.0, "normal", "firing", "warning"),
        (10.0, "firing", "firing", "critical"),
        (20.0, "firing", "firing", "warning"),
    ]


@pytest.mark.parametrize(
    ("values", "severities"),
    [
        ([97, 93, 92.5, 92], ["critical", "critical", "critical", "warning"]),
        ([90, 82, 80.5, 80], ["warning", "warning", "warning", None]),
    ],
)
def test_hysteresis_keeps_a_severity_until_the_clear_threshold(values, severities):
    instance, got = Instance(), []
    for i, value in enumerate(values):
        instance, _ = step(instance, Result(value=value), i * 10.0, DISK, Policy())
        got.append(instance.severity)
    assert got == severities


def test_keep_firing_for_holds_an_alert_through_a_short_dip():
    policy = Policy(keep_firing_s=30)
    instance, seen = run([90, 50, 90, 50, 50, 50, 50], policy)
    assert [s[1:3] for s in seen] == [
        ("normal", "firing"),
        ("firing", "recovering"),
        ("recovering", "firing"),
        ("firing", "recovering"),
        ("recovering", "normal"),
    ]
    assert seen[-1][0] == 60.0  # 30 s after it began to recover at 30
    assert (instance.state, instance.resolved_at, instance.fired_at) == ("normal", 60.0, 0.0)


def test_a_return_from_recovering_keeps_the_original_fired_at():
    instance, _ = run([90, 50, 90], Policy(keep_firing_s=30))
    assert (instance.state, instance.fired_at) == ("firing", 0.0)


def test_nodata_is_its_own_state_after_the_pending_period_and_resolves_on_data():
    instance, seen = run([None, None, None, 50], Policy(for_s=20))
    assert [s[1:3] for s in seen] == [
        ("normal", "pending"),
        ("pending", "nodata"),
        ("nodata", "normal"),
    ]
    assert instance.resolved_at == 30.0


@pytest.mark.parametrize(
    ("policy", "state", "severity"),
    [
        (Policy(no_data="alerting"), "firing", "critical"),
        (Policy(no_data="ok"), "normal", None),
        (Policy(no_data="keep_last"), "firing", "warning"),
        (Policy(no_data="nodata"), "nodata", None),
    ],
)
def test_nodata_policies(policy, state, severity):
    instance, _ = run([90, None, None], policy)
    assert (instance.state, instance.severity) == (state, severity)


@pytest.mark.parametrize(
    ("policy", "state"),
    [
        (Policy(on_error="error"), "error"),
        (Policy(on_error="alerting"), "firing"),
        (Policy(on_error="keep_last"), "normal"),
    ],
)
def test_error_policies(policy, state):
    instance, seen = run([50, RuntimeError("statement timeout")], policy)
    assert instance.state == state
    if state == "error":
        assert seen == [(10.0, "normal", "error", None)]


def test_an_error_reason_carries_the_failure():
    _, transitions = step(Instance(), Result(error="statement timeout"), 0.0, DISK, Policy())
    assert transitions[0].reason == "evaluation failed: statement timeout"


def test_a_series_that_stops_appearing_resolves_after_missing_evaluations():
    instance, _ = run([90])
    policy = Policy(missing_evaluations=3)
    for n in (1, 2):
        instance, transitions = missing(instance, 10.0 * n, policy)
        assert (instance.state, transitions) == ("firing", [])
    instance, transitions = missing(instance, 30.0, policy)
    assert [(t.from_state, t.to_state, t.reason) for t in transitions] == [
        ("firing", "normal", "the series is gone")
    ]
    assert instance.resolved_at == 30.0


def test_a_value_after_a_missing_evaluation_starts_the_count_again():
    instance, _ = run([90])
    instance, _ = missing(instance, 10.0, Policy())
    instance, _ = step(instance, Result(value=90), 20.0, DISK, Policy())
    assert instance.missing == 0


def test_a_flapping_instance_is_held_open_until_quiet_for_the_window():
    policy = Policy(flap_threshold=4, flap_window=100)
    instance, seen = run([90, 50] * 4, policy)
    assert instance.flapping and instance.state == "firing"
    # Five changes, then the hold: no more transitions while it flaps.
    assert len(seen) == 6 and seen[-1][2] == "firing"
    held_at = len(seen)
    for i in range(8, 30):
        instance, transitions = step(instance, Result(value=50), i * 10.0, DISK, policy)
        seen += [(t.ts, t.from_state, t.to_state, t.severity) for t in transitions]
        if instance.state == "normal":
            break
    # Held: nothing recorded until it resolves, a whole window after its last change (70 s).
    assert seen[held_at:] == [(170.0, "firing", "normal", None)]
    assert instance.state == "normal" and not instance.flapping
    assert [t.reason for t in transitions] == ["quiet again after flapping"]


def test_thresholds_refuse_an_unknown_operator_and_a_rule_without_thresholds():
    with pytest.raises(ValueError, match="comparison"):
        Thresholds("=>", warning=1)
    with pytest.raises(ValueError, match="threshold"):
        Thresholds(">")


def test_a_lower_is_worse_rule_compares_the_other_way():
    hit_ratio = Thresholds("<", warning=0.9, critical=0.5, warning_clear=0.95)
    assert hit_ratio.severity(0.4, None) == "critical"
    assert hit_ratio.severity(0.92, None) is None
    assert hit_ratio.severity(0.92, "warning") == "warning"
    assert hit_ratio.severity(0.96, "warning") is None
