"""Dependency checks for the API and the Diagnostics page: create, replace and delete them
(audited), list them with their latest result, uptime over 24 h, 7 d and 30 d and
certificate expiry, and the dependency status of the diagnostics summary (the checks plus
the health of the database, Redis and the scheduler).

A DNS check resolves ``host``; when ``host`` is left out it resolves the check's ``name``,
so ``{"name": "db.internal", "kind": "dns"}`` works as DIAGNOSTICS.md writes it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from app.alerting.rules import whole_number
from app.runtime import Runtime
from app.services import Conflict, Invalid, NotFound
from app.services.accounts import Actor
from app.services.downloads import Download, Table, file_name, table_download, utc_iso
from app.services.health import database_health, redis_health, scheduler_health, scheduler_state
from app.services.timerange import check_range
from collectors.checks import split_url, valid_host
from storage.diagnostics.checks import CheckRecord, CheckStore, DuplicateName
from storage.metrics import SeriesData

KINDS = ("http", "tcp", "dns")
MIN_INTERVAL = 5
MAX_INTERVAL = 86400
MAX_TIMEOUT = 60
UPTIME_SPANS = {"24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
"""The uptime columns: key -> seconds back from now."""
KIND_FIELDS = {
    "http": ("url", "expect_status", "keyword", "verify_tls"),
    "tcp": ("host", "port"),
    "dns": ("host",),
}
"""The body fields of each kind (the others must be left out)."""
ALL_KIND_FIELDS = frozenset(f for names in KIND_FIELDS.values() for f in names)
HISTORY_METRICS = ("probe_duration_seconds", "probe_success")
EXPORT_COLUMNS = (
    "id",
    "name",
    "kind",
    "target",
    "enabled",
    "up",
    "latency_ms",
    "uptime_24h",
    "uptime_7d",
    "uptime_30d",
    "cert_expiry",
    "cert_expires_in_days",
    "last_run_at",
    "detail",
    "interval",
    "timeout",
)

Name = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*[^\x00\s][^\x00]*$")
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^[^\x00]+$")]
Host = Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=r"^[^\x00]+$")]


class CheckBody(BaseModel):
    """Body of POST /api/v1/admin/checks and PUT /api/v1/admin/checks/{id}: a check's
    name and kind and the kind's own fields (the other kinds' must be left out)."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="The check's name, its metrics' label check=<name>")
    kind: Literal["http", "tcp", "dns"]
    enabled: bool = True
    url: Url | None = Field(None, description="http: the URL to GET (http:// or https://)")
    expect_status: whole_number(100, 599) | None = Field(
        None, description="http: the status that counts as up (default 200)"
    )
    keyword: Text | None = Field(None, description="http: text the body must hold")
    verify_tls: bool | None = Field(
        None, description="http: verify the server's certificate (default true)"
    )
    host: Host | None = Field(
        None, description="tcp: the host to connect to; dns: the name to resolve (default name)"
    )
    port: whole_number(1, 65535) | None = Field(None, description="tcp: the port")
    interval: whole_number(MIN_INTERVAL, MAX_INTERVAL) = Field(
        30, description="Seconds between probes"
    )
    timeout: Annotated[float, Field(gt=0, le=MAX_TIMEOUT, allow_inf_nan=False)] = Field(
        5, description="Seconds a probe may take (at most interval)"
    )


def body_of(values: dict) -> CheckBody:
    """A check body from loose values (the page's form); Invalid naming each bad field."""
    try:
        return CheckBody.model_validate(values)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for error in exc.errors():
            fields.setdefault(str(error["loc"][0]) if error["loc"] else "body", error["msg"])
        raise Invalid(f"Invalid parameter: {', '.join(fields)}", fields) from None


def _spec(body: CheckBody) -> dict:
    """The stored spec of ``body``'s kind; Invalid naming every field that is wrong."""
    problems: dict[str, str] = {}
    own = KIND_FIELDS[body.kind]
    article = "an" if body.kind == "http" else "a"
    for name in body.model_fields_set - {"name", "kind", "enabled", "interval", "timeout"}:
        if name not in own:
            problems[name] = f"not part of {article} {body.kind} check"
    if body.kind == "http":
        if body.url is None:
            problems["url"] = "required for an http check"
        else:
            try:
                split_url(body.url)
            except ValueError as exc:
                problems["url"] = str(exc)
        spec = {
            "url": body.url,
            "expect_status": body.expect_status or 200,
            "keyword": body.keyword,
            "verify_tls": True if body.verify_tls is None else body.verify_tls,
        }
    elif body.kind == "tcp":
        if body.host is None:
            problems["host"] = "required for a tcp check"
        elif not valid_host(body.host):
            problems["host"] = "not a host name or IP address"
        if body.port is None:
            problems["port"] = "required for a tcp check"
        spec = {"host": body.host, "port": body.port}
    else:
        field, host = ("host", body.host) if body.host is not None else ("name", body.name)
        if not valid_host(host):
            problems[field] = "not a host name to resolve (give the name in host)"
        spec = {"host": host}
    if body.timeout > body.interval:
        problems["timeout"] = "must not be longer than interval"
    if problems:
        raise Invalid(f"Invalid parameter: {', '.join(sorted(problems))}", problems)
    return spec


