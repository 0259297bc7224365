"""What the Alerts page shows: grid rows, the detail of one alert, the preview figure, the
download links, and the rule editor's form values to and from a rule body.

Plain functions over plain data (the API's item shapes and the stores' records), so the
page's callbacks stay a few lines each and every rule of the view is unit-tested.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import urlencode

from pydantic import ValidationError

from app.alerting.rules import KINDS, RuleBody, RuleError
from app.runtime import Runtime
from app.services import FieldError, alerts
from storage.alerts import OPEN_STATES

EXPORT = "/api/v1/admin/alerts/export"
HISTORY_STATES = ("open", "firing", "resolved", "all")
ANY = "any"
"""A filter's "no choice" value (a select shows a blank for an empty value)."""
EXPORT_EVENTS = {"firing": ("firing",), "resolved": ("resolved",)}
"""The history events the export keeps for a state filter (others keep every event)."""
SEVERITIES = ("critical", "warning")
HISTORY_RANGES = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
PREVIEW_SPAN = 86400
PREVIEW_NAME = "preview"
SILENCE_HOUR = 3600
HISTORY_ROWS = 500
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SEVERITY_COLOURS = {"critical": "#dc3545", "warning": "#fd7e14"}

NUMBER_FIELDS = ("warning", "warning_clear", "critical", "critical_clear")
SECONDS_FIELDS = ("window", "for", "keep_firing_for", "interval", "repeat_interval")
CHOICE_FIELDS = ("kind", "reduce", "aggregate", "op", "no_data", "on_error")
ANNOTATIONS = ("summary", "description", "runbook_url")
METRIC_FIELDS = ("metric", "matchers", "reduce")
LOG_FIELDS = ("query", "aggregate")
OTHER_KINDS_FIELDS = dict(
    zip(KINDS, (LOG_FIELDS, METRIC_FIELDS, (*METRIC_FIELDS, "aggregate")), strict=True)
)
"""The editor's fields that are not part of a rule of each kind (``KINDS``, the editor's
choices)."""
FORM_FIELDS = (
    "name",
    "kind",
    "enabled",
    *METRIC_FIELDS,
    *LOG_FIELDS,
    "group_by",
    "op",
    *NUMBER_FIELDS,
    *SECONDS_FIELDS,
    "no_data",
    "on_error",
    "channels",
    "labels",
    *ANNOTATIONS,
)
"""Every input of the rule editor, by the rule body field it edits (annotations by key)."""
NEW_RULE = {
    "name": "",
    "kind": "metric",
    "enabled": True,
    "metric": "",
    "matchers": {},
    "reduce": "avg",
    "query": "",
    "aggregate": "count",
    "group_by": ["host"],
    "window": 300,
    "op": ">",
    "for": 60,
    "keep_firing_for": 0,
    "interval": 60,
    "no_data": "nodata",
    "on_error": "error",
    "repeat_interval": 14400,
    "channels": [],
    "labels": {},
    "annotations": {},
}


# -- times ------------------------------------------------------------------------------


def epoch(value: float | str | None) -> float | None:
    """Epoch seconds of an ISO 8601 time as the services write them (or of epoch seconds)."""
    if value is None or isinstance(value, int | float):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def exact(value: float | str | None) -> str:
    """``YYYY-MM-DD HH:MM:SS`` (UTC), or blank."""
    ts = epoch(value)
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def ago(value: float | str | None, now: float) -> str:
    """How long before ``now`` a time was, in the largest whole unit ("3 min ago")."""
    ts = epoch(value)
    if ts is None:
        return ""
    seconds = max(0, int(now - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def parse_time(text: str | None, field: str) -> float | None:
    """Epoch seconds of a ``YYYY-MM-DD HH:MM[:SS]`` (UTC) or ``datetime-local`` value."""
    text = (text or "").strip().replace("T", " ")
    if not text:
        return None
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise FieldError(field, "write the time as YYYY-MM-DD HH:MM (UTC)")


# -- alerts -----------------------------------------------------------------------------


def labels_text(labels: Mapping[str, str] | None) -> str:
    """``k=v, k=v`` in key order."""
    return ", ".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))


