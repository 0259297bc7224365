"""log message search: a pg_trgm GIN index on PostgreSQL, an FTS5 trigram index on SQLite

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 10:00:00.000000

Substring search (bare words and quoted phrases of the query language) is served by a
trigram index on each backend. On SQLite it is an external-content FTS5 table: it holds
only the index, reads the text from ``log_records`` and is kept in sync by triggers.
A later batch ALTER of ``log_records`` on SQLite recreates the table, which drops these
triggers: such a migration must create them again.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UPGRADE = (
    "CREATE VIRTUAL TABLE log_records_fts USING fts5("
    "message, content='log_records', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER log_records_fts_insert AFTER INSERT ON log_records BEGIN "
    "INSERT INTO log_records_fts (rowid, message) VALUES (new.id, new.message); END",
    "CREATE TRIGGER log_records_fts_delete AFTER DELETE ON log_records BEGIN "
    "INSERT INTO log_records_fts (log_records_fts, rowid, message) "
    "VALUES ('delete', old.id, old.message); END",
    "CREATE TRIGGER log_records_fts_update AFTER UPDATE OF id, message ON log_records BEGIN "
    "INSERT INTO log_records_fts (log_records_fts, rowid, message) "
    "VALUES ('delete', old.id, old.message); "
    "INSERT INTO log_records_fts (rowid, message) VALUES (new.id, new.message); END",
    "INSERT INTO log_records_fts (log_records_fts) VALUES ('rebuild')",
)
SQLITE_DOWNGRADE = (
    "DROP TRIGGER log_records_fts_update",
    "DROP TRIGGER log_records_fts_delete",
    "DROP TRIGGER log_records_fts_insert",
    "DROP TABLE log_records_fts",
)


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        # pg_trgm is a trusted extension: the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_log_records_message_trgm",
            "log_records",
            ["message"],
            postgresql_using="gin",
            postgresql_ops={"message": "gin_trgm_ops"},
        )
        return
    for statement in SQLITE_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        # The extension stays: it may predate Pulseboard and other objects may use it.
        op.drop_index("ix_log_records_message_trgm", table_name="log_records")
        return
    for statement in SQLITE_DOWNGRADE:
        op.execute(statement)
