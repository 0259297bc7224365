"""The API token the demo sends with when none is given: a new one of an admin user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app.demo.sender import DemoError, Echo
from storage.accounts import AccountStore
from storage.db import make_engine

TOKEN_NAME = "demo"


def _first_line(exc: SQLAlchemyError) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


@contextmanager
def admin_token(database_url: str, actor: str, echo: Echo) -> Iterator[str]:
    """A new API token of an enabled admin (``admin`` first), revoked when the block ends;
    both written to the audit log as done by ``actor``."""
    engine = make_engine(database_url)
    store = AccountStore(engine)
    where = make_url(database_url).render_as_string(hide_password=True)
    try:
        try:
            admins = [u for u in store.list_users() if u.role == "admin" and not u.disabled]
            admins.sort(key=lambda u: u.name != "admin")
            if not admins:
                raise DemoError(f"no enabled admin user in {where}; pass --token")
            user = admins[0]
            token_id, token = store.create_token(user.id, TOKEN_NAME)
            store.audit(
                "token.create",
                actor=actor,
                target=user.name,
                details={"token_id": token_id, "name": TOKEN_NAME},
            )
        except SQLAlchemyError as exc:
            raise DemoError(
                f"cannot create a token in {where} ({_first_line(exc)}): run the demo with "
                "the server's PULSEBOARD_DATA_DIR or PULSEBOARD_DATABASE_URL, or pass --token"
            ) from None
        echo(
            f"demo: no --token given: created API token {TOKEN_NAME!r} of {user.name!r} "
            f"in {where} (revoked when the demo ends)"
        )
        try:
            yield token
        finally:
            try:
                store.revoke_token(token_id)
                store.audit(
                    "token.revoke",
                    actor=actor,
                    target=user.name,
                    details={"token_id": token_id, "name": TOKEN_NAME},
                )
            except SQLAlchemyError as exc:
                echo(
                    f"demo: could not revoke token {token_id} ({_first_line(exc)}); "
                    "revoke it on the Settings page"
                )
    finally:
        engine.dispose()
