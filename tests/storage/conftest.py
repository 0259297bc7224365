"""Log store fixtures shared by the storage tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from storage.logs import LogEntry, LogStore
from tests.storage.test_logquery import RECORDS

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
"""When the first of the loaded records was written; the others follow a minute apart."""


@pytest.fixture
def store(engine: Engine) -> LogStore:
    """A log store on a fresh database of each backend."""
    return LogStore(engine)


@pytest.fixture
def loaded(store: LogStore) -> LogStore:
    """The query-language test records, a minute apart from ``T0``."""
    store.write(
        [
            LogEntry(
                T0 + timedelta(minutes=i),
                r["level"],
                r["source"],
                r["host"],
                r["message"],
                r["attrs"] or {},
            )
            for i, r in enumerate(RECORDS.values())
        ]
    )
    return store
