"""Run the benchmarks, print the table and write ``bench/results/latest.json``."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import Result

BENCHMARKS = {
    "write_postgres": "bench.write_postgres",
    "write_sqlite": "bench.write_sqlite",
    "write_sweep": "bench.write_sweep",
    "query": "bench.query_range",
    "collect_cpu": "bench.collect_cpu",
    "idle_cpu": "bench.idle_cpu",
    "auth_overhead": "bench.auth_overhead",
    "timing_overhead": "bench.timing_overhead",
    "long_range": "bench.long_range",
    "collect_postgres": "bench.collect_postgres",
    "metrics_render": "bench.metrics_render",
    "rss": "bench.rss",
    "logs_write": "bench.logs_write",
    "logs_ingest": "bench.logs_ingest",
    "logs_query": "bench.logs_query",
    "logs_http": "bench.logs_http",
    "logs_export": "bench.logs_export",
    "logs_tail": "bench.logs_tail",
    "live_sweep": "bench.live_sweep",
    "log_fingerprint": "bench.log_fingerprint",
    "alerts_latency": "bench.alerts_latency",
    "alerts_evaluate": "bench.alerts_evaluate",
    "diagnostics_statements": "bench.diagnostics_statements",
    "diagnostics_changes": "bench.diagnostics_changes",
    "diagnostics_summary": "bench.diagnostics_summary",
    "overview_refresh": "bench.overview_refresh",
    "logs_page": "bench.logs_page",
    "overview_long_tasks": "bench.overview_long_tasks",
}
RESULTS_DIR = Path(__file__).parent / "results"


def format_number(value: float | None) -> str:
    """A figure with sensible precision, or '-' when there is none."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def with_range(value: float | None, spread: tuple[float, float] | None) -> str:
    """A median with the range of its rounds, when it has one."""
    if spread is None:
        return format_number(value)
    low, high = spread
    return f"{format_number(value)} ({format_number(low)}-{format_number(high)})"


def table(results: Sequence[Result]) -> str:
    """The results as a plain-text table, notes listed underneath."""
    header = ("benchmark", "ours", "raw baseline", "ratio", "target", "unit")
    rows = [
        (
            r.benchmark,
            with_range(r.ours, r.ours_range),
            with_range(r.baseline, r.baseline_range),
            "-" if r.ratio is None else f"{r.ratio:.2f}x",
            r.target,
            r.unit,
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    aligns = ["<", ">", ">", ">", "<", "<"]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, aligns, widths, strict=True))

    out = [line(header), "  ".join("-" * w for w in widths), *map(line, rows)]
    out.append("")
    out.append("ratio = how many times worse than the baseline (time ours/raw, rows/s raw/ours)")
    notes = dict.fromkeys(r.note for r in results if r.note)
    out.extend(f"* {note}" for note in notes)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the chosen benchmarks, report them."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, short windows")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        help="run only this benchmark (repeatable)",
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS_DIR / "latest.json", help="JSON results file"
    )
    args = parser.parse_args(argv)
    chosen = args.only or list(BENCHMARKS)
    rows: dict[str, list[Result]] = {}
    started = time.time()
    timings: dict[str, float] = {}
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        rows[name] = importlib.import_module(BENCHMARKS[name]).run(quick=args.quick)
        timings[name] = time.perf_counter() - began
        print(f"  {name} took {timings[name]:.1f} s", file=sys.stderr, flush=True)
    print(table([r for results in rows.values() for r in results]))
    print(f"{sum(timings.values()):.1f} s in all", file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "started": started,
        "quick": args.quick,
        "python": platform.python_version(),
        "machine": platform.platform(),
        "seconds": {name: round(seconds, 2) for name, seconds in timings.items()},
        "results": [
            {"bench": name, **r.to_dict()} for name, results in rows.items() for r in results
        ],
    }
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
