"""The pool collector reports how much of the most the pool opens is in use."""

from __future__ import annotations

import time

from collectors.pool import PoolCollector
from storage.db import make_engine


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
