"""The pool collector reports how much of the most the pool opens is in use."""

from __future__ import annotations

import threading
import time

from collectors.pool import PoolCollector, pool_state
from storage.db import make_engine
from tests.conftest import wait_until


def test_the_used_ratio_counts_checked_out_connections_against_size_plus_overflow(pg_url):
    engine = make_engine(pg_url, pool_size=2)
    try:
        with engine.connect(), engine.connect(), engine.connect():
            samples = {s.name: s.value for s in PoolCollector("h", engine).collect(time.time())}
        # Two kept plus two overflow: three in use is three quarters.
        assert samples["pulseboard_db_pool_checked_out"] == 3
        assert samples["pulseboard_db_pool_used_ratio"] == 0.75
    finally:
        engine.dispose()


def test_the_state_counts_threads_waiting_for_a_connection(pg_url):
    engine = make_engine(pg_url, pool_size=1)
    engine.pool._max_overflow = 0  # one connection in all, so a second caller must wait
    try:
        with engine.connect():
            waiter = threading.Thread(target=lambda: engine.connect().close())
            waiter.start()
            state = wait_until(lambda: (s := pool_state(engine)).waiting and s, 5)
            assert state.to_dict() == {"size": 1, "in_use": 1, "overflow": 0, "waiting": 1}
        waiter.join(5)
        assert pool_state(engine).waiting == 0
    finally:
        engine.dispose()
