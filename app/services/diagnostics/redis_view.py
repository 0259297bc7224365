"""What the Redis section of the Diagnostics page shows, from the service's answers: the
figure cards, grid rows, the big-keys panel and the download links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

EXPORT = "/api/v1/admin/diagnostics/redis/export"


@dataclass(frozen=True)
class Figure:
    """One small card: a title, a value and a line under it."""

    title: str
    value: str
    detail: str = ""


def human_bytes(value: float | None) -> str:
    """``1.5 MiB``; a dash for None."""
    if value is None:
        return "—"
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    for unit in units[:-1]:
        if abs(value) < 1024:
            return f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} {units[-1]}"


def time_text(ts: float) -> str:
    """A time as the grids show it (UTC, to the second)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def figures(memory: dict | None) -> list[Figure]:
    """The cards: memory against its limit, fragmentation, hit ratio, evictions, expirations
    and keys (counters since the server started)."""
    if memory is None:
        return []
    limit = memory["maxmemory_bytes"]
    ratio = memory["fragmentation_ratio"]
    hits = memory["hit_ratio"]
    return [
        Figure(
            "Used memory",
            human_bytes(memory["used_memory_bytes"]),
            f"of {human_bytes(limit)}" if limit else "no maxmemory set",
        ),
        Figure(
            "Fragmentation",
            "—" if ratio is None else f"{ratio:.2f}",
            f"RSS {human_bytes(memory['used_memory_rss_bytes'])}",
        ),
        Figure(
            "Hit ratio",
            "—" if hits is None else f"{hits:.1%}",
            f"{memory['keyspace_hits']:,} hits, {memory['keyspace_misses']:,} misses",
        ),
        Figure(
            "Evicted keys", f"{memory['evicted_keys']:,}", f"policy {memory['maxmemory_policy']}"
        ),
        Figure("Expired keys", f"{memory['expired_keys']:,}", "since the server started"),
        Figure("Keys", f"{memory['keys']:,}", "in every database"),
    ]


def slowlog_rows(entries: list[dict]) -> list[dict]:
    """Grid rows of the slow commands, newest first."""
    return [
        {
            "id": e["id"],
            "time": time_text(e["ts"]),
            "duration_ms": round(e["duration_us"] / 1000, 3),
            "command": e["command"],
            "client": e["client"],
            "source": "history" if e["stored"] else "server",
        }
        for e in entries
    ]


def latency_rows(latency: dict | None) -> list[dict]:
    """Grid rows of LATENCY LATEST."""
    if latency is None:
        return []
    return [
        {
            "id": e["event"],
            "event": e["event"],
            "time": time_text(e["ts"]),
            "latest_ms": e["latest_ms"],
            "max_ms": e["max_ms"],
        }
        for e in latency["latest"]
    ]


def doctor_text(latency: dict | None) -> str:
    """The doctor's report, or how to turn the latency monitor on."""
    if latency is None:
        return ""
    return latency["how_to_enable"] or latency["doctor"]


@dataclass(frozen=True)
class JobPanel:
    """How the big-keys panel shows a job: bar value (percent) and label, a status line,
    the result rows, whether it runs."""

    percent: float
    label: str
    status: str
    rows: list[dict]
    running: bool


def job_panel(job: dict | None) -> JobPanel:
    """The big-keys panel for ``job`` (None: no scan yet)."""
    if job is None:
        return JobPanel(0.0, "", "No scan yet.", [], False)
    total = job["total"]
    label = f"{job['done']:,} of {total:,} keys" if total is not None else ""
    status = {
        "running": "Scanning…" + (" (stopping)" if job["cancel_requested"] else ""),
        "done": f"Done: {job['done']:,} keys looked at.",
        "cancelled": f"Cancelled after {job['done']:,} keys; the biggest found so far:",
        "failed": f"Failed: {job['error']}",
    }[job["state"]]
    rows = [
        {"id": f"{k['db']}:{k['key']}", **k, "size": human_bytes(k["bytes"])} for k in job["result"]
    ]
    return JobPanel(round(job["progress"] * 100, 1), label, status, rows, job["state"] == "running")


def slowlog_href(target: str | None, start: float, end: float | None, fmt: str) -> str:
    """The download of the slow commands shown (``end`` None: up to when it is made)."""
    params = [("table", "slowlog"), ("from", str(int(start)))]
    if end is not None:
        params.append(("to", str(int(end))))
    if target:
        params.append(("target", target))
    return f"{EXPORT}?{urlencode([*params, ('format', fmt)])}"


def bigkeys_href(job_id: str | None, fmt: str) -> str:
    """The download of a job's keys; empty without a job."""
    if not job_id:
        return ""
    return f"{EXPORT}?{urlencode([('table', 'bigkeys'), ('job', job_id), ('format', fmt)])}"
