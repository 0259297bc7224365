"""Prometheus text exposition of the latest samples and of Pulseboard's own health.

The latest collection is written straight from the published snapshot: a scrape of
thousands of series spends its time on one line per series, so each series' name and
label string is built once and reused by later scrapes, and only the value is formatted
each time. The exposition is the one ``prometheus_client`` writes (text format 0.0.4):
label names sorted, invalid name characters as ``_`` (and ``_`` before a leading digit),
label values and help escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from app.runtime import Runtime
from app.services.alerts import labels_of, rules_by_id
from app.services.metrics import field_catalogue
from collectors.base import Field
from storage.live import METRICS_CHANNEL

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NOT_IN_LABEL_NAME = re.compile(r"[^A-Za-z0-9_]")
_NOT_IN_METRIC_NAME = re.compile(r"[^A-Za-z0-9_:]")
_SERIES_CACHE = 20_000
"""Series whose line prefix is kept between scrapes (about 500 bytes each): four times the
5,000 a big host exposes, and a bound on what series churn can make the process hold."""
_SPECIAL_VALUES = {"inf": "+Inf", "-inf": "-Inf", "nan": "NaN"}


@dataclass(frozen=True)
class Family:
    """One metric family as exposed: its name (a counter's ends in ``_total``), type,
    help text and samples as (labels, value)."""

    name: str
    kind: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)


def latest_samples(rt: Runtime) -> list[dict]:
    """The newest value of every series: the last collection as published, else the store."""
    snapshot = rt.bus.latest(METRICS_CHANNEL)
    if snapshot and snapshot.get("samples"):
        return snapshot["samples"]
    return [
        {"name": v.name, "host": v.host, "labels": v.labels, "value": v.value}
        for v in rt.metrics.latest()
    ]


def exposed_name(name: str, kind: str) -> str:
    """The family name Prometheus sees: invalid characters as ``_``, and a counter's
    name ending in ``_total``."""
    safe = _NOT_IN_METRIC_NAME.sub("_", name)
    if safe[:1].isdigit():
        safe = "_" + safe
    if kind == "counter" and not safe.endswith("_total"):
        safe += "_total"
    return safe


def label_name(name: str) -> str:
    """``name`` as a valid Prometheus label name (``attrs.user`` becomes ``attrs_user``)."""
    safe = _NOT_IN_LABEL_NAME.sub("_", name)
    return "_" + safe if safe[:1].isdigit() else safe


def label_value(value: str) -> str:
    """A label value escaped for the text format (backslash, quote and newline)."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def format_value(value: float) -> str:
    """A sample value as Prometheus (Go) writes it: ``+Inf``, ``NaN``, ``1.5e+06``."""
    text = repr(float(value))
    dot = text.find(".")
    if dot > 6 and text[0] != "-":
        # Go switches to an exponent from 1e+06 where Python waits for 1e+16.
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return _SPECIAL_VALUES.get(text, text)


def labels_text(labels: Iterable[tuple[str, str]]) -> str:
    """``{a="1",b="2"}`` for the labels sorted by name, or nothing when there are none."""
    pairs = ",".join(f'{label_name(k)}="{label_value(v)}"' for k, v in sorted(labels))
    return f"{{{pairs}}}" if pairs else ""


@lru_cache(maxsize=1024)
def header(name: str, kind: str, help_text: str) -> str:
    """The ``# HELP`` and ``# TYPE`` lines of an exposed family."""
    escaped = help_text.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {escaped}\n# TYPE {name} {kind}\n"


@lru_cache(maxsize=_SERIES_CACHE)
def _series_prefix(name: str, host: str, labels: tuple[tuple[str, str], ...]) -> str:
    return f"{name}{labels_text({**dict(labels), 'host': host}.items())} "


def _latest_lines(samples: list[dict], fields: dict[str, Field]) -> Iterator[str]:
    """The families of the latest samples, in the order their first series came."""
    families: dict[str, tuple[str, list[str]]] = {}
    for sample in samples:
        name = sample["name"]
        family = families.get(name)
        if family is None:
            meta = fields.get(name)
            kind = meta.kind if meta is not None else "gauge"
            exposed = exposed_name(name, kind)
            doc = meta.description if meta is not None else name
            family = families[name] = (exposed, [header(exposed, kind, doc)])
        exposed, lines = family
        prefix = _series_prefix(exposed, sample["host"], tuple(sample["labels"].items()))
        lines.append(prefix + format_value(sample["value"]) + "\n")
    for _, lines in families.values():
        yield from lines


def family_lines(family: Family) -> Iterator[str]:
    """The exposition lines of one family."""
    yield header(family.name, family.kind, family.help)
    for labels, value in family.samples:
        yield f"{family.name}{labels_text(labels.items())} {format_value(value)}\n"


def alerts_family(rt: Runtime) -> Family:
    """``ALERTS{alertname, alertstate, severity, <labels>} 1`` for each open alert, as
    Prometheus exports its own (its labels as notifications carry them): ``alertstate`` is
    pending, or firing for every other open state (recovering, NoData, Error)."""
    family = Family("ALERTS", "gauge", "Open alerts: 1 per alert, pending or firing")
    rules = rules_by_id(rt)
    for instance in rt.alerts.open_instances():
        labels = {label_name(k): v for k, v in labels_of(instance, rules).items()}
        labels["alertstate"] = "pending" if instance.state == "pending" else "firing"
        labels.setdefault("severity", "")
        family.samples.append((labels, 1.0))
    return family


def health_families(rt: Runtime) -> list[Family]:
    """Pulseboard's own health: scheduler, buffer, log handler, live bus and jobs."""
    state = rt.scheduler.snapshot()
    families = [
        Family(
            "pulseboard_scheduler_leader",
            "gauge",
            "1 when this process runs the collectors",
            [({}, 1.0 if state["leader"] else 0.0)],
        ),
        Family(
            "pulseboard_buffered_samples",
            "gauge",
            "Samples waiting for the database",
            [({}, state["buffered_samples"])],
        ),
        Family(
            "pulseboard_dropped_samples_total",
            "counter",
            "Samples dropped because the buffer was full",
            [({}, state["dropped_samples"])],
        ),
    ]
    handler = rt.log_handler
    if handler is not None:
        families.append(
            Family(
                "pulseboard_log_handler_dropped_total",
                "counter",
                "Pulseboard's own log records dropped (queue full or store away)",
                [({}, handler.dropped)],
            )
        )
    status = rt.bus.status()
    families.append(
        Family(
            "pulseboard_live_bus_up",
            "gauge",
            "1 while the live bus works",
            [({"backend": status["backend"]}, 1.0 if status["ok"] else 0.0)],
        )
    )
    jobs = state["jobs"].items()
    families += [
        Family(
            "pulseboard_job_last_duration_seconds",
            "gauge",
            "Wall time of the job's last run",
            [({"job": n}, j["last_duration"]) for n, j in jobs if j["last_duration"] is not None],
        ),
        Family(
            "pulseboard_job_runs_total",
            "counter",
            "Job runs",
            [({"job": n}, j["runs"]) for n, j in jobs],
        ),
        Family(
            "pulseboard_job_errors_total",
            "counter",
            "Job runs that failed",
            [({"job": n}, j["errors"]) for n, j in jobs],
        ),
    ]
    return families


def render(rt: Runtime) -> bytes:
    """The exposition text for one scrape."""
    lines = list(_latest_lines(latest_samples(rt), field_catalogue(rt)))
    for family in (alerts_family(rt), *health_families(rt)):
        lines.extend(family_lines(family))
    return "".join(lines).encode()
