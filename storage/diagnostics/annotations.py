"""Annotations: marks on the time axis (a deploy, a config change) with who made them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, insert, select

from storage.models import Annotation as AnnotationRow


@dataclass(frozen=True, slots=True)
class Annotation:
    """A stored annotation: a moment (or a span to ``ts_end``), epoch seconds (UTC)."""

    ts: float
    title: str
    text: str = ""
    tags: list[str] = field(default_factory=list)
    ts_end: float | None = None
    author: str | None = None
    created_at: float | None = None
    id: int | None = None

    def to_dict(self) -> dict:
        """JSON-ready data."""
        return {
            "id": self.id,
            "ts": self.ts,
            "ts_end": self.ts_end,
            "title": self.title,
            "text": self.text,
            "tags": list(self.tags),
            "author": self.author,
            "created_at": self.created_at,
        }


class AnnotationStore:
    """Writes annotations and reads those that touch a range."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, annotation: Annotation) -> Annotation:
        """Store ``annotation``; returned with its id."""
        with self.engine.begin() as conn:
            new_id = conn.execute(
                insert(AnnotationRow)
                .values(
                    ts=annotation.ts,
                    ts_end=annotation.ts_end,
                    title=annotation.title,
                    text=annotation.text,
                    tags=json.dumps(list(annotation.tags)),
                    author=annotation.author,
                    created_at=annotation.created_at,
                )
                .returning(AnnotationRow.id)
            ).scalar_one()
        return Annotation(
            annotation.ts,
            annotation.title,
            annotation.text,
            list(annotation.tags),
            annotation.ts_end,
            annotation.author,
            annotation.created_at,
            new_id,
        )

    def between(self, start: float, end: float, limit: int = 1000) -> list[Annotation]:
        """Annotations that touch [start, end) (a span that began before ``start`` and
        ends inside counts), oldest first, at most ``limit``."""
        reach = func.coalesce(AnnotationRow.ts_end, AnnotationRow.ts)
        stmt = (
            select(AnnotationRow)
            .where(AnnotationRow.ts < end, reach >= start)
            .order_by(AnnotationRow.ts, AnnotationRow.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows: Sequence = conn.execute(stmt).all()
        return [
            Annotation(
                r.ts, r.title, r.text, json.loads(r.tags), r.ts_end, r.author, r.created_at, r.id
            )
            for r in rows
        ]
