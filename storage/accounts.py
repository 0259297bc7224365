"""Users, API tokens and the audit log."""

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


@dataclass(frozen=True, slots=True)
class Account:
    """A user as the app sees it: never the password hash."""

    id: int
    name: str
    role: str
    disabled: bool


class DuplicateUser(ValueError):
    """A user with that name exists already."""


def token_digest(token: str) -> str:
    """SHA-256 of a token: tokens are long and random, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


class AccountStore:
    """Reads and writes users, tokens and audit entries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def count_users(self) -> int:
        """How many users exist."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(User)).scalar_one()

    def add_user(self, name: str, role: str, password_hash: str | None) -> Account:
        """Create a user; raise DuplicateUser if the name is taken."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        try:
            with self.engine.begin() as conn:
                user_id = conn.execute(
                    insert(User)
                    .values(
                        name=name,
                        role=role,
                        password_hash=password_hash,
                        disabled=False,
                        created_at=_now(),
                    )
                    .returning(User.id)
                ).scalar_one()
        except IntegrityError:
            raise DuplicateUser(name) from None
        return Account(user_id, name, role, False)

    def credentials(self, name: str) -> tuple[Account, str | None] | None:
        """The user called ``name`` and their password hash, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(User.id, User.name, User.role, User.disabled, User.password_hash).where(
                    User.name == name
                )
            ).first()
        if row is None:
            return None
        return Account(row.id, row.name, row.role, row.disabled), row.password_hash

    def get(self, user_id: int) -> Account | None:
        """The user with ``user_id``."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(User.id, User.name, User.role, User.disabled).where(User.id == user_id)
            ).first()
        return None if row is None else Account(row.id, row.name, row.role, row.disabled)

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Replace a user's password hash (after a rehash or a reset)."""
        with self.engine.begin() as conn:
            conn.execute(update(User).where(User.id == user_id).values(password_hash=password_hash))

    def create_token(self, user_id: int, name: str) -> str:
        """Create an API token for ``user_id``; return it (only its digest is stored)."""
        token = "pb_" + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                insert(ApiToken).values(
                    user_id=user_id, name=name, token_hash=token_digest(token), created_at=_now()
                )
            )
        return token

    def account_for_token(self, token: str) -> Account | None:
        """The enabled user owning a live ``token``; records the token's last use."""
        digest = token_digest(token)
        with self.engine.begin() as conn:
            row = conn.execute(
                select(
                    ApiToken.id, ApiToken.last_used_at, User.id, User.name, User.role, User.disabled
                )
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
            ).first()
            if row is None or row.disabled:
                return None
            now = _now()
            last = row.last_used_at
            # Minute resolution is enough for "last used" and spares a write per request.
            if last is None or (now - last.replace(tzinfo=last.tzinfo or UTC)).total_seconds() > 60:
                conn.execute(update(ApiToken).where(ApiToken.id == row[0]).values(last_used_at=now))
        return Account(row[2], row.name, row.role, row.disabled)

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
