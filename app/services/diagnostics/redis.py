"""Diagnostics · Redis: memory, SLOWLOG (history and the server's list), the latency
monitor, and big-keys scans run as background jobs of this process.

The watched servers are those of the Redis collector (``PULSEBOARD_REDIS_URL`` and
``PULSEBOARD_MONITOR_REDIS``); a request names one by its target name, the first by
default.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict

import redis

from app.runtime import Runtime
from app.services import Conflict, FieldError, NotFound
from app.services.accounts import Actor
from app.services.downloads import Download, Table, file_name, table_download, utc_iso
from app.services.timerange import api_range
from collectors import redis_inspect
from collectors.redis import RedisCollector
from collectors.redis_inspect import ScanLimits, ScanProgress
from storage.diagnostics.jobs import CANCELLED, DONE, FAILED, Job, JobStore
from storage.diagnostics.redis import RedisSlowlogStore, SlowEntry

log = logging.getLogger(__name__)

NOT_WATCHED = "no Redis is watched; set PULSEBOARD_REDIS_URL or PULSEBOARD_MONITOR_REDIS"
BIGKEYS = "redis_bigkeys"
"""The kind of a big-keys job."""
SLOWLOG_LIMIT = 500
"""Slow entries shown at most (newest first)."""
SLOWLOG_COLUMNS = ("target", "id", "ts", "duration_us", "command", "client", "stored")
BIGKEYS_COLUMNS = ("key", "type", "bytes", "db")
DEFAULT_LIMITS = ScanLimits()
"""How a big-keys scan goes unless the request says otherwise."""


def watched(rt: Runtime) -> dict[str, redis.Redis]:
    """Target name -> client of every watched Redis, in configuration order."""
    for collector in rt.collectors:
        if isinstance(collector, RedisCollector):
            return collector.clients
    return {}


def _client(rt: Runtime, target: str | None) -> tuple[str, redis.Redis]:
    """The named target (the first when None) and its client; FieldError on ``target``."""
    clients = watched(rt)
    if not clients:
        raise FieldError("target", NOT_WATCHED)
    name = target or next(iter(clients))
    if name not in clients:
        raise FieldError(
            "target", f"{name[:100]!r} is not a watched Redis (watched: {', '.join(clients)})"
        )
    return name, clients[name]


def overview(
    rt: Runtime,
    target: str | None = None,
    *,
    start: float | None = None,
    end: float | None = None,
    now: float | None = None,
) -> dict:
    """What the Redis section shows for ``target``: memory, the slow commands that started
    in [start, end] (stored history and the server's current list, default the last hour),
    the latency monitor and the newest big-keys job. A server that does not answer still
    gets its stored history, with ``available`` false and the reason."""
    now = time.time() if now is None else now
    start, end = api_range(start, end, now)
    clients = watched(rt)
    if not clients and target is None:
        return {"available": False, "reason": NOT_WATCHED, "target": None, "targets": []}
    name, client = _client(rt, target)
    answer: dict = {
        "available": True,
        "reason": None,
        "target": name,
        "targets": list(clients),
        "memory": None,
        "latency": None,
    }
    current: list[SlowEntry] = []
    try:
        current = redis_inspect.slowlog(client, name)
        answer["memory"] = _memory(redis_inspect.memory(client))
        answer["latency"] = _latency(redis_inspect.latency(client))
    except (redis.RedisError, OSError) as exc:
        answer["available"], answer["reason"] = False, f"{name} does not answer: {exc}"
    answer["slowlog"] = _slowlog(rt, name, current, start, end)
    job = JobStore(rt.engine).latest(BIGKEYS, name, now)
    answer["bigkeys"] = None if job is None else job_dict(job)
    return answer


def _memory(m: redis_inspect.Memory) -> dict:
    return {**asdict(m), "hit_ratio": m.hit_ratio}


def _latency(lat: redis_inspect.Latency) -> dict:
    return {
        "enabled": lat.enabled,
        "threshold_ms": lat.threshold_ms,
        "how_to_enable": lat.how_to_enable,
        "enable_command": None if lat.enabled else redis_inspect.ENABLE_LATENCY,
        "latest": [asdict(e) for e in lat.events],
        "doctor": lat.doctor,
    }


def _slowlog(
    rt: Runtime, target: str, current: list[SlowEntry], start: float, end: float
) -> list[dict]:
    """Stored and current entries in the range, each once, newest first."""
    stored = RedisSlowlogStore(rt.engine).read(target, start, end, SLOWLOG_LIMIT)
    rows = {e.entry_id: _slow_row(e, True) for e in stored}
    for entry in current:
        if start <= entry.ts <= end:
            rows.setdefault(entry.entry_id, _slow_row(entry, False))
    ordered = sorted(rows.values(), key=lambda r: (r["ts"], r["id"]), reverse=True)
    return ordered[:SLOWLOG_LIMIT]


def _slow_row(entry: SlowEntry, stored: bool) -> dict:
    return {
        "id": entry.entry_id,
        "ts": entry.ts,
        "duration_us": entry.duration_us,
        "command": entry.command,
        "client": entry.client,
        "stored": stored,
    }


# -- big-keys jobs -------------------------------------------------------------------------


def job_dict(job: Job) -> dict:
    """A job as the API shows it: ``result`` is the biggest keys found so far."""
    return {
        "id": job.id,
        "target": job.target,
        "state": job.state,
        "progress": job.progress,
        "done": job.done,
        "total": job.total,
        "result": job.result.get("keys", []),
        "error": job.error,
        "cancel_requested": job.cancel_requested,
        "created_by": job.created_by,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }


def start_bigkeys(
    rt: Runtime,
    target: str | None,
    actor: Actor,
    *,
    max_keys: int = DEFAULT_LIMITS.max_keys,
    top: int = DEFAULT_LIMITS.top,
    now: float | None = None,
) -> dict:
    """Start a big-keys scan of ``target`` in a thread of this process; the new job.
    Conflict while another scan of the same target runs. Audited."""
    now = time.time() if now is None else now
    name, client = _client(rt, target)
    jobs = JobStore(rt.engine)
    running = jobs.latest(BIGKEYS, name, now)
    if running is not None and not running.finished:
        raise Conflict(
            f"a big-keys scan of {name} is running already (job {running.id})",
            {"target": "a scan of this target is running"},
        )
    job = jobs.create(BIGKEYS, name, actor.account.name, now)
    rt.accounts.audit(
        "diagnostics.redis.bigkeys",
        actor=actor.account.name,
        target=name,
        remote_addr=actor.remote_addr,
        details={"job": job.id, "max_keys": max_keys, "top": top},
    )
    limits = ScanLimits(max_keys=max_keys, top=top)
    threading.Thread(
        target=run_bigkeys,
        args=(jobs, client, job.id, limits),
        name=f"bigkeys-{job.id}",
        daemon=True,
    ).start()
    return job_dict(job)


def _scan_result(progress: ScanProgress) -> dict:
    return {"keys": [asdict(k) for k in progress.top]}


def run_bigkeys(jobs: JobStore, client: redis.Redis, job_id: str, limits: ScanLimits) -> None:
    """Run a big-keys scan, writing its progress to the job after every page, until it
    ends, fails or is asked to stop (then it keeps what it found)."""
    progress = ScanProgress()
    try:
        for progress in redis_inspect.scan_big_keys(client, limits):
            cancel = jobs.update_progress(
                job_id,
                done=progress.done,
                total=progress.total,
                progress=progress.fraction,
                result=_scan_result(progress),
                now=time.time(),
            )
            if cancel and not progress.finished:
                jobs.finish(job_id, CANCELLED, time.time(), result=_scan_result(progress))
                return
        jobs.finish(job_id, DONE, time.time(), result=_scan_result(progress))
    except (redis.RedisError, OSError) as exc:
        jobs.finish(job_id, FAILED, time.time(), result=_scan_result(progress), error=str(exc))
    except Exception:
        # A thread has no caller to raise to: say so in the log and on the job.
        log.exception("big-keys job %s failed", job_id)
        jobs.finish(job_id, FAILED, time.time(), error="internal error (see Pulseboard's log)")


def get_job(rt: Runtime, job_id: str, now: float | None = None) -> dict:
    """A big-keys job as it stands; NotFound when there is none."""
    return job_dict(_job(JobStore(rt.engine), job_id, time.time() if now is None else now))


def _job(jobs: JobStore, job_id: str, now: float) -> Job:
    job = jobs.get(job_id, now)
    if job is None or job.kind != BIGKEYS:
        raise NotFound(f"no big-keys job {job_id}")
    return job


def cancel_job(rt: Runtime, job_id: str, actor: Actor, now: float | None = None) -> dict:
    """Ask a running big-keys job to stop; it keeps the keys found so far. Conflict when it
    has ended already. Audited."""
    now = time.time() if now is None else now
    jobs = JobStore(rt.engine)
    job = _job(jobs, job_id, now)
    if job.finished:
        raise Conflict(f"job {job_id} is {job.state} already")
    rt.accounts.audit(
        "diagnostics.redis.bigkeys.cancel",
        actor=actor.account.name,
        target=job.target,
        remote_addr=actor.remote_addr,
        details={"job": job_id, "done": job.done, "total": job.total},
    )
    return job_dict(jobs.request_cancel(job_id, now) or job)


# -- downloads -----------------------------------------------------------------------------


def export(
    rt: Runtime,
    table: str,
    *,
    target: str | None,
    start: float | None,
    end: float | None,
    job_id: str | None,
    fmt: str,
    actor: str,
    remote_addr: str | None,
    now: float,
) -> Download:
    """The slow commands of the range (as the section shows them) or the keys a big-keys
    job found, as CSV or JSON; audited. FieldError names a bad parameter."""
    if table == "bigkeys":
        if job_id is None:
            raise FieldError("job", "required for table=bigkeys")
        job = _job(JobStore(rt.engine), job_id, now)
        rows = job_dict(job)["result"]
        filename = file_name(f"redis-bigkeys-{job.target}", job.created_at, job.updated_at, fmt)
        details = {"table": table, "job": job_id, "target": job.target, "format": fmt}
        columns = BIGKEYS_COLUMNS
    else:
        lo, hi = api_range(start, end, now)
        view = overview(rt, target, start=lo, end=hi, now=now)
        name = view["target"]
        if name is None:
            raise FieldError("target", NOT_WATCHED)
        rows = [{**r, "target": name, "ts": utc_iso(r["ts"])} for r in view["slowlog"]]
        filename = file_name(f"redis-slowlog-{name}", lo, hi, fmt)
        details = {"table": table, "target": name, "format": fmt, "file": filename}
        columns = SLOWLOG_COLUMNS
    return table_download(
        rt,
        "diagnostics.redis.export",
        filename,
        Table(fmt, columns, rows),
        actor=actor,
        remote_addr=remote_addr,
        details=details,
    )
