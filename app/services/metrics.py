"""The metric catalogue and range queries, for the API and the Overview page."""

from __future__ import annotations

from app.runtime import Runtime
from app.services import FieldError
from app.services.timerange import DEFAULT_SPAN, check_range
from collectors.base import Field


def field_catalogue(rt: Runtime) -> dict[str, Field]:
    """Metadata of every metric the configured collectors yield, by name."""
    return {f.name: f for c in rt.collectors for f in c.fields}


def catalogue(rt: Runtime, host: str | None = None) -> dict:
    """Every known metric with its metadata and the latest value of each series."""
    fields = field_catalogue(rt)
    by_name: dict[str, list[dict]] = {}
    for value in rt.metrics.latest(host=host):
        by_name.setdefault(value.name, []).append(
            {"host": value.host, "labels": value.labels, "ts": value.ts, "value": value.value}
        )
    metrics = []
    for name in sorted(set(fields) | set(by_name)):
        field = fields.get(name)
        metrics.append(
            {
                "name": name,
                "unit": field.unit if field else "",
                "kind": field.kind if field else "gauge",
                "description": field.description if field else "",
                "series": by_name.get(name, []),
            }
        )
    return {"metrics": metrics, "hosts": rt.metrics.hosts()}


def series(
    rt: Runtime,
    names: list[str],
    start: float | None,
    end: float | None,
    host: str | None,
    max_points: int,
    now: float,
) -> dict:
    """Bucketed series of ``names`` over a range (default: the last hour up to now)."""
    known = set(field_catalogue(rt)) | set(rt.metrics.names())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise FieldError("name", f"unknown metric: {', '.join(sorted(unknown))}")
    end = now if end is None else end
    start = end - DEFAULT_SPAN if start is None else start
    check_range(start, end)
    data = rt.metrics.query(names, start, end, host=host, max_points=max_points)
    step, source = (data[0].step, data[0].source) if data else (0, "raw")
    return {
        "from": start,
        "to": end,
        "step": step,
        "source": source,
        "series": [
            {"name": s.name, "host": s.host, "labels": s.labels, "points": s.points} for s in data
        ],
    }
