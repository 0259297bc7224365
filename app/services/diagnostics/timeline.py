"""The incident timeline: for one window, everything that happened on one time axis: alert
transitions and acknowledgements, new and spiking error groups, the log level histogram,
the metrics that changed most, annotations, leader changes and audited admin actions."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlencode

from app.log_handler import SOURCE
from app.runtime import Runtime
from app.services import FieldError
from app.services.diagnostics import correlations
from app.services.downloads import Download, Table, file_name, table_download, utc_iso
from app.services.log_view import logs_href
from app.services.timerange import EARLIEST
from collectors.scheduler import LEADER_GAINED, LEADER_LOST
from storage.diagnostics.annotations import AnnotationStore
from storage.diagnostics.timeline import TimelineReads
from storage.logquery import Query, parse

MAX_EVENTS = 500
"""Events of one kind at most; the answer says which kinds were cut."""
TOP_CHANGES = 10
HISTOGRAM_BUCKETS = 60
SPIKE_FACTOR = 5.0
"""An error group spikes when the window holds this many times the records its baseline
rate (over the four times longer period before) predicts..."""
SPIKE_MIN = 10
"""...and at least this many."""
QUIET_ACTIONS = frozenset({"annotation.create"})
"""Audit actions the timeline shows in another lane already."""
ERROR_LOGS = "level>=error"

KINDS = ("alert", "ack", "error_new", "error_spike", "change", "annotation", "leader", "audit")
"""Every event kind, in the order of the figure's lanes (top to bottom)."""


def timeline(rt: Runtime, start: float, end: float, changes: list[dict] | None = None) -> dict:
    """``{"from", "to", "events": [{ts, ts_end?, kind, title, severity?, link?, detail}],
    "histogram": {"step", "buckets"}, "changes": [...], "truncated": [kinds]}``, events
    sorted by time; ``changes_note`` says why there are none when the window cannot be
    compared. ``changes``: the ranking when the caller has it already (its top is used)."""
    truncated: list[str] = []
    events: list[dict] = []
    note = None
    if changes is None:
        try:
            changes = correlations.changes(rt, start, end, limit=TOP_CHANGES)
        except FieldError as exc:
            changes, note = [], exc.message
    changes = changes[:TOP_CHANGES]
    for kind, found in _sources(rt, start, end, changes):
        batch = list(itertools.islice(found, MAX_EVENTS + 1))
        if len(batch) > MAX_EVENTS:
            truncated.append(kind)
        events.extend(batch[:MAX_EVENTS])
    events.sort(key=lambda e: (e["ts"], KINDS.index(e["kind"])))
    step, buckets = rt.logs.histogram(Query(), _when(start), _when(end), HISTOGRAM_BUCKETS)
    out = {
        "from": start,
        "to": end,
        "events": events,
        "histogram": {"step": step, "buckets": buckets},
        "changes": changes,
        "truncated": truncated,
    }
    if note is not None:
        out["changes_note"] = note
    return out


def _sources(rt: Runtime, start: float, end: float, changes: list[dict]):
    reads = TimelineReads(rt.engine)
    yield "alert", _alert_events(rt, start, end)
    yield "error", _error_events(rt, reads, start, end)
    yield "change", (_change_event(c, start) for c in changes)
    yield "annotation", _annotation_events(rt, start, end)
    yield "leader", _leader_events(reads, start, end)
    yield "audit", _audit_events(rt, start, end)


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _event(ts: float, kind: str, title: str, detail: dict, **extra) -> dict:
    event = {"ts": ts, "kind": kind, "title": title, "detail": detail}
    event.update({k: v for k, v in extra.items() if v is not None})
    return event


def _alert_events(rt: Runtime, start: float, end: float) -> Iterator[dict]:
    entries = [
        e
        for e in itertools.islice(rt.alerts.history_range(start, end), 4 * MAX_EVENTS)
        if e.to_state is not None or e.actor is not None
    ]
    rules = {r.id: r.name for r in rt.alerts.list_rules()}
    instances = {
        i.id: i
        for group in rt.alerts.instances_of({e.rule_id for e in entries}).values()
        for i in group
    }
    # Each firing's span ends at its alert's next resolution within the window.
    span_end: dict[int, float] = {}
    firing: dict[int, int] = {}
    for entry in entries:
        if entry.event == "firing":
            firing[entry.instance_id] = entry.id
        elif entry.event == "resolved" and entry.instance_id in firing:
            span_end[firing.pop(entry.instance_id)] = entry.ts
    for entry in entries:
        instance = instances.get(entry.instance_id)
        name = rules.get(entry.rule_id, f"rule {entry.rule_id}")
        link = None
        if instance is not None:
            link = "/alerts?" + urlencode({"rule": entry.rule_id, "alert": instance.fingerprint})
        detail = {
            "rule_id": entry.rule_id,
            "alert_id": entry.instance_id,
            "labels": instance.labels if instance is not None else {},
            "event": entry.event,
            "from_state": entry.from_state,
            "to_state": entry.to_state,
            "value": entry.value if entry.value is None or math.isfinite(entry.value) else None,
            "reason": entry.reason,
            "actor": entry.actor,
        }
        if entry.actor is not None and entry.to_state is None:
            title = f"{name}: {entry.event} by {entry.actor}"
            yield _event(entry.ts, "ack", title, detail, severity=entry.severity, link=link)
            continue
        yield _event(
            entry.ts,
            "alert",
            f"{name}: {entry.event}",
            detail,
            ts_end=span_end.get(entry.id),
            severity=entry.severity,
            link=link,
        )


