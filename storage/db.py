"""Database engines for SQLite (embedded default) and PostgreSQL, and migrations."""

from __future__ import annotations

import select
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import InvalidatePoolError, SQLAlchemyError
from sqlalchemy.pool import QueuePool

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web threads read while the collector writes; NORMAL sync is safe with WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-32000")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create an engine for ``url`` with the settings Pulseboard relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return _pg_engine(url, pool_size)


def _pg_engine(url: str, pool_size: int, *, options: str = "", **settings: Any) -> Engine:
    connect_args: dict[str, Any] = {"connect_timeout": 5, "application_name": "pulseboard"}
    if options:
        connect_args["options"] = options
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args=connect_args,
        **settings,
    )
    event.listen(
        engine, "checkout", lambda dbapi_conn, _record, _proxy: _ping_if_dropped(engine, dbapi_conn)
    )
    return engine


_readers: WeakKeyDictionary[Engine, Engine] = WeakKeyDictionary()
_readers_lock = threading.Lock()


def read_engine(engine: Engine) -> Engine:
    """The engine that reads beside ``engine`` go through: on PostgreSQL a pool of its own
    on the same database, disposed with ``engine``; on SQLite ``engine`` itself.

    Its connections are autocommit and read-only from creation, so a read costs its query
    only: no isolation level set on checkout and reset on return, and no ROLLBACK.
    """
    if engine.dialect.name != "postgresql":
        return engine
    with _readers_lock:
        reader = _readers.get(engine)
        if reader is None:
            size = engine.pool.size() if isinstance(engine.pool, QueuePool) else 5
            reader = _readers[engine] = _pg_engine(
                engine.url.render_as_string(hide_password=False),
                size,
                isolation_level="AUTOCOMMIT",
                pool_reset_on_return=None,  # autocommit: no transaction to end
                options="-c default_transaction_read_only=on",
            )
            event.listen(engine, "engine_disposed", lambda _engine: reader.dispose())
    return reader


def _sent_while_idle(dbapi_connection) -> bool:
    """Whether the server wrote to (or closed) a connection that had nothing to read.

    A pooled connection is idle: the last answer was read to its end. A server that shuts
    down or ends the session writes a FATAL notice and closes, which the kernel reports as
    readable; a live, quiet connection is not.
    """
    if dbapi_connection.broken or dbapi_connection.closed:
        return True
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def _ping_if_dropped(engine: Engine, dbapi_connection) -> None:
    """Ping a pooled PostgreSQL connection only when the server may have dropped it.

    SQLAlchemy's ``pool_pre_ping`` would cost a round trip on every checkout, as much as a
    small query; the socket says without one whether anything happened since.
    """
    if not _sent_while_idle(dbapi_connection):
        return
    dialect = engine.dialect
    try:
        alive = dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error:
        alive = False
    if not alive:
        # The server went away: every connection pooled before now is gone with it.
        raise InvalidatePoolError("the database closed the connection")


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at Pulseboard's migrations and ``url``."""
    # Alembic (with Mako, Pygments and the migrations) holds about 10 MiB: a process that
    # never migrates, such as a server on a current database, does without it.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The newest migration's revision id: each migration is named after its file, and the
    files are numbered in the order they apply."""
    return max(path.stem for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))


def is_current(url: str) -> bool:
    """Whether the database at ``url`` has every migration applied (read without Alembic)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            applied = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:  # no alembic_version table: never migrated
        return False
    finally:
        engine.dispose()
    return [row[0] for row in applied] == [head_revision()]


def upgrade_if_behind(url: str) -> None:
    """Apply pending migrations; a database already current costs one query, not Alembic."""
    if not is_current(url):
        upgrade(url)


def upgrade_apart(url: str) -> None:
    """Apply pending migrations in a short-lived process of its own, so that this process
    (and those it forks) never holds Alembic."""
    if is_current(url):
        return
    # The URL goes through stdin: a password in it stays out of the process list.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from storage.db import upgrade; upgrade(sys.stdin.read())",
        ],
        input=url,
        text=True,
        check=True,
    )


def ping(engine: Engine) -> None:
    """Raise if the database does not answer a trivial query."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