def _value_text(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.4g}"


def ack_text(acknowledged: dict | None, now: float) -> str:
    """ "by whom, when: comment (until …)", or blank when not acknowledged."""
    if not acknowledged:
        return ""
    text = f"{acknowledged['by']}, {ago(acknowledged['at'], now)}"
    if acknowledged.get("comment"):
        text += f": {acknowledged['comment']}"
    if acknowledged.get("until"):
        text += f" (until {exact(acknowledged['until'])})"
    return text


def alert_rows(items: Iterable[dict], now: float) -> list[dict]:
    """Rows of the open alerts and history grids from API items."""
    rows = []
    for item in items:
        since = item["fired_at"] or item["active_at"]
        rows.append(
            {
                "id": item["id"],
                "rule_id": item["rule_id"],
                "severity": item["severity"] or "",
                "rule": item["rule_name"],
                "labels": labels_text(item["labels"]),
                "since": ago(since, now),
                "since_exact": f"{exact(since)} UTC" if since else "",
                "resolved": exact(item["resolved_at"]),
                "value": _value_text(item["value"]),
                "state": item["state"],
                "ack": ack_text(item["acknowledged"], now),
                "acknowledged": item["acknowledged"] is not None,
                "silenced": "silenced" if item["silenced"] else "",
                "flapping": "flapping" if item["flapping"] else "",
            }
        )
    return rows


def history_entry_rows(entries: Iterable[dict]) -> list[dict]:
    """One alert's history (the service's entries, oldest first) newest first."""
    return [
        {
            "id": e["id"],
            "ts": exact(e["ts"]),
            "event": e["event"],
            "change": f"{e['from']} → {e['to']}" if e["to"] else "",
            "severity": e["severity"] or "",
            "value": _value_text(e["value"]),
            "by": e["actor"] or "",
            "reason": e["reason"],
        }
        for e in reversed(list(entries))
    ]


def delivery_rows(deliveries: Iterable[dict]) -> list[dict]:
    """The delivery log (the service's rows, newest first)."""
    return [
        {
            "id": d["id"],
            "created": exact(d["created_at"]),
            "channel": d["channel"] or f"#{d['channel_id']}",
            "event": d["event"],
            "status": d["status"],
            "attempts": d["attempts"],
            "code": "" if d["last_code"] is None else str(d["last_code"]),
            "answer": (d["last_answer"] or "")[:200],
            "sent": exact(d["sent_at"]),
        }
        for d in deliveries
    ]


def export_href(
    state: str | None, rule_id, span: str | None, fmt: str, now: float | None = None
) -> str:
    """The download of the history entries the filters select: the rule, the time range
    and, for "firing" or "resolved", those events (the export is of transitions and
    actions, so a severity is not one of its filters)."""
    now = time.time() if now is None else now
    params: list[tuple[str, str]] = [("event", e) for e in EXPORT_EVENTS.get(state or "", ())]
    if chosen(rule_id):
        params.append(("rule_id", str(rule_id)))
    if span in HISTORY_RANGES:
        # No end: the download runs to the moment it is made, not to when the link was set.
        params.append(("from", str(int(now - HISTORY_RANGES[span]))))
    return f"{EXPORT}?{urlencode([*params, ('format', fmt)])}"


def badge(open_alerts: list[dict]) -> tuple[str, str]:
    """The navbar badge: how many alerts are open, red while one fires critical, orange
    while one fires, grey otherwise."""
    firing = [a for a in open_alerts if a["state"] in ("firing", "recovering")]
    if any(a["severity"] == "critical" for a in firing):
        colour = "danger"
    else:
        colour = "warning" if firing else "secondary"
    return str(len(open_alerts)), colour


def disabled_actions(alert: Mapping) -> list[bool]:
    """Which of Acknowledge, Unacknowledge, Comment, Close and Silence 1 h do not fit the
    alert: acknowledging and silencing an open one, unacknowledging an acknowledged one,
    closing a resolved one not closed yet; commenting always."""
    is_open = alert["state"] in OPEN_STATES
    resolved = alert["state"] == "normal" and alert["resolved_at"] is not None
    closable = resolved and not alert.get("closed")
    return [not is_open, alert["acknowledged"] is None, False, not closable, not is_open]