def _error_events(rt: Runtime, reads: TimelineReads, start: float, end: float) -> Iterator[dict]:
    new = reads.groups_seen(start, end, first_seen_only=True, limit=MAX_EVENTS + 1)
    for group in new:
        yield _event(
            group.first_seen,
            "error_new",
            f"New error: {group.title}",
            {**group.to_dict(), "count_in_window": None},
            severity=group.level,
            link=errors_link(group.fingerprint),
        )
    span = end - start
    counts = reads.fingerprint_counts(start, end)
    since = max(EARLIEST, start - correlations.BASELINE_FACTOR * span)
    baseline = reads.fingerprint_counts(since, start)
    known = {g.fingerprint for g in new}
    spikes = []
    for fp, found in counts.items():
        before = baseline.get(fp)
        expected = (before.count if before else 0) / correlations.BASELINE_FACTOR
        if fp not in known and found.count >= max(SPIKE_MIN, SPIKE_FACTOR * expected):
            spikes.append((found, expected))
    groups = {
        g.fingerprint: g
        for g in reads.groups_seen(start, end, fingerprints=[f.fingerprint for f, _ in spikes])
    }
    for found, expected in spikes:
        group = groups.get(found.fingerprint)
        title = group.title if group else found.fingerprint
        yield _event(
            found.first,
            "error_spike",
            f"Error spike ({found.count} records): {title}",
            {
                **(group.to_dict() if group else {"fingerprint": found.fingerprint}),
                "count_in_window": found.count,
                "expected": expected,
            },
            severity=group.level if group else "error",
            link=errors_link(found.fingerprint),
        )


def errors_link(fingerprint: str) -> str:
    """The Errors tab of the Diagnostics page opened at one group."""
    return "/diagnostics?" + urlencode({"tab": "errors", "fingerprint": fingerprint})


def _change_event(change: dict, start: float) -> dict:
    labels = ",".join(f"{k}={v}" for k, v in sorted(change["labels"].items()))
    series = f"{change['name']}{{{labels}}}" if labels else change["name"]
    title = (
        f"{series} on {change['host']} went {change['direction']}: "
        f"{change['before']:.4g} → {change['after']:.4g}"
    )
    return _event(
        change["since"] if change["since"] is not None else start,
        "change",
        title,
        change,
        link="/diagnostics?tab=timeline",
    )


def _annotation_events(rt: Runtime, start: float, end: float) -> Iterator[dict]:
    for note in AnnotationStore(rt.engine).between(start, end, MAX_EVENTS + 1):
        detail = {"id": note.id, "text": note.text, "tags": note.tags, "author": note.author}
        yield _event(note.ts, "annotation", note.title, detail, ts_end=note.ts_end)


def _leader_events(reads: TimelineReads, start: float, end: float) -> Iterator[dict]:
    for line in reads.lines(SOURCE, (LEADER_GAINED, LEADER_LOST), start, end, MAX_EVENTS + 1):
        gained = line.message == LEADER_GAINED
        title = f"{line.host} {'became' if gained else 'stopped being'} the collector leader"
        link = logs_href(f"source:{SOURCE} host:{line.host}", start=line.ts - 60, end=line.ts + 60)
        yield _event(line.ts, "leader", title, {"host": line.host, "leader": gained}, link=link)


def _audit_events(rt: Runtime, start: float, end: float) -> Iterator[dict]:
    entries = rt.accounts.list_audit(since=_when(start), until=_when(end), limit=MAX_EVENTS * 2)
    for entry in reversed(entries):
        if entry.action.endswith(".end") or entry.action in QUIET_ACTIONS:
            continue
        target = f" {entry.target}" if entry.target else ""
        yield _event(
            entry.ts.timestamp(),
            "audit",
            f"{entry.actor or 'system'}: {entry.action}{target}",
            {
                "id": entry.id,
                "actor": entry.actor,
                "action": entry.action,
                "target": entry.target,
                "remote_addr": entry.remote_addr,
                "details": entry.details,
            },
        )


