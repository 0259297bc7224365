"""Users, API tokens and the append-only audit log."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage.models import ApiToken, AuditEntry, User

ROLES = ("admin", "analyst", "ingest")
LAST_USED_RESOLUTION = 60.0
"""Seconds: a token's last use is recorded at most this often (a write per request is waste)."""


@dataclass(frozen=True, slots=True)
class Account:
    """A user as the app sees it: never the password hash."""

    id: int
    name: str
    role: str
    disabled: bool
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token's metadata (never the token)."""

    id: int
    user_id: int
    user_name: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit entry."""

    id: int
    ts: datetime
    actor: str | None
    action: str
    target: str | None
    remote_addr: str | None
    details: dict


class DuplicateUser(ValueError):
    """A user with that name exists already."""


def token_digest(token: str) -> str:
    """SHA-256 of a token: tokens are long and random, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime (SQLite hands back naive ones)."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _account(row) -> Account:
    return Account(row.id, row.name, row.role, row.disabled, utc(row.created_at))


_ACCOUNT_COLUMNS = (User.id, User.name, User.role, User.disabled, User.created_at)


class AccountStore:
    """Reads and writes users, tokens and audit entries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- users -------------------------------------------------------------------------

    def count_users(self) -> int:
        """How many users exist."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(User)).scalar_one()

    def add_user(self, name: str, role: str, password_hash: str | None) -> Account:
        """Create a user; raise DuplicateUser if the name is taken."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        created = _now()
        try:
            with self.engine.begin() as conn:
                user_id = conn.execute(
                    insert(User)
                    .values(
                        name=name,
                        role=role,
                        password_hash=password_hash,
                        disabled=False,
                        created_at=created,
                    )
                    .returning(User.id)
                ).scalar_one()
        except IntegrityError:
            raise DuplicateUser(name) from None
        return Account(user_id, name, role, False, created)

    def list_users(self) -> list[Account]:
        """Every user, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(*_ACCOUNT_COLUMNS).order_by(User.name)).all()
        return [_account(r) for r in rows]

    def credentials(self, name: str) -> tuple[Account, str | None] | None:
        """The user called ``name`` and their password hash, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_ACCOUNT_COLUMNS, User.password_hash).where(User.name == name)
            ).first()
        return None if row is None else (_account(row), row.password_hash)

    def password_hash(self, user_id: int) -> str | None:
        """The stored password hash of ``user_id``."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(User.password_hash).where(User.id == user_id)
            ).scalar_one_or_none()

    def get(self, user_id: int) -> Account | None:
        """The user with ``user_id``."""
        with self.engine.connect() as conn:
            row = conn.execute(select(*_ACCOUNT_COLUMNS).where(User.id == user_id)).first()
        return None if row is None else _account(row)

    def update_user(
        self,
        user_id: int,
        *,
        role: str | None = None,
        disabled: bool | None = None,
        password_hash: str | None = None,
    ) -> Account | None:
        """Change a user's role, disabled flag and/or password; the updated user or None."""
        values: dict = {}
        if role is not None:
            if role not in ROLES:
                raise ValueError(f"role must be one of {', '.join(ROLES)}")
            values["role"] = role
        if disabled is not None:
            values["disabled"] = disabled
        if password_hash is not None:
            values["password_hash"] = password_hash
        if values:
            with self.engine.begin() as conn:
                conn.execute(update(User).where(User.id == user_id).values(**values))
        return self.get(user_id)

    def enabled_admins(self) -> int:
        """How many enabled admins exist (the last one must stay)."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count())
                .select_from(User)
                .where(User.role == "admin", User.disabled.is_(False))
            ).scalar_one()

    # -- tokens ------------------------------------------------------------------------

    def create_token(self, user_id: int, name: str) -> tuple[int, str]:
        """Create an API token for ``user_id``; return its id and the token (shown once)."""
        token = "pb_" + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            token_id = conn.execute(
                insert(ApiToken)
                .values(
                    user_id=user_id, name=name, token_hash=token_digest(token), created_at=_now()
                )
                .returning(ApiToken.id)
            ).scalar_one()
        return token_id, token

    def account_for_token(self, token: str) -> Account | None:
        """The enabled user owning a live ``token``; records the token's last use."""
        digest = token_digest(token)
        with self.engine.begin() as conn:
            row = conn.execute(
                select(ApiToken.id.label("token_id"), ApiToken.last_used_at, *_ACCOUNT_COLUMNS)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
            ).first()
            if row is None or row.disabled:
                return None
            now = _now()
            last = utc(row.last_used_at)
            if last is None or (now - last).total_seconds() > LAST_USED_RESOLUTION:
                conn.execute(
                    update(ApiToken).where(ApiToken.id == row.token_id).values(last_used_at=now)
                )
        return _account(row)

    def list_tokens(self, user_id: int | None = None) -> list[TokenInfo]:
        """Tokens (of one user, or all), newest first."""
        query = (
            select(
                ApiToken.id,
                ApiToken.user_id,
                User.name.label("user_name"),
                ApiToken.name,
                ApiToken.created_at,
                ApiToken.last_used_at,
                ApiToken.revoked_at,
            )
            .join(User, User.id == ApiToken.user_id)
            .order_by(ApiToken.id.desc())
        )
        if user_id is not None:
            query = query.where(ApiToken.user_id == user_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            TokenInfo(
                r.id,
                r.user_id,
                r.user_name,
                r.name,
                utc(r.created_at),
                utc(r.last_used_at),
                utc(r.revoked_at),
            )
            for r in rows
        ]

    def get_token(self, token_id: int) -> TokenInfo | None:
        """One token's metadata."""
        return next((t for t in self.list_tokens() if t.id == token_id), None)

    def revoke_token(self, token_id: int) -> bool:
        """Revoke a live token; False if there is none with that id."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(ApiToken)
                .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
        return result.rowcount == 1

    # -- audit -------------------------------------------------------------------------

    def audit(
        self,
        action: str,
        *,
        actor: str | None,
        target: str | None = None,
        remote_addr: str | None = None,
        details: dict | None = None,
    ) -> None:
        """Append an entry to the audit log."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(AuditEntry).values(
                    ts=_now(),
                    actor=actor,
                    action=action,
                    target=target,
                    remote_addr=remote_addr,
                    details=json.dumps(details or {}, sort_keys=True),
                )
            )

    def list_audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Audit entries newest first, filtered, paged by id (keyset)."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if actor:
            query = query.where(AuditEntry.actor == actor)
        if action:
            # "user." matches every user action; a full name matches one.
            query = query.where(
                AuditEntry.action.startswith(action, autoescape=True)
                if action.endswith(".")
                else AuditEntry.action == action
            )
        if since:
            query = query.where(AuditEntry.ts >= since)
        if until:
            query = query.where(AuditEntry.ts < until)
        if before_id:
            query = query.where(AuditEntry.id < before_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditRecord(
                r.id,
                utc(r.ts),
                r.actor,
                r.action,
                r.target,
                r.remote_addr,
                json.loads(r.details or "{}"),
            )
            for r in rows
        ]
