"""Prometheus text exposition of the latest samples and of Pulseboard's own health."""

from __future__ import annotations

import re
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from app.runtime import Runtime
from app.services.alerts import labels_of, rules_by_id
from app.services.metrics import field_catalogue
from storage.live import METRICS_CHANNEL

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NOT_IN_LABEL_NAME = re.compile(r"[^A-Za-z0-9_]")


def latest_samples(rt: Runtime) -> list[dict]:
    """The newest value of every series: the last collection as published, else the store."""
    snapshot = rt.bus.latest(METRICS_CHANNEL)
    if snapshot and snapshot.get("samples"):
        return snapshot["samples"]
    return [
        {"name": v.name, "host": v.host, "labels": v.labels, "value": v.value}
        for v in rt.metrics.latest()
    ]


class _Exposition:
    """A prometheus_client collector over Pulseboard's stores, read at scrape time."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        fields = field_catalogue(self.rt)
        families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}
        for sample in latest_samples(self.rt):
            name = sample["name"]
            family = families.get(name)
            label_names = ["host", *sample["labels"]]
            if family is None:
                field = fields.get(name)
                doc = field.description if field else name
                if field is not None and field.kind == "counter":
                    family = CounterMetricFamily(
                        name.removesuffix("_total"), doc, labels=label_names
                    )
                else:
                    family = GaugeMetricFamily(name, doc, labels=label_names)
                families[name] = family
            family.add_metric([sample["host"], *sample["labels"].values()], sample["value"])
        yield from families.values()
        yield alerts_family(self.rt)
        yield from self._own_health()

    def _own_health(self) -> Iterator[Metric]:
        state = self.rt.scheduler.snapshot()
        leader = GaugeMetricFamily(
            "pulseboard_scheduler_leader", "1 when this process runs the collectors"
        )
        leader.add_metric([], 1.0 if state["leader"] else 0.0)
        yield leader
        buffered = GaugeMetricFamily(
            "pulseboard_buffered_samples", "Samples waiting for the database"
        )
        buffered.add_metric([], state["buffered_samples"])
        yield buffered
        dropped = CounterMetricFamily(
            "pulseboard_dropped_samples", "Samples dropped because the buffer was full"
        )
        dropped.add_metric([], state["dropped_samples"])
        yield dropped
        handler = self.rt.log_handler
        if handler is not None:
            log_dropped = CounterMetricFamily(
                "pulseboard_log_handler_dropped",
                "Pulseboard's own log records dropped (queue full or store away)",
            )
            log_dropped.add_metric([], handler.dropped)
            yield log_dropped
        bus = GaugeMetricFamily(
            "pulseboard_live_bus_up", "1 while the live bus works", labels=["backend"]
        )
        status = self.rt.bus.status()
        bus.add_metric([status["backend"]], 1.0 if status["ok"] else 0.0)
        yield bus
        duration = GaugeMetricFamily(
            "pulseboard_job_last_duration_seconds",
            "Wall time of the job's last run",
            labels=["job"],
        )
        runs = CounterMetricFamily("pulseboard_job_runs", "Job runs", labels=["job"])
        errors = CounterMetricFamily(
            "pulseboard_job_errors", "Job runs that failed", labels=["job"]
        )
        for name, job in state["jobs"].items():
            if job["last_duration"] is not None:
                duration.add_metric([name], job["last_duration"])
            runs.add_metric([name], job["runs"])
            errors.add_metric([name], job["errors"])
        yield from (duration, runs, errors)


def label_name(name: str) -> str:
    """``name`` as a valid Prometheus label name (``attrs.user`` becomes ``attrs_user``)."""
    safe = _NOT_IN_LABEL_NAME.sub("_", name)
    return "_" + safe if safe[:1].isdigit() else safe


def alerts_family(rt: Runtime) -> Metric:
    """``ALERTS{alertname, alertstate, severity, <labels>} 1`` for each open alert, as
    Prometheus exports its own (its labels as notifications carry them): ``alertstate`` is
    pending, or firing for every other open state (recovering, NoData, Error)."""
    family = Metric("ALERTS", "Open alerts: 1 per alert, pending or firing", "gauge")
    rules = rules_by_id(rt)
    for instance in rt.alerts.open_instances():
        labels = {label_name(k): v for k, v in labels_of(instance, rules).items()}
        labels["alertstate"] = "pending" if instance.state == "pending" else "firing"
        labels.setdefault("severity", "")
        family.add_sample("ALERTS", labels, 1.0)
    return family


def render(rt: Runtime) -> bytes:
    """The exposition text for one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Exposition(rt))
    return generate_latest(registry)
