"""Health of the database, Redis, the scheduler, each collector and the data disk."""

from __future__ import annotations

import shutil
import time

from sqlalchemy.exc import SQLAlchemyError

from app.runtime import Runtime
from storage.db import ping
from storage.live import SCHEDULER_CHANNEL
from storage.thresholds import THRESHOLDS

HEALTH_STATUS = {"ok": "ok", "warning": "degraded", "critical": "down"}
"""A threshold level as a health status."""


def _component(status: str, detail: str | None = None, **info) -> dict:
    return {"status": status, "detail": detail, "info": info}


def database_health(rt: Runtime) -> dict:
    """Whether the database answers, and how fast."""
    started = time.perf_counter()
    try:
        ping(rt.engine)
    except SQLAlchemyError as exc:
        return _component(
            "down",
            f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
            dialect=rt.engine.dialect.name,
        )
    return _component(
        "ok",
        None,
        dialect=rt.engine.dialect.name,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def redis_health(rt: Runtime) -> dict:
    """Whether the live bus reaches Redis (degraded means it runs in-process meanwhile)."""
    if not rt.settings.redis_url:
        return _component("ok", "not configured: live data stays in this process", backend="memory")
    status = rt.bus.status()
    if status["ok"]:
        return _component("ok", None, backend="redis")
    return _component("degraded", status["error"], backend="redis")


def scheduler_state(rt: Runtime) -> dict:
    """This process's scheduler, or the leader's as it last published it."""
    own = rt.scheduler.snapshot()
    if own["leader"]:
        return own
    leader = rt.bus.latest(SCHEDULER_CHANNEL)
    if not leader:
        return own
    return {**own, "jobs": leader["jobs"], "targets": leader.get("targets", {})}


def scheduler_health(rt: Runtime, state: dict) -> dict:
    """Whether the scheduler runs here and whether this process leads."""
    if not state["running"]:
        return _component("degraded", "the scheduler is not running in this process", leader=False)
    role = "leader" if state["leader"] else "follower"
    status = "degraded" if state["buffered_samples"] else "ok"
    detail = (
        f"{state['buffered_samples']} samples waiting for the database"
        if state["buffered_samples"]
        else None
    )
    return _component(
        status,
        detail,
        role=role,
        buffered_samples=state["buffered_samples"],
        dropped_samples=state["dropped_samples"],
    )


def collector_health(job: dict, interval: float, now: float) -> dict:
    """A collector is degraded when its last run failed or it has not run lately."""
    info = {
        k: job[k]
        for k in ("runs", "errors", "last_run", "last_duration", "last_error", "last_error_at")
    }
    if job.get("last_ok") is False:
        return _component("degraded", job["last_error"], **info)
    if job["last_run"] is None or now - job["last_run"] > 3 * interval + 5:
        return _component("degraded", "has not run recently", **info)
    return _component("ok", None, **info)


def disk_health(rt: Runtime) -> dict:
    """How full the disk holding the data dir is."""
    usage = shutil.disk_usage(rt.settings.data_dir)
    percent = round(100.0 * usage.used / usage.total, 1) if usage.total else 0.0
    status = HEALTH_STATUS[THRESHOLDS["system_disk_used_percent"].level(percent)]
    detail = None if status == "ok" else f"data disk {percent}% full"
    return _component(
        status, detail, path=str(rt.settings.data_dir), used_percent=percent, free_bytes=usage.free
    )


def check_health(rt: Runtime, now: float) -> dict:
    """Every component's health and the overall status: down only when the database is."""
    state = scheduler_state(rt)
    components = {
        "database": database_health(rt),
        "redis": redis_health(rt),
        "scheduler": scheduler_health(rt, state),
        "disk": disk_health(rt),
    }
    for name, job in state["jobs"].items():
        if name.startswith("collector:"):
            components[name] = collector_health(job, rt.settings.collect_interval, now)
    for name, error in state.get("targets", {}).items():
        components[f"target:{name}"] = (
            _component("ok") if error is None else _component("down", error)
        )
    # A monitored target being down degrades Pulseboard; only its own database downs it.
    if components["database"]["status"] == "down":
        overall = "down"
    elif any(c["status"] != "ok" for c in components.values()):
        overall = "degraded"
    else:
        overall = "ok"
    return {"status": overall, "checked_at": now, "components": components}
