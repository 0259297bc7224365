"""PULSEBOARD_LOG_SEARCH_INDEX: the trigram index is added or dropped at start on
PostgreSQL, and substring search answers the same either way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.settings import Settings, SettingsError
from storage.db import make_engine
from storage.logquery import parse
from storage.logs import SEARCH_INDEX_LOCK_KEY, TRIGRAM_INDEX, LogEntry, LogStore
from tests.conftest import truncate_tables

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[LogStore]:
    """A log store on the session's PostgreSQL database, its index put back afterwards."""
    truncate_tables(pg_url)
    engine = make_engine(pg_url)
    store = LogStore(engine)
    yield store
    store.apply_search_index("trigram")
    engine.dispose()


def _index(store: LogStore) -> tuple[str, bool] | None:
    """The trigram index's definition and validity, None when there is none."""
    with store.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT pg_get_indexdef(i.indexrelid), i.indisvalid FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = :name"
            ),
            {"name": TRIGRAM_INDEX},
        ).first()
    return None if row is None else (row[0], row[1])


def _write(store: LogStore) -> None:
    words = ("deadlock on orders", "all fine", "DeadLock again", "nothing here")
    store.write(
        [
            LogEntry(T0 + timedelta(seconds=i), "error", "api", "web-1", words[i % 4], {})
            for i in range(40)
        ]
    )


@pytest.mark.parametrize("choice", ["none", "trigram"])
def test_each_choice_gives_its_index_and_search_still_answers(pg_store, choice):
    _write(pg_store)
    wanted = [m.id for m in pg_store.search(parse("deadlock"), limit=100).records]
    assert len(wanted) == 20
    pg_store.apply_search_index("none" if choice == "trigram" else "trigram")  # the other one

    assert pg_store.apply_search_index(choice) is True
    assert pg_store.apply_search_index(choice) is True  # idempotent
    index = _index(pg_store)
    if choice == "none":
        assert index is None
    else:
        assert index == (
            f"CREATE INDEX {TRIGRAM_INDEX} ON public.log_records USING gin (message gin_trgm_ops)",
            True,
        )
    found = pg_store.search(parse("deadlock"), limit=100).records
    assert [r.id for r in found] == wanted
    assert {r.message for r in found} == {"deadlock on orders", "DeadLock again"}
    assert pg_store.count(parse("deadlock -again")) == (10, True)


def test_an_interrupted_build_is_built_again(pg_store):
    with pg_store.engine.begin() as conn:  # what a cancelled CREATE INDEX CONCURRENTLY leaves
        conn.execute(
            text(
                "UPDATE pg_index SET indisvalid = false WHERE indexrelid = "
                "(SELECT oid FROM pg_class WHERE relname = :name)"
            ),
            {"name": TRIGRAM_INDEX},
        )
    assert _index(pg_store)[1] is False
    pg_store.apply_search_index("trigram")
    assert _index(pg_store)[1] is True


def test_another_process_building_is_left_alone(pg_store):
    with pg_store.engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SEARCH_INDEX_LOCK_KEY})
        assert pg_store.apply_search_index("none") is False
        holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SEARCH_INDEX_LOCK_KEY})
    assert _index(pg_store) is not None


def test_the_app_applies_the_setting_at_start(make_app, pg_store, pg_url):
    make_app(database_url=pg_url, log_search_index="none")
    assert _index(pg_store) is None
    make_app(database_url=pg_url)
    assert _index(pg_store)[1] is True


def test_the_setting_is_read_and_checked(tmp_path):
    env = {"PULSEBOARD_DATA_DIR": str(tmp_path), "PULSEBOARD_SECRET_KEY": "k"}
    assert Settings.from_env(env).log_search_index == "trigram"
    chosen = Settings.from_env({**env, "PULSEBOARD_LOG_SEARCH_INDEX": "None"})
    assert chosen.log_search_index == "none"
    with pytest.raises(SettingsError, match="PULSEBOARD_LOG_SEARCH_INDEX must be one of"):
        Settings.from_env({**env, "PULSEBOARD_LOG_SEARCH_INDEX": "fulltext"})