def chosen(value: str | None) -> str | None:
    """A filter's value, None for "any"."""
    return None if value in (None, "", ANY) else value


def span_range(span: str | None, now: float) -> tuple[float | None, float | None]:
    """The history's time range for a ``HISTORY_RANGES`` key (open for any other)."""
    if span not in HISTORY_RANGES:
        return None, None
    return now - HISTORY_RANGES[span], now


def error_text(exc: Exception) -> str:
    """A service error as one line, naming the fields at fault."""
    fields = getattr(exc, "fields", None)
    if fields:
        return "; ".join(f"{k}: {v}" for k, v in fields.items())
    return getattr(exc, "message", str(exc))


# -- rules ------------------------------------------------------------------------------


def rule_rows(rules: Iterable[dict], alerts: Iterable[dict]) -> list[dict]:
    """The rules grid (the service's rule bodies) with a summary of each rule's open alerts
    by state."""
    states: dict[int, Counter] = {}
    for alert in alerts:
        states.setdefault(alert["rule_id"], Counter())[alert["state"]] += 1
    rows = []
    for rule in rules:
        target = rule.get("metric") if rule["kind"] == "metric" else rule.get("query")
        count = states.get(rule["id"], Counter())
        rows.append(
            {
                "id": rule["id"],
                "name": rule["name"],
                "kind": rule["kind"],
                "target": target or "",
                "condition": _condition(rule),
                "enabled": "yes" if rule["enabled"] else "no",
                "state": ", ".join(f"{n} {s}" for s, n in sorted(count.items())) or "normal",
                "evaluated": exact(rule.get("evaluated_at")),
            }
        )
    return rows


def rule_options(rules: Iterable[Mapping]) -> list[dict]:
    """The history filter's rule choices."""
    return [{"label": "any rule", "value": ANY}] + [
        {"label": r["name"], "value": str(r["id"])} for r in rules
    ]


def channel_options(channels: Iterable[Mapping]) -> list[dict]:
    """The editor's channel choices."""
    return [{"label": f"{c['name']} ({c['kind']})", "value": c["id"]} for c in channels]


def saved_text(rule: Mapping) -> str:
    """What saving a rule did, with the warnings it was accepted with."""
    text = f"Saved rule {rule['name']}."
    if rule.get("warnings"):
        text += " " + " ".join(rule["warnings"])
    return text


def _condition(spec: Mapping) -> str:
    how = spec.get("reduce") or spec.get("aggregate") or ""
    levels = [
        f"{level} {spec['op']} {spec[level]:g}"
        for level in ("warning", "critical")
        if spec.get(level) is not None
    ]
    return f"{how}({spec.get('window')}s) " + ", ".join(levels)


def form_values(body: Mapping) -> dict:
    """The editor's input values for a rule body (``to_body``'s shape or ``NEW_RULE``)."""
    values: dict = {}
    for field in FORM_FIELDS:
        if field in ANNOTATIONS:
            value = (body.get("annotations") or {}).get(field, "")
        else:
            value = body.get(field)
        if field in ("matchers", "labels"):
            value = labels_text(value)
        elif field == "group_by":
            value = ", ".join(value or [])
        elif field == "channels":
            value = list(value or [])
        elif field == "enabled":
            value = bool(value)
        values[field] = "" if value is None else value
    return values


def parse_pairs(text: str | None, field: str) -> dict[str, str]:
    """``k=v, k=v`` into a dict; FieldError naming ``field`` when a pair has no ``=``."""
    pairs = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise FieldError(
                field, f"write label=value pairs separated by commas ({part.strip()!r})"
            )
        pairs[key.strip()] = value.strip()
    return pairs


def _number(text, field: str, integer: bool) -> float | int | None:
    if text is None or str(text).strip() == "":
        return None
    try:
        number = float(str(text).strip())
    except ValueError:
        raise FieldError(field, "must be a number") from None
    if integer:
        if not number.is_integer():
            raise FieldError(field, "must be a whole number of seconds")
        return int(number)
    return number


