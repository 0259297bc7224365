"""Text of notifications: user templates (Jinja2 in a sandbox) and the default title and
body every channel starts from.

A rule's annotations are templates rendered with ``labels``, ``value``, ``severity``,
``rule``, ``started_at``, ``url`` and, for log rules, ``lines``. A template that fails
(a typo, a missing label, a blocked attribute) renders as its own text plus a note, so a
notification always goes out; ``check`` reports syntax errors when a rule is saved.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from app.alerting.notification import AlertView, Notification

CONTEXT_KEYS = ("labels", "value", "severity", "rule", "started_at", "url", "lines")
"""The names a rule's templates are rendered with."""
MAX_ALERTS = 10
"""Alerts spelled out in one message; the rest are counted."""
MAX_LINES = 10
MAX_LINE_CHARS = 300
HIDDEN_LABELS = ("alertname", "severity")
"""Labels a message shows in its heading rather than among the facts."""

# Full-width brackets and single angle quotes: they read the same and parse as nothing.
_INERT = str.maketrans(
    {"[": "\uff3b", "]": "\uff3d", "(": "\uff08", ")": "\uff09", "<": "\u2039", ">": "\u203a"}
)
_ENV = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


@functools.lru_cache(maxsize=512)
def _compile(template: str) -> Template:
    return _ENV.from_string(template)


def render(template: str, **context: Any) -> str:
    """``template`` rendered with ``context``; on any failure its raw text plus a note."""
    try:
        return _compile(template).render(**context)
    # A template is user input: whatever it raises (undefined names, sandbox refusals,
    # a filter given the wrong type) must not stop the notification.
    except Exception as exc:
        return f"{template} [template error: {exc}]"


def check(template: str) -> str | None:
    """What is wrong with ``template`` (a syntax error with its line, or a name no
    notification provides), or None when it is fine."""
    try:
        tree = _ENV.parse(template)
    except TemplateSyntaxError as exc:
        return f"line {exc.lineno}: {exc.message}"
    unknown = sorted(meta.find_undeclared_variables(tree) - set(CONTEXT_KEYS))
    if unknown:
        return f"unknown name {unknown[0]!r}; templates know {', '.join(CONTEXT_KEYS)}"
    return None


@dataclass(frozen=True, slots=True)
class Link:
    """A link a message offers (runbook, source, acknowledge)."""

    text: str
    url: str


@dataclass(frozen=True, slots=True)
class AlertText:
    """One alert of a message, as plain strings each channel escapes for its markup."""

    heading: str
    summary: str
    description: str
    facts: tuple[tuple[str, str], ...]
    links: tuple[Link, ...]
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Message:
    """The default content of a notification: a title, its alerts and closing notes."""

    title: str
    alerts: tuple[AlertText, ...]
    notes: tuple[str, ...]


def title(notification: Notification) -> str:
    """Alertmanager's default title: ``[FIRING:2] Disk almost full (web-1 /)``, marked
    ``[TEST]`` for a test notification."""
    firing = sum(a.status == "firing" for a in notification.alerts)
    status = f"[FIRING:{firing}]" if notification.status == "firing" else "[RESOLVED]"
    names = list(dict.fromkeys(a.rule_name for a in notification.alerts)) or [notification.receiver]
    name = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
    grouped = [v for k, v in notification.group_labels.items() if k != "alertname"]
    text = _one_line(f"{status} {name}" + (f" ({' '.join(grouped)})" if grouped else ""))
    return f"[TEST] {text}" if notification.test else text


def message(notification: Notification) -> Message:
    """The default content of ``notification``: at most MAX_ALERTS alerts, firing first."""
    alerts = sorted(notification.alerts, key=lambda a: (a.status != "firing", a.starts_at))
    notes = []
    if len(alerts) > MAX_ALERTS:
        notes.append(f"+{len(alerts) - MAX_ALERTS} more alerts in this group")
    if notification.digest > 0:
        notes.append(f"+{notification.digest} more notifications merged (rate limit)")
    if notification.test:
        notes.append("This is a test notification sent from Pulseboard.")
    return Message(
        title=title(notification),
        alerts=tuple(_alert_text(a) for a in alerts[:MAX_ALERTS]),
        notes=tuple(notes),
    )