def target_of(record: CheckRecord) -> str:
    """What a check probes, as one line: its URL, ``host:port`` or the name it resolves."""
    spec = record.spec
    if record.kind == "http":
        return spec["url"]
    if record.kind == "tcp":
        host = f"[{spec['host']}]" if ":" in spec["host"] else spec["host"]
        return f"{host}:{spec['port']}"
    return spec["host"]


def check_dict(record: CheckRecord, uptime: dict[str, float | None], now: float) -> dict:
    """A check as the API and the page show it."""
    expiry = record.last_cert_expiry
    return {
        "id": record.id,
        "name": record.name,
        "kind": record.kind,
        "enabled": record.enabled,
        **record.spec,
        "interval": record.interval_s,
        "timeout": record.timeout_s,
        "target": target_of(record),
        "up": record.last_up,
        "latency_ms": record.last_latency_ms,
        "detail": record.last_detail,
        "last_run_at": utc_iso(record.last_run_at) if record.last_run_at else None,
        "cert_expiry": utc_iso(expiry) if expiry is not None else None,
        "cert_expires_in_days": round((expiry - now) / 86400, 1) if expiry is not None else None,
        "uptime": {key: uptime.get(key) for key in UPTIME_SPANS},
        "created_by": record.created_by,
        "created_at": utc_iso(record.created_at) if record.created_at else None,
        "updated_at": utc_iso(record.updated_at) if record.updated_at else None,
    }


def uptimes(rt: Runtime, now: float) -> dict[str, dict[str, float | None]]:
    """Each check's share of successful probes (percent) over every span of
    UPTIME_SPANS, from the average of ``probe_success`` (the rollups answer long spans)."""
    shares: dict[str, dict[str, list[float]]] = {}
    for key, span in UPTIME_SPANS.items():
        for series in rt.metrics.query(["probe_success"], now - span, now, max_points=1):
            name = series.labels.get("check")
            if name is not None and series.points:
                # One bucket; more than one series of a check only if the leader's host moved.
                avg = statistics.fmean(p[1] for p in series.points)
                shares.setdefault(name, {}).setdefault(key, []).append(avg)
    return {
        name: {key: round(100 * statistics.fmean(v), 2) for key, v in spans.items()}
        for name, spans in shares.items()
    }


def _store(rt: Runtime) -> CheckStore:
    return CheckStore(rt.engine)


def _record(rt: Runtime, check_id: int) -> CheckRecord:
    record = _store(rt).get(check_id)
    if record is None:
        raise NotFound(f"no check {check_id}")
    return record


def list_checks(rt: Runtime, now: float) -> list[dict]:
    """Every check by name, with its latest result and uptime."""
    shares = uptimes(rt, now)
    return [check_dict(r, shares.get(r.name, {}), now) for r in _store(rt).list()]


def get_check(rt: Runtime, check_id: int, now: float) -> dict:
    """One check (NotFound when there is none)."""
    record = _record(rt, check_id)
    return check_dict(record, uptimes(rt, now).get(record.name, {}), now)


def _audit(rt: Runtime, actor: Actor, action: str, check_id: int, **details) -> None:
    rt.accounts.audit(
        action,
        actor=actor.account.name,
        target=f"check:{check_id}",
        remote_addr=actor.remote_addr,
        details=details,
    )


def _definition(body: CheckBody, created_by: str | None) -> CheckRecord:
    return CheckRecord(
        name=body.name,
        kind=body.kind,
        spec=_spec(body),
        interval_s=body.interval,
        timeout_s=float(body.timeout),
        enabled=body.enabled,
        created_by=created_by,
    )


def _duplicate(name: str) -> Conflict:
    return Conflict(f"a check named {name!r} exists already", {"name": "taken by another check"})


def create_check(rt: Runtime, actor: Actor, body: CheckBody, now: float) -> dict:
    """Store a new check (Invalid naming each bad field, Conflict on a taken name); it
    runs at the leader's next tick."""
    record = _definition(body, actor.account.name)
    try:
        saved = _store(rt).create(record, now)
    except DuplicateName:
        raise _duplicate(body.name) from None
    shown = check_dict(saved, {}, now)
    _audit(rt, actor, "check.create", saved.id, after=shown)
    return shown