def form_body(values: Mapping) -> dict:
    """The rule body the editor's inputs describe (fields of the other kind left out).

    Raises ``Invalid`` naming every field whose text is not what it should be.
    """
    body: dict = {}
    problems: dict[str, str] = {}
    kind = values.get("kind") or "metric"
    skipped = OTHER_KINDS_FIELDS.get(kind, METRIC_FIELDS)
    annotations = {}
    for field in FORM_FIELDS:
        if field in skipped:
            continue
        raw = values.get(field)
        try:
            if field in ANNOTATIONS:
                if (raw or "").strip():
                    annotations[field] = raw.strip()
                continue
            if field in ("matchers", "labels"):
                body[field] = parse_pairs(raw, field)
            elif field == "group_by":
                body[field] = [g.strip() for g in (raw or "").split(",") if g.strip()]
            elif field in NUMBER_FIELDS:
                body[field] = _number(raw, field, integer=False)
            elif field in SECONDS_FIELDS:
                number = _number(raw, field, integer=True)
                if number is not None:
                    body[field] = number
            elif field == "channels":
                body[field] = [int(c) for c in raw or []]
            elif field == "enabled":
                body[field] = bool(raw)
            else:
                body[field] = (raw or "").strip() or None if field != "name" else (raw or "")
        except FieldError as exc:
            problems[field] = exc.message
    body["annotations"] = annotations
    if problems:
        raise RuleError(problems)
    return body


def field_errors(exc: Exception) -> dict[str, str]:
    """Per-field messages from a rule body's validation error (pydantic's, a ``RuleError``
    or a service error carrying ``fields``)."""
    if isinstance(exc, ValidationError):
        errors = {}
        for error in exc.errors():
            location = [str(part) for part in error["loc"]]
            field = "for" if location and location[0] == "for_" else (location or ["name"])[0]
            if field == "annotations" and len(location) > 1:
                field = location[1]
            errors.setdefault(field, error["msg"])
        return errors
    fields = getattr(exc, "fields", None)
    if fields:
        return dict(fields)
    return {"name": str(exc)}


# -- preview ----------------------------------------------------------------------------


def _time_label(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def preview_figure(preview: Mapping, start: float, end: float) -> dict:
    """A Plotly figure of a preview: each series, the warning and critical threshold lines,
    and a marker where the rule would have started firing or changed severity."""
    data: list[dict] = []
    for series in preview.get("series", []):
        points = series.get("points", [])
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": labels_text(series.get("labels")) or "value",
                "x": [_time_label(ts) for ts, _ in points],
                "y": [value for _, value in points],
                "line": {"width": 1.5},
            }
        )
    shapes, annotations = [], []
    for level, threshold in (preview.get("thresholds") or {}).items():
        if threshold is None or level not in SEVERITY_COLOURS:
            continue
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": threshold,
                "y1": threshold,
                "line": {"color": SEVERITY_COLOURS[level], "dash": "dash", "width": 1.5},
            }
        )
        annotations.append(
            {
                "xref": "paper",
                "x": 1,
                "xanchor": "right",
                "y": threshold,
                "yanchor": "bottom",
                "text": f"{level} {threshold:g}",
                "showarrow": False,
                "font": {"color": SEVERITY_COLOURS[level], "size": 11},
            }
        )
    fired = [t for t in preview.get("transitions", []) if t.get("to") == "firing"]
    for level in SEVERITIES:
        marks = [t for t in fired if t.get("severity") == level]
        if marks:
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": f"fires {level}",
                    "x": [_time_label(t["ts"]) for t in marks],
                    "y": [t.get("value") for t in marks],
                    "text": [t.get("reason", "") for t in marks],
                    "marker": {"color": SEVERITY_COLOURS[level], "size": 10, "symbol": "x"},
                }
            )
    return {
        "data": data,
        "layout": {
            "margin": {"l": 40, "r": 10, "t": 10, "b": 30},
            "xaxis": {"range": [_time_label(start), _time_label(end)], "type": "date"},
            "shapes": shapes,
            "annotations": annotations,
            "showlegend": True,
            "legend": {"orientation": "h", "y": -0.2},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "hovermode": "closest",
        },
    }


