"""Diagnostics API · Timeline: the incident timeline, what changed, annotations and the
postmortem bundle."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from flask import jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from app.api.diagnostics.blueprint import bp
from app.api.downloads import FILES, TableFormat
from app.api.models import NOT_BLANK, NoNulText, Timestamp
from app.api.spec import operation, parse_body, parse_query
from app.api.streams import attachment
from app.auth import READERS, current_account, roles
from app.runtime import runtime
from app.services import timerange
from app.services.accounts import Actor
from app.services.diagnostics import annotations, bundle, correlations, timeline


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class WindowQuery(_Model):
    """Query string of the timeline and the bundle: the window [from, to)."""

    from_: Timestamp | None = Field(
        None, alias="from", description="Start (default: 1 h before `to`)"
    )
    to: Timestamp | None = Field(None, description="End, excluded (default: now)")


class TimelineExportQuery(WindowQuery):
    """Query string of GET /api/v1/admin/diagnostics/timeline/export."""

    format: TableFormat = Field("csv", description="File format")


class ChangesQuery(WindowQuery):
    """Query string of GET /api/v1/admin/diagnostics/changes."""

    limit: int = Field(
        correlations.DEFAULT_LIMIT, ge=1, le=correlations.MAX_LIMIT, description="At most this many"
    )


class ChangesExportQuery(ChangesQuery):
    """Query string of GET /api/v1/admin/diagnostics/changes/export."""

    format: TableFormat = Field("csv", description="File format")


class Change(BaseModel):
    """One series and how differently it behaved in the window than before it."""

    name: str
    host: str
    labels: dict[str, str]
    score: float = Field(description="1 - p of the KS test, or the volume method's score")
    direction: Literal["up", "down"]
    before: float = Field(description="Mean over the baseline (the 4x longer period before)")
    after: float = Field(description="Mean over the window")
    method: Literal["ks", "volume"]
    since: float | None = Field(description="When the window first left the baseline's range")


class Event(BaseModel):
    """One thing that happened (epoch seconds)."""

    ts: float
    ts_end: float | None = None
    kind: Literal[timeline.KINDS]  # type: ignore[valid-type]
    title: str
    severity: str | None = None
    link: str | None = Field(None, description="The page that shows it")
    detail: dict


class HistogramBucket(BaseModel):
    """Log records of one level in one bucket."""

    ts: float
    level: str
    count: int


class Histogram(BaseModel):
    """The log level histogram of the window."""

    step: float
    buckets: list[HistogramBucket]


class TimelineOut(BaseModel):
    """The incident timeline of one window."""

    from_: float = Field(alias="from")
    to: float
    events: list[Event]
    histogram: Histogram
    changes: list[Change]
    truncated: list[str] = Field(description="Kinds of events cut at the limit")
    changes_note: str | None = Field(None, description="Why there are no changes")


class ChangeList(BaseModel):
    """Series ranked by how much they changed, highest score first."""

    items: list[Change]
    window: dict[str, float] = Field(description="baseline, from, to and the bucket step")


Tag = Annotated[NoNulText, Field(min_length=1, max_length=annotations.MAX_TAG, pattern=NOT_BLANK)]


class AnnotationBody(_Model):
    """Body of POST /api/v1/admin/annotations."""

    title: Annotated[
        NoNulText, Field(min_length=1, max_length=annotations.MAX_TITLE, pattern=NOT_BLANK)
    ]
    text: Annotated[NoNulText, Field(max_length=annotations.MAX_TEXT)] = ""
    tags: list[Tag] = Field(default_factory=list, max_length=annotations.MAX_TAGS)
    ts: Timestamp | None = Field(None, description="Default: now")
    ts_end: Timestamp | None = Field(None, description="The end of a span (not before ts)")


class AnnotationOut(BaseModel):
    """A stored annotation."""

    id: int
    ts: float
    ts_end: float | None
    title: str
    text: str
    tags: list[str]
    author: str | None
    created_at: float | None


class AnnotationList(BaseModel):
    """Annotations touching the window, oldest first."""

    items: list[AnnotationOut]


def _window(params: WindowQuery) -> tuple[float, float]:
    return timerange.api_range(params.from_, params.to, time.time())


@bp.get("/diagnostics/timeline")
@roles(*READERS)
@operation(
    "The incident timeline of a window: alert transitions and acknowledgements, new and "
    "spiking error groups, the log level histogram, the top changed metrics, annotations, "
    "leader changes and audited admin actions",
    query=WindowQuery,
    response=TimelineOut,
)
def get_timeline():
    """Every event of the window on one time axis, sorted by time."""
    start, end = _window(parse_query(WindowQuery))
    return jsonify(timeline.timeline(runtime(), start, end))


@bp.get("/diagnostics/timeline/export")
@roles(*READERS)
@operation(
    "Download the timeline's events as CSV or JSON; audited",
    query=TimelineExportQuery,
    files=FILES,
)
def export_timeline():
    """The events of the window as an attachment."""
    params = parse_query(TimelineExportQuery)
    start, end = _window(params)
    return attachment(
        timeline.timeline_export(
            runtime(),
            start,
            end,
            params.format,
            actor=current_account().name,
            remote_addr=request.remote_addr,
        )
    )


@bp.get("/diagnostics/changes")
@roles(*READERS)
@operation(
    "What changed: every metric series ranked by how differently it behaved in the window "
    "than in the four times longer period before it (at least 15 s, at most 7 days)",
    query=ChangesQuery,
    response=ChangeList,
)
def get_changes():
    """The ranking, highest score first, and the windows compared."""
    params = parse_query(ChangesQuery)
    start, end = _window(params)
    rt = runtime()
    return jsonify(
        {
            "items": correlations.changes(rt, start, end, params.limit),
            "window": correlations.window_of(start, end),
        }
    )


@bp.get("/diagnostics/changes/export")
@roles(*READERS)
@operation(
    "Download the ranked changes as CSV or JSON; audited", query=ChangesExportQuery, files=FILES
)
def export_changes():
    """The ranking as an attachment."""
    params = parse_query(ChangesExportQuery)
    start, end = _window(params)
    return attachment(
        timeline.changes_export(
            runtime(),
            start,
            end,
            params.limit,
            params.format,
            actor=current_account().name,
            remote_addr=request.remote_addr,
        )
    )


@bp.post("/annotations")
@roles("admin", "ingest")
@operation(
    "Put an annotation (a deploy, a change) on the time axis, at `ts` or now; a person's "
    "is audited",
    body=AnnotationBody,
    response=AnnotationOut,
    status=201,
    errors=(400, 401, 403, 413, 415),
)
def create_annotation():
    """Store the annotation with its author; 201 with its id."""
    body = parse_body(AnnotationBody)
    created = annotations.create(
        runtime(),
        Actor(current_account(), request.remote_addr),
        title=body.title,
        text=body.text,
        tags=body.tags,
        ts=body.ts,
        ts_end=body.ts_end,
        now=time.time(),
    )
    return jsonify(created), 201


@bp.get("/annotations")
@roles(*READERS)
@operation(
    "Annotations touching a window, oldest first", query=WindowQuery, response=AnnotationList
)
def list_annotations():
    """The window's annotations."""
    params = parse_query(WindowQuery)
    return jsonify({"items": annotations.between(runtime(), params.from_, params.to, time.time())})


@bp.get("/diagnostics/bundle")
@roles(*READERS)
@operation(
    "Download a postmortem bundle of the window (tar.gz, streamed): timeline, ranked "
    "changes, annotations, alert history, error groups and error logs; audited",
    query=WindowQuery,
    files=(bundle.CONTENT_TYPE,),
)
def get_bundle():
    """The bundle as an attachment."""
    start, end = _window(parse_query(WindowQuery))
    return attachment(
        bundle.bundle(
            runtime(),
            start,
            end,
            actor=current_account().name,
            remote_addr=request.remote_addr,
            now=time.time(),
        )
    )
