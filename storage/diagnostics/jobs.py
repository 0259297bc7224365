"""Long diagnostic jobs (a Redis big-keys scan): the process running one writes its
progress and result; any process reads it and may ask it to stop.

A running job whose row has not moved for ``stale_after`` seconds is read as failed: the
process running it is gone, and nothing else would ever finish it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from storage.models import DiagnosticJob

RUNNING, DONE, CANCELLED, FAILED = "running", "done", "cancelled", "failed"
STATES = (RUNNING, DONE, CANCELLED, FAILED)
STALE_AFTER = 60.0
"""Seconds without a word from its runner after which a running job is read as failed."""
RUNNER_GONE = "the process running this job stopped before it finished"


@dataclass(frozen=True)
class Job:
    """A job as read: its state, how far it got and what it found so far."""

    id: str
    kind: str
    target: str
    state: str
    progress: float
    done: int
    total: int | None
    result: dict
    error: str
    cancel_requested: bool
    created_by: str | None
    created_at: float
    updated_at: float

    @property
    def finished(self) -> bool:
        """Whether the job no longer runs."""
        return self.state != RUNNING


class JobStore:
    """Reads and writes ``diagnostic_jobs`` on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine, stale_after: float = STALE_AFTER) -> None:
        self.engine = engine
        self.stale_after = stale_after

    def create(self, kind: str, target: str, created_by: str | None, now: float) -> Job:
        """A new running job with no progress."""
        values = {
            "id": uuid.uuid4().hex,
            "kind": kind,
            "target": target,
            "state": RUNNING,
            "progress": 0.0,
            "done": 0,
            "total": None,
            "result": "{}",
            "error": "",
            "cancel_requested": False,
            "created_by": created_by,
            "created_at": now,
            "updated_at": now,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(DiagnosticJob).values(values))
        return self._job(values, now)

    def update_progress(
        self,
        job_id: str,
        *,
        done: int,
        total: int | None,
        progress: float,
        result: dict,
        now: float,
    ) -> bool:
        """Record how far a running job got; whether someone asked it to stop."""
        with self.engine.begin() as conn:
            conn.execute(
                update(DiagnosticJob)
                .where(DiagnosticJob.id == job_id, DiagnosticJob.state == RUNNING)
                .values(
                    done=done,
                    total=total,
                    progress=progress,
                    result=json.dumps(result),
                    updated_at=now,
                )
            )
            return bool(
                conn.execute(
                    select(DiagnosticJob.cancel_requested).where(DiagnosticJob.id == job_id)
                ).scalar_one_or_none()
            )

    def request_cancel(self, job_id: str, now: float) -> Job | None:
        """Ask a running job to stop (its runner stops at its next step); the job as it
        stands, None when there is no such job."""
        with self.engine.begin() as conn:
            conn.execute(
                update(DiagnosticJob)
                .where(DiagnosticJob.id == job_id, DiagnosticJob.state == RUNNING)
                .values(cancel_requested=True)
            )
        return self.get(job_id, now)

    def finish(
        self, job_id: str, state: str, now: float, *, result: dict | None = None, error: str = ""
    ) -> None:
        """End a running job as ``done``, ``cancelled`` or ``failed``, with what it found."""
        if state not in (DONE, CANCELLED, FAILED):
            raise ValueError(f"not a final state: {state!r}")
        values: dict = {"state": state, "error": error, "updated_at": now}
        if state == DONE:
            values["progress"] = 1.0
        if result is not None:
            values["result"] = json.dumps(result)
        with self.engine.begin() as conn:
            conn.execute(
                update(DiagnosticJob)
                .where(DiagnosticJob.id == job_id, DiagnosticJob.state == RUNNING)
                .values(values)
            )

    def get(self, job_id: str, now: float) -> Job | None:
        """The job, None when there is no such job."""
        with self.engine.connect() as conn:
            row = conn.execute(select(DiagnosticJob).where(DiagnosticJob.id == job_id)).first()
        return None if row is None else self._job(row._mapping, now)

    def latest(self, kind: str, target: str, now: float) -> Job | None:
        """The newest job of ``kind`` on ``target``, None when there is none."""
        query = (
            select(DiagnosticJob)
            .where(DiagnosticJob.kind == kind, DiagnosticJob.target == target)
            .order_by(DiagnosticJob.created_at.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else self._job(row._mapping, now)

    def _job(self, row, now: float) -> Job:
        state, error = row["state"], row["error"]
        if state == RUNNING and now - row["updated_at"] > self.stale_after:
            state, error = FAILED, RUNNER_GONE
        return Job(
            id=row["id"],
            kind=row["kind"],
            target=row["target"],
            state=state,
            progress=row["progress"],
            done=row["done"],
            total=row["total"],
            result=json.loads(row["result"] or "{}"),
            error=error,
            cancel_requested=bool(row["cancel_requested"]),
            created_by=row["created_by"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
