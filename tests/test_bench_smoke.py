"""The benchmark suite runs end to end in its quick version; timings are never asserted.

One ``python -m bench --quick`` runs every benchmark once for the whole module: the log
records the log benchmarks start from are loaded once, as in a real run.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bench.__main__ import BENCHMARKS
from tests.services import pg_admin_url, unavailable

ROOT = Path(__file__).resolve().parent.parent
ROWS = {
    "write_postgres": 2,
    "write_sqlite": 2,
    "write_sweep": 6,
    "query": 4,
    "collect_cpu": 1,
    "idle_cpu": 2,
    "auth_overhead": 2,
    "timing_overhead": 1,
    "long_range": 4,
    "collect_postgres": 1,
    "metrics_render": 1,
    "rss": 4,
    "logs_write": 6,
    "logs_ingest": 1,
    "logs_query": 4,
    "logs_http": 12,
    "logs_export": 2,
    "logs_tail": 2,
    "live_sweep": 7,
    "log_fingerprint": 2,
    "alerts_latency": 2,
    "alerts_evaluate": 2,
    "diagnostics_statements": 1,
    "diagnostics_changes": 2,
    "diagnostics_summary": 1,
    "overview_refresh": 2,
    "logs_page": 2,
    "overview_long_tasks": 4,
}
"""Rows each benchmark reports."""
BROWSER = {"overview_long_tasks"}
"""Benchmarks that drive Chromium."""
SIGNED = ("live sweep CPU per extra client",)
"""Rows that report a change, which may be zero or below."""
COUNTS = {"tasks"}
"""Units of rows that count events, which may be zero."""


def _require_postgres() -> None:
    """Skip (fail in CI) when the test PostgreSQL server does not answer."""
    engine = create_engine(pg_admin_url(), connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means: no server to run on
        unavailable("PostgreSQL", exc)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """The JSON result rows of one ``python -m bench --quick``, by benchmark."""
    _require_postgres()
    output = tmp_path_factory.mktemp("bench") / "latest.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "PULSEBOARD_BENCH_DATABASE_URL": pg_admin_url()},
    )
    assert completed.returncode == 0, completed.stderr
    assert "benchmark" in completed.stdout and "raw baseline" in completed.stdout
    rows: dict[str, list[dict]] = {}
    for row in json.loads(output.read_text())["results"]:
        rows.setdefault(row["bench"], []).append(row)
    return rows


def test_every_benchmark_is_smoke_tested() -> None:
    assert set(ROWS) == set(BENCHMARKS)


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=[pytest.mark.browser] if n in BROWSER else []) for n in ROWS],
)
def test_benchmark_produces_numbers(quick_run: dict[str, list[dict]], name: str) -> None:
    results = quick_run.get(name, [])
    assert len(results) == ROWS[name]
    for row in results:  # positive, finite figures (their size is never checked)
        figures = [row["ours"]] if row["baseline"] is None else [row["ours"], row["baseline"]]
        assert all(math.isfinite(f) for f in figures), row
        if row["benchmark"].startswith(SIGNED):
            continue
        if row["unit"] in COUNTS:
            assert all(f >= 0 for f in figures), row
            continue
        assert all(f > 0 for f in figures), row
        if row["baseline"] is not None:
            assert row["ratio"] is not None and row["ratio"] > 0, row


def test_rss_breakdown_charges_imports_to_their_packages() -> None:
    from bench.rss import breakdown

    charged = dict(breakdown())
    assert charged["python"] > 0 and charged["sqlalchemy"] > 0
    assert "scipy" not in charged  # loaded only by a correlation search
