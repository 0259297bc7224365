"""Fixtures of the alerting tests: a receiver, alerts on the test's database, a held lock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage.alerts import Fence
from tests.alerting.notify_support import Alerts, held_lock
from tests.receivers import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver listening for the test."""
    with receiving() as got:
        yield got


@pytest.fixture
def alerts(engine: Engine) -> Alerts:
    """Alerts on the test's database."""
    return Alerts(engine)


@pytest.fixture
def fence(tmp_path: Path) -> Iterator[Fence]:
    """The fence of a leader lock the test holds."""
    lock = held_lock(tmp_path)
    yield lock.fence
    lock.release()
