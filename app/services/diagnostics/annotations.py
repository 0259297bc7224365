"""Annotations: marks a person or a program (CI marking a deploy) puts on the time axis."""

from __future__ import annotations

from collections.abc import Sequence

from app.runtime import Runtime
from app.services import FieldError
from app.services.accounts import Actor
from app.services.timerange import api_range
from storage.diagnostics.annotations import Annotation, AnnotationStore

MAX_TITLE = 200
MAX_TEXT = 10_000
MAX_TAGS = 20
MAX_TAG = 64
MAX_LIST = 1000


def create(
    rt: Runtime,
    actor: Actor,
    *,
    title: str,
    now: float,
    text: str = "",
    tags: Sequence[str] = (),
    ts: float | None = None,
    ts_end: float | None = None,
) -> dict:
    """Store an annotation at ``ts`` (now when missing), spanning to ``ts_end`` if given,
    with its author; a person's (not an ingest program's) is audited. FieldError names
    what cannot be."""
    title = title.strip()
    if not title:
        raise FieldError("title", "must not be blank")
    if len(title) > MAX_TITLE:
        raise FieldError("title", f"at most {MAX_TITLE} characters")
    if len(text) > MAX_TEXT:
        raise FieldError("text", f"at most {MAX_TEXT} characters")
    if len(tags) > MAX_TAGS:
        raise FieldError("tags", f"at most {MAX_TAGS} tags")
    clean = [tag.strip() for tag in tags]
    if any(not tag or len(tag) > MAX_TAG for tag in clean):
        raise FieldError("tags", f"each tag must be 1-{MAX_TAG} characters")
    ts = now if ts is None else ts
    if ts_end is not None and ts_end < ts:
        raise FieldError("ts_end", "must not be before ts")
    stored = AnnotationStore(rt.engine).add(
        Annotation(
            ts=ts,
            title=title,
            text=text,
            tags=list(dict.fromkeys(clean)),
            ts_end=ts_end,
            author=actor.account.name,
            created_at=now,
        )
    )
    shown = stored.to_dict()
    if actor.account.role != "ingest":
        rt.accounts.audit(
            "annotation.create",
            actor=actor.account.name,
            target=f"annotation:{stored.id}",
            remote_addr=actor.remote_addr,
            details={"title": title, "ts": ts, "ts_end": ts_end, "tags": shown["tags"]},
        )
    return shown


def between(rt: Runtime, start: float | None, end: float | None, now: float) -> list[dict]:
    """Annotations touching [start, end) (default: the last hour), oldest first."""
    start, end = api_range(start, end, now)
    return [a.to_dict() for a in AnnotationStore(rt.engine).between(start, end, MAX_LIST)]
