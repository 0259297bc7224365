"""The benchmark suite runs end to end on tiny sizes; timings are never asserted."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.services import pg_admin_url, unavailable

ROOT = Path(__file__).resolve().parent.parent


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


def _run_bench(tmp_path: Path, *only: str) -> list[dict]:
    """Run ``python -m bench --quick`` on ``only``; return the JSON result rows."""
    output = tmp_path / "latest.json"
    args = [sys.executable, "-m", "bench", "--quick", "--output", str(output)]
    for name in only:
        args += ["--only", name]
    completed = subprocess.run(
        args,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "PULSEBOARD_BENCH_DATABASE_URL": pg_admin_url()},
    )
    assert completed.returncode == 0, completed.stderr
    assert "benchmark" in completed.stdout and "raw baseline" in completed.stdout
    return json.loads(output.read_text())["results"]


def _assert_numbers(results: list[dict], expected_rows: int) -> None:
    """Every row carries positive, finite figures (their size is never checked)."""
    assert len(results) == expected_rows
    for row in results:
        assert math.isfinite(row["ours"]) and row["ours"] > 0, row
        if row["baseline"] is not None:
            assert math.isfinite(row["baseline"]) and row["baseline"] > 0, row
            assert row["ratio"] is not None and row["ratio"] > 0, row


def test_sqlite_and_cpu_benchmarks_produce_numbers(tmp_path: Path) -> None:
    results = _run_bench(
        tmp_path,
        "write_sqlite",
        "collect_cpu",
        "auth_overhead",
        "timing_overhead",
        "metrics_render",
    )
    _assert_numbers(results, expected_rows=7)


def test_postgres_benchmarks_produce_numbers(tmp_path: Path) -> None:
    _require_postgres()
    results = _run_bench(
        tmp_path, "write_postgres", "write_sweep", "query", "long_range", "collect_postgres"
    )
    _assert_numbers(results, expected_rows=17)


def test_log_benchmarks_produce_numbers(tmp_path: Path) -> None:
    _require_postgres()
    results = _run_bench(
        tmp_path, "logs_write", "logs_ingest", "logs_query", "logs_export", "logs_tail"
    )
    _assert_numbers(results, expected_rows=16)


def test_log_search_http_benchmark_produces_numbers(tmp_path: Path) -> None:
    _require_postgres()
    _assert_numbers(_run_bench(tmp_path, "logs_http"), expected_rows=12)


def test_alerts_benchmarks_produce_numbers(tmp_path: Path) -> None:
    _require_postgres()
    results = _run_bench(tmp_path, "alerts_evaluate", "alerts_latency")
    _assert_numbers(results, expected_rows=4)


def test_diagnostics_benchmarks_produce_numbers(tmp_path: Path) -> None:
    _require_postgres()
    results = _run_bench(tmp_path, "diagnostics_statements", "diagnostics_summary")
    _assert_numbers(results, expected_rows=2)


def test_rss_benchmark_measures_an_idle_server_and_breaks_it_down(tmp_path: Path) -> None:
    from bench.rss import breakdown

    results = _run_bench(tmp_path, "rss")
    _assert_numbers(results, expected_rows=4)
    charged = dict(breakdown())
    assert charged["python"] > 0 and charged["sqlalchemy"] > 0
    assert "scipy" not in charged  # loaded only by a correlation search


def test_page_benchmarks_produce_numbers(tmp_path: Path) -> None:
    _require_postgres()
    results = _run_bench(tmp_path, "overview_refresh", "logs_page")
    _assert_numbers(results, expected_rows=4)