def error_logs_query() -> Query:
    """The query of the error logs the bundle holds: records at ``error`` or above."""
    return parse(ERROR_LOGS)


EVENT_COLUMNS = ("ts", "ts_end", "kind", "title", "severity", "link", "detail")
CHANGE_COLUMNS = (
    "name",
    "host",
    "labels",
    "score",
    "direction",
    "before",
    "after",
    "method",
    "since",
)


def event_rows(events: list[dict]) -> Iterator[dict]:
    """Timeline events as rows of ``EVENT_COLUMNS`` (times in ISO 8601)."""
    for event in events:
        ts_end = event.get("ts_end")
        yield {
            "ts": utc_iso(event["ts"]),
            "ts_end": None if ts_end is None else utc_iso(ts_end),
            "kind": event["kind"],
            "title": event["title"],
            "severity": event.get("severity"),
            "link": event.get("link"),
            "detail": event["detail"],
        }


def change_rows(changes: list[dict]) -> Iterator[dict]:
    """Ranked changes as rows of ``CHANGE_COLUMNS``."""
    for change in changes:
        since = change["since"]
        yield {**change, "since": None if since is None else utc_iso(since)}


def timeline_export(
    rt: Runtime,
    start: float,
    end: float,
    fmt: str,
    *,
    actor: str,
    remote_addr: str | None,
) -> Download:
    """The timeline's events over [start, end) as a CSV or JSON download, audited."""
    filename = file_name("timeline", start, end, fmt)
    events = timeline(rt, start, end)["events"]
    return table_download(
        rt,
        "diagnostics.timeline.export",
        filename,
        Table(fmt, EVENT_COLUMNS, event_rows(events)),
        actor=actor,
        remote_addr=remote_addr,
        details=_export_details(start, end, fmt, filename),
    )


def changes_export(
    rt: Runtime,
    start: float,
    end: float,
    limit: int,
    fmt: str,
    *,
    actor: str,
    remote_addr: str | None,
) -> Download:
    """The ranked changes of [start, end) as a CSV or JSON download, audited; FieldError
    names a window that cannot be compared."""
    filename = file_name("changes", start, end, fmt)
    changes = correlations.changes(rt, start, end, limit)
    return table_download(
        rt,
        "diagnostics.changes.export",
        filename,
        Table(fmt, CHANGE_COLUMNS, change_rows(changes)),
        actor=actor,
        remote_addr=remote_addr,
        details={**_export_details(start, end, fmt, filename), "limit": limit},
    )


def _export_details(start: float, end: float, fmt: str, filename: str) -> dict:
    return {"from": utc_iso(start), "to": utc_iso(end), "format": fmt, "file": filename}


API = "/api/v1/admin"
SERIES_POINTS = 500


def download_hrefs(start: float, end: float) -> dict[str, str]:
    """The page's download links for [start, end): the timeline and the changes as CSV
    and JSON, and the bundle."""
    window = {"from": f"{start:.3f}", "to": f"{end:.3f}"}
    hrefs = {
        f"{what}_{fmt}": f"{API}/diagnostics/{what}/export?" + urlencode({**window, "format": fmt})
        for what in ("timeline", "changes")
        for fmt in ("csv", "json")
    }
    hrefs["bundle"] = f"{API}/diagnostics/bundle?" + urlencode(window)
    return hrefs


def change_grid_rows(changes: list[dict]) -> list[dict]:
    """The ranked changes as the page's grid rows (the series spelled out)."""
    rows = []
    for index, change in enumerate(changes):
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(change["labels"].items()))
        rows.append(
            {
                "id": index,
                "series": f"{change['name']}{{{labels}}}" if labels else change["name"],
                "name": change["name"],
                "host": change["host"],
                "labels": change["labels"],
                "score": round(change["score"], 4),
                "direction": change["direction"],
                "move": f"{change['before']:.4g} → {change['after']:.4g}",
                "method": change["method"],
            }
        )
    return rows


def change_series(
    rt: Runtime, name: str, host: str, labels: dict, start: float, end: float
) -> tuple[list[tuple[float, float]], float, float]:
    """One series' bucket averages over the baseline and the window of [start, end), with
    where the window starts and ends (as compared)."""
    span = correlations.windows(start, end)
    found = rt.metrics.query([name], span.baseline, span.end, host=host, max_points=SERIES_POINTS)
    points = next((s.points for s in found if s.labels == labels), [])
    return [(ts, avg) for ts, avg, *_ in points], span.start, span.end