def replace_check(rt: Runtime, actor: Actor, check_id: int, body: CheckBody, now: float) -> dict:
    """Replace a check's definition; as ``create_check``, and NotFound."""
    before = _record(rt, check_id)
    try:
        saved = _store(rt).replace(check_id, _definition(body, before.created_by), now)
    except DuplicateName:
        raise _duplicate(body.name) from None
    if saved is None:
        raise NotFound(f"no check {check_id}")
    shown = check_dict(saved, uptimes(rt, now).get(saved.name, {}), now)
    _audit(rt, actor, "check.replace", check_id, before=check_dict(before, {}, now), after=shown)
    return shown


def delete_check(rt: Runtime, actor: Actor, check_id: int, now: float) -> None:
    """Delete a check (its metrics stay until retention removes them)."""
    before = _record(rt, check_id)
    if not _store(rt).delete(check_id):
        raise NotFound(f"no check {check_id}")
    _audit(rt, actor, "check.delete", check_id, before=check_dict(before, {}, now))


def history(
    rt: Runtime, name: str, start: float, end: float, max_points: int = 300
) -> list[SeriesData]:
    """``probe_duration_seconds`` and ``probe_success`` of the check ``name`` over a range."""
    check_range(start, end)
    found = rt.metrics.query(HISTORY_METRICS, start, end, max_points=max_points)
    return [s for s in found if s.labels.get("check") == name]


def dependencies(rt: Runtime) -> list[dict]:
    """The dependency status of the diagnostics summary: ``{name, kind, up, latency_ms,
    detail}`` of every check (``up`` None until it first ran), then of the database (kind
    ``postgres`` or ``sqlite``), Redis and the scheduler."""
    checks = [
        {
            "name": r.name,
            "kind": r.kind,
            "up": r.last_up if r.enabled else None,
            "latency_ms": r.last_latency_ms,
            "detail": r.last_detail if r.enabled else "disabled",
        }
        for r in _store(rt).list()
    ]
    return checks + platform(rt)


def platform(rt: Runtime) -> list[dict]:
    """The health of the database, Redis and the scheduler, shaped as dependencies."""
    database = database_health(rt)
    kind = "postgres" if database["info"]["dialect"] == "postgresql" else "sqlite"
    return [
        _component("database", kind, database, database["info"].get("latency_ms")),
        _component("redis", "redis", redis_health(rt), None),
        _component("scheduler", "scheduler", scheduler_health(rt, scheduler_state(rt)), None),
    ]


def _component(name: str, kind: str, health: dict, latency_ms: float | None) -> dict:
    detail = health["detail"] or health["info"].get("role") or health["info"].get("backend")
    return {
        "name": name,
        "kind": kind,
        "up": health["status"] == "ok",
        "latency_ms": latency_ms,
        "detail": detail or "ok",
    }


def _status(check: dict) -> str:
    if not check["enabled"]:
        return "disabled"
    return {True: "up", False: "down", None: "pending"}[check["up"]]


def grid_rows(checks: Iterable[dict]) -> list[dict]:
    """The page's grid rows: each check's definition (for the editor) and what it shows."""
    return [
        {
            **{k: v for k, v in c.items() if k != "uptime"},
            "status": _status(c),
            "uptime_24h": c["uptime"]["24h"],
            "uptime_7d": c["uptime"]["7d"],
            "uptime_30d": c["uptime"]["30d"],
            "cert_days": c["cert_expires_in_days"],
        }
        for c in checks
    ]


def form_body(values: dict) -> CheckBody:
    """A check body from the editor's fields: blanks and the other kinds' fields left out
    (Invalid naming each bad field)."""
    own = KIND_FIELDS.get(values.get("kind") or "", ())
    kept = {
        k: v
        for k, v in values.items()
        if v not in (None, "") and (k in own or k not in ALL_KIND_FIELDS)
    }
    return body_of(kept)


def export_rows(checks: Iterable[dict]) -> Iterable[dict]:
    """The rows of the checks download, one a check."""
    for c in checks:
        yield {
            **{k: c[k] for k in EXPORT_COLUMNS if k in c},
            **{f"uptime_{key}": c["uptime"][key] for key in UPTIME_SPANS},
        }


def checks_export(
    rt: Runtime, fmt: str, *, actor: str, remote_addr: str | None, now: float
) -> Download:
    """Every check as the page's grid shows it, as CSV or JSON; audited."""
    filename = file_name("checks", now, now, fmt)
    table = Table(fmt, EXPORT_COLUMNS, export_rows(list_checks(rt, now)))
    details = {"format": fmt, "file": filename}
    return table_download(
        rt,
        "diagnostics.checks.export",
        filename,
        table,
        actor=actor,
        remote_addr=remote_addr,
        details=details,
    )