def preview(rt: Runtime, body: dict, now: float) -> tuple[dict, str]:
    """The preview of the rule ``body`` over the last 24 h: its figure and summary (raises
    ``ValidationError`` or ``Invalid`` naming the fields at fault). A rule not named yet
    previews all the same."""
    named = RuleBody.model_validate({**body, "name": body.get("name") or PREVIEW_NAME})
    start = now - PREVIEW_SPAN
    result = alerts.preview_rule(rt, named, start, now, now)
    return preview_figure(result, start, now), preview_summary(result)


def preview_summary(preview: Mapping) -> str:
    """How many series the preview read and how often the rule would have fired."""
    series = len(preview.get("series", []))
    fired = sum(
        1
        for t in preview.get("transitions", [])
        if t.get("to") == "firing" and t.get("from") != "firing"
    )
    if not series:
        return "No data for this rule in the last 24 h."
    times = "once" if fired == 1 else f"{fired} times"
    return f"{series} series; it would have fired {times} in the last 24 h."


# -- channels and silences --------------------------------------------------------------


CHANNEL_BOOKKEEPING = ("id", "name", "kind", "enabled", "created_by", "created_at", "updated_at")


def channel_rows(channels: Iterable[Mapping]) -> list[dict]:
    """The channels grid from the service's channels (secrets already masked there)."""
    rows = []
    for c in channels:
        config = {
            k: v for k, v in c.items() if k not in CHANNEL_BOOKKEEPING and v not in (None, "")
        }
        rows.append(
            {
                "id": c["id"],
                "name": c["name"],
                "kind": c["kind"],
                "enabled": "yes" if c.get("enabled", True) else "no",
                "config": "; ".join(
                    f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                    for k, v in sorted(config.items())
                ),
            }
        )
    return rows


def channel_body(name, kind, url, secret, to, enabled, keep_url: bool = False) -> dict:
    """The channel body the form describes; a blank secret is left out (kept as saved), and
    so is a blank URL when ``keep_url`` (editing a saved channel)."""
    body: dict = {"name": (name or "").strip(), "kind": kind or "webhook", "enabled": bool(enabled)}
    if kind == "email":
        body["to"] = [a.strip() for a in (to or "").split(",") if a.strip()]
    elif (url or "").strip() or not keep_url:
        body["url"] = (url or "").strip()
    if secret:
        body["secret"] = secret
    return body


def silence_rows(silences: Iterable[dict]) -> list[dict]:
    """The silences grid (the service's silences): active and pending ones first, then
    expired."""
    rows = [
        {
            "id": s["id"],
            "status": s["state"],
            "matchers": labels_text(s["matchers"]),
            "starts": exact(s["starts_at"]),
            "ends": exact(s["ends_at"]),
            "weekly": _weekly_text(s["weekly"]),
            "author": s["author"] or "",
            "comment": s["comment"],
        }
        for s in silences
    ]
    return sorted(rows, key=lambda r: r["status"] == "expired")


def _weekly_text(weekly: dict | None) -> str:
    if not weekly:
        return ""
    days = " ".join(WEEKDAYS[d] for d in weekly.get("days", []))
    return f"{days} {weekly.get('start', '00:00')} to {weekly.get('end', '00:00')} UTC"


def silence_body(
    matchers: str | None,
    starts: str | None,
    ends: str | None,
    comment: str | None,
    days: list[int] | None,
    start_clock: str | None,
    end_clock: str | None,
    now: float,
) -> dict:
    """The silence body the form describes (starts now when no start is given)."""
    body: dict = {
        "matchers": parse_pairs(matchers, "matchers"),
        "starts_at": parse_time(starts, "starts_at") or now,
        "ends_at": parse_time(ends, "ends_at"),
        "comment": (comment or "").strip(),
    }
    if not body["matchers"]:
        raise FieldError("matchers", "give at least one label=value (alertname is the rule)")
    if body["ends_at"] is None:
        raise FieldError("ends_at", "give the end of the silence")
    if days:
        body["weekly"] = {
            "days": sorted(int(d) for d in days),
            "start": start_clock or "00:00",
            "end": end_clock or "00:00",
        }
    return body