def plain_text(msg: Message) -> str:
    """``msg`` as plain text (mail's text part, Apprise's body, fallbacks)."""
    out = [msg.title, ""]
    for alert in msg.alerts:
        out.append(alert.heading)
        out += [t for t in (alert.summary, alert.description) if t]
        out += [f"  {k}: {v}" for k, v in alert.facts]
        out += [f"  {link.text}: {link.url}" for link in alert.links]
        if alert.lines:
            out += ["  Matching lines:", *(f"    {line}" for line in alert.lines)]
        out.append("")
    out += msg.notes
    return "\n".join(out).strip() + "\n"


def markdown(msg: Message, escape: Callable[[str], str]) -> str:
    """The body of ``msg`` (its title left to the caller) as chat markdown (DingTalk,
    Feishu, WeCom), every value through ``escape``."""
    out = []
    for alert in msg.alerts:
        out.append(f"**{escape(alert.heading)}**")
        out += [escape(t) for t in (alert.summary, alert.description) if t]
        out += [f"- {escape(k)}: {escape(v)}" for k, v in alert.facts]
        if alert.links:
            out.append(
                " · ".join(
                    f"[{escape(link.text)}]({_markdown_url(link.url)})" for link in alert.links
                )
            )
        if alert.lines:
            out += ["```", *(escape(line).replace("`", "'") for line in alert.lines), "```"]
        out.append("")
    out += [escape(note) for note in msg.notes]
    return "\n".join(out).strip()


def escape_markdown(text: str) -> str:
    """``text`` inert in chat markdown: brackets and parentheses (links) and angle brackets
    (HTML, Feishu's ``<at>``) become look-alikes, and ``@`` mentions no one."""
    return text.translate(_INERT).replace("@", "@\u200b")


def timestamp(ts: float) -> str:
    """An epoch time as people read it in a message: ``2026-12-01 13:17:54 UTC``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def value_text(value: float | None) -> str:
    """A rule's value as a message shows it (six significant digits)."""
    return "no data" if value is None else f"{value:.6g}"


def http_link(url: str) -> bool:
    """Whether ``url`` may be offered as a link (data never becomes a ``javascript:``)."""
    return url.startswith(("http://", "https://"))


def _alert_text(alert: AlertView) -> AlertText:
    severity = alert.severity or alert.labels.get("severity", "")
    heading = " · ".join(p for p in (alert.rule_name, severity, alert.status) if p)
    facts = [("Value", value_text(alert.value)), ("Started", timestamp(alert.starts_at))]
    if alert.status == "resolved" and alert.ends_at:
        facts.append(("Resolved", timestamp(alert.ends_at)))
    facts += [(k, v) for k, v in sorted(alert.labels.items()) if k not in HIDDEN_LABELS]
    candidates = (
        ("Runbook", alert.annotations.get("runbook_url", "")),
        ("Source", alert.generator_url),
        ("Acknowledge", alert.ack_url if alert.status == "firing" else ""),
    )
    return AlertText(
        heading=heading,
        summary=_one_line(alert.annotations.get("summary", "")),
        description=alert.annotations.get("description", "").strip(),
        facts=tuple(facts),
        links=tuple(Link(text, url) for text, url in candidates if url and http_link(url)),
        lines=tuple(_line(line) for line in alert.lines[-MAX_LINES:]),
    )


def _line(record: dict) -> str:
    ts = record.get("ts")
    when = timestamp(ts)[:-4] if isinstance(ts, int | float) else str(ts or "")
    head = " ".join(str(p) for p in (when, record.get("level"), record.get("host")) if p)
    source = record.get("source")
    text = f"{head} {source}: " if source else f"{head} "
    text = _one_line(text + str(record.get("message", ""))).strip()
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 1] + "…"


def _markdown_url(url: str) -> str:
    # A parenthesis or space in a URL taken from data would end the link early and let
    # the rest read as markup.
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _one_line(text: str) -> str:
    return " ".join(text.split())
