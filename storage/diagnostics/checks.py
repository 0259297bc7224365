"""Dependency checks: what each probes (its spec, stored as JSON), how often, and its
latest result, which the leader writes after every probe."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage.alerts import DuplicateName
from storage.models import DependencyCheck

__all__ = ["CheckRecord", "CheckResult", "CheckStore", "DuplicateName"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one probe, as the check's row keeps it."""

    ran_at: float
    up: bool
    latency_ms: float
    detail: str
    cert_expiry: float | None = None


@dataclass(frozen=True, slots=True)
class CheckRecord:
    """A stored check; ``spec`` holds the kind's own fields (url, host, port...)."""

    name: str
    kind: str
    spec: dict
    interval_s: int
    timeout_s: float
    enabled: bool = True
    created_by: str | None = None
    created_at: float | None = None
    updated_at: float | None = None
    last_run_at: float | None = None
    last_up: bool | None = None
    last_latency_ms: float | None = None
    last_cert_expiry: float | None = None
    last_detail: str = ""
    id: int | None = None


def _record(row) -> CheckRecord:
    values = {f.name: getattr(row, f.name) for f in fields(CheckRecord)}
    values["spec"] = json.loads(values["spec"])
    return CheckRecord(**values)


def _definition(check: CheckRecord) -> dict:
    return {
        "name": check.name,
        "kind": check.kind,
        "spec": json.dumps(check.spec, sort_keys=True),
        "interval_s": check.interval_s,
        "timeout_s": check.timeout_s,
        "enabled": check.enabled,
    }


class CheckStore:
    """Dependency checks on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, check: CheckRecord, now: float) -> CheckRecord:
        """Store a new check; raises ``DuplicateName`` when the name is taken."""
        values = {
            **_definition(check),
            "created_by": check.created_by,
            "created_at": now,
            "updated_at": now,
            "last_detail": "",
        }
        try:
            with self.engine.begin() as conn:
                check_id = conn.execute(
                    insert(DependencyCheck).values(values).returning(DependencyCheck.id)
                ).scalar_one()
        except IntegrityError as exc:
            raise DuplicateName(check.name) from exc
        return replace(check, id=check_id, created_at=now, updated_at=now)

    def replace(self, check_id: int, check: CheckRecord, now: float) -> CheckRecord | None:
        """Replace a check's definition; None if there is none. It is due at once, so the
        new definition's first result comes at the leader's next tick."""
        values = {**_definition(check), "updated_at": now, "last_run_at": None}
        try:
            with self.engine.begin() as conn:
                found = conn.execute(
                    update(DependencyCheck).where(DependencyCheck.id == check_id).values(values)
                ).rowcount
        except IntegrityError as exc:
            raise DuplicateName(check.name) from exc
        return self.get(check_id) if found else None

    def delete(self, check_id: int) -> bool:
        """Delete a check; False if there was none."""
        with self.engine.begin() as conn:
            return bool(
                conn.execute(delete(DependencyCheck).where(DependencyCheck.id == check_id)).rowcount
            )

    def get(self, check_id: int) -> CheckRecord | None:
        """One check, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(DependencyCheck).where(DependencyCheck.id == check_id)
            ).first()
        return _record(row) if row else None

    def list(self, enabled_only: bool = False) -> list[CheckRecord]:
        """Every check (or every enabled one), by name."""
        query = select(DependencyCheck).order_by(DependencyCheck.name)
        if enabled_only:
            query = query.where(DependencyCheck.enabled.is_(True))
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query).all()]

    def record_result(self, check_id: int, result: CheckResult) -> bool:
        """Keep ``result`` as the check's latest; False if the check is gone."""
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(DependencyCheck)
                    .where(DependencyCheck.id == check_id)
                    .values(
                        last_run_at=result.ran_at,
                        last_up=result.up,
                        last_latency_ms=result.latency_ms,
                        last_cert_expiry=result.cert_expiry,
                        last_detail=result.detail,
                    )
                ).rowcount
            )
