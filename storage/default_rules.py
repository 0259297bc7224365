"""The alert rules a fresh database starts with: the thresholds that colour the Overview
(``storage.thresholds``) and the failures it shows, as rules whose states colour it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from storage.thresholds import THRESHOLDS


@dataclass(frozen=True, slots=True)
class DefaultRule:
    """One default metric rule (``key`` lets the Overview find it)."""

    key: str
    name: str
    metric: str
    summary: str
    op: str
    critical: float
    warning: float | None = None
    warning_clear: float | None = None
    critical_clear: float | None = None
    reduce: str = "avg"
    window: int = 300
    for_s: int = 120
    matchers: dict = field(default_factory=dict)
    group_by: tuple[str, ...] = ("host",)


def _percent(key: str, metric: str, summary: str, **kw) -> DefaultRule:
    threshold = THRESHOLDS[metric]
    return DefaultRule(
        key,
        threshold.summary,
        metric,
        summary,
        ">=",
        threshold.critical,
        warning=threshold.warning,
        warning_clear=threshold.warning - 5,
        critical_clear=threshold.critical - 3,
        **kw,
    )


DEFAULT_RULES: tuple[DefaultRule, ...] = (
    _percent(
        "cpu", "system_cpu_usage_percent", "CPU on {{ labels.host }} at {{ value|round(1) }}%"
    ),
    _percent(
        "memory",
        "system_memory_used_percent",
        "Memory on {{ labels.host }} at {{ value|round(1) }}%",
    ),
    _percent(
        "disk",
        "system_disk_used_percent",
        "{{ labels.mountpoint }} on {{ labels.host }} is {{ value|round(1) }}% full",
        reduce="last",
        window=120,
        for_s=60,
        group_by=("host", "mountpoint"),
    ),
    DefaultRule(
        "errors",
        "HTTP error rate is high",
        "http_request_errors_ratio",
        "{{ (value * 100)|round(1) }}% of requests on {{ labels.host }} fail with 5xx",
        ">",
        0.2,
        warning=0.05,
        warning_clear=0.03,
        critical_clear=0.15,
        matchers={"class": "5xx"},
    ),
    DefaultRule(
        "latency",
        "HTTP p95 latency is high",
        "http_request_duration_seconds",
        "p95 latency on {{ labels.host }} is {{ value|round(2) }} s",
        ">",
        3.0,
        warning=1.0,
        warning_clear=0.8,
        critical_clear=2.5,
        matchers={"quantile": "0.95"},
    ),
    DefaultRule(
        "postgresql",
        "PostgreSQL is down",
        "pg_up",
        "PostgreSQL {{ labels.target }} does not answer",
        "<",
        1.0,
        reduce="last",
        window=60,
        for_s=30,
        group_by=("host", "target"),
    ),
    DefaultRule(
        "redis",
        "Redis is down",
        "redis_up",
        "Redis {{ labels.target }} does not answer",
        "<",
        1.0,
        reduce="last",
        window=60,
        for_s=30,
        group_by=("host", "target"),
    ),
    DefaultRule(
        "pool",
        "Database pool is saturated",
        "pulseboard_db_pool_used_ratio",
        "Pulseboard uses {{ (value * 100)|round(0) }}% of its database connections",
        ">=",
        1.0,
        warning=0.8,
        warning_clear=0.7,
        critical_clear=0.9,
    ),
)


def default_rule_rows(now: float) -> list[dict]:
    """``alert_rules`` rows for the default rules (no channels: an admin adds them)."""
    rows = []
    for rule in DEFAULT_RULES:
        spec = {
            "metric": rule.metric,
            "matchers": rule.matchers,
            "group_by": list(rule.group_by),
            "reduce": rule.reduce,
            "window": rule.window,
            "op": rule.op,
            "warning": rule.warning,
            "warning_clear": rule.warning_clear,
            "critical": rule.critical,
            "critical_clear": rule.critical_clear,
        }
        rows.append(
            {
                "name": rule.name,
                "kind": "metric",
                "spec": json.dumps(spec, sort_keys=True),
                "for_s": float(rule.for_s),
                "keep_firing_s": 0.0,
                "interval_s": 30,
                # A series these rules watch may simply not exist here (no Redis configured).
                "no_data": "ok",
                "on_error": "error",
                "repeat_s": 14400,
                "labels": "{}",
                "annotations": json.dumps({"summary": rule.summary}),
                "channels": "[]",
                "enabled": True,
                "builtin": rule.key,
                "created_by": None,
                "created_at": now,
                "updated_by": None,
                "updated_at": now,
                "version": 1,
            }
        )
    return rows
