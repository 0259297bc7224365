"""What changed over 5,000 series (a 30-minute window against its 2-hour baseline, samples
every 5 or 10 s, on PostgreSQL): ``correlations.changes`` end to end, and its ranking
alone, vs a plain loop of one ``scipy.stats.ks_2samp`` per series over the same bucket
averages already in memory."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
from scipy.stats import ks_2samp

from app.services.diagnostics import correlations
from bench.common import Result, compared, paired_rounds, pg_database
from storage.db import make_engine
from storage.metrics import MetricsStore, Sample

WINDOW = 1800.0
END = 1_700_010_000.0
START = END - WINDOW
NAMES = 50
"""Metric names; each has as many series (hosts and labels) as the size asks."""
WRITE_BATCH = 200_000
TARGET = "seconds; report"


def load(store: MetricsStore, series: int, changed: int) -> None:
    """``series`` series over the window and its baseline, half sampled every 5 s and half
    every 10 s; series 0 to ``changed - 1`` move up and get jumpier in the window."""
    rng = np.random.default_rng(20261201)
    begin = START - correlations.BASELINE_FACTOR * WINDOW
    batch: list[Sample] = []
    for i in range(series):
        interval = 5.0 if i % 2 == 0 else 10.0
        times = np.arange(begin, END, interval) + rng.uniform(0, interval)
        times = times[times < END]
        level = rng.uniform(1, 100)
        values = level + rng.normal(0, level / 20, times.size)
        if i < changed:
            inside = times >= START
            values[inside] += level + rng.normal(0, level / 4, inside.sum())
        name = f"bench_metric_{i % NAMES}"
        host, labels = f"host-{i // NAMES % 20}", {"instance": str(i)}
        batch.extend(Sample(t, host, name, v, labels) for t, v in zip(times, values, strict=True))
        if len(batch) >= WRITE_BATCH:
            store.write(batch)
            batch = []
    store.write(batch)


def plain_loop(before: list[np.ndarray], after: list[np.ndarray]) -> list[tuple[float, int]]:
    """The baseline: one ks_2samp per series on first differences, ranked by 1 - p."""
    scored = []
    for i, (x, y) in enumerate(zip(before, after, strict=True)):
        dx, dy = np.diff(x), np.diff(y)
        if dx.size == 0 or dy.size == 0 or (np.ptp(x) == 0 and np.ptp(y) == 0):
            continue
        result = ks_2samp(dx, dy)
        scored.append((1.0 - result.pvalue, i))
    scored.sort(reverse=True)
    return scored


def run(quick: bool = False) -> list[Result]:
    """End to end and ranking-only medians against the plain loop."""
    series = 60 if quick else 5000
    changed = 3
    repeats = 3
    with pg_database() as url:
        engine = make_engine(url)
        store = MetricsStore(engine)
        loaded = time.perf_counter()
        load(store, series, changed)
        store.rollup(END)  # as the scheduler keeps them, a minute behind at most
        loaded = time.perf_counter() - loaded
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE metric_samples")
            samples = conn.exec_driver_sql("SELECT COUNT(*) FROM metric_samples").scalar_one()
        rt = SimpleNamespace(metrics=store)
        top = correlations.changes(rt, START, END, limit=changed)
        if sorted(int(c["labels"]["instance"]) for c in top) != list(range(changed)):
            raise RuntimeError(f"the changed series do not rank first: {top}")

        span = correlations.windows(START, END)
        grid = store.bucket_grid(span.baseline, span.end, span.step)
        averages, cut = grid.averages, span.split
        before = [row[~np.isnan(row)] for row in averages[:, :cut]]
        after = [row[~np.isnan(row)] for row in averages[:, cut:]]

        def ranking_only() -> object:
            with np.errstate(invalid="ignore"):
                return correlations.rank(
                    averages[:, :cut],
                    averages[:, cut:],
                    grid.counts[:, :cut],
                    grid.counts[:, cut:],
                    grid.sums[:, :cut],
                    grid.sums[:, cut:],
                )

        def loop() -> object:
            return plain_loop(before, after)

        ours = paired_rounds(lambda: correlations.changes(rt, START, END), loop, repeats)
        ranking = paired_rounds(ranking_only, loop, repeats)
        engine.dispose()
    note = (
        f"{series} series, {samples:,} samples (5-10 s) loaded in {loaded:.0f} s; "
        f"window {WINDOW / 60:.0f} min vs {correlations.BASELINE_FACTOR * WINDOW / 3600:.0f} h "
        f"baseline in {span.step} s buckets; the plain loop gets the bucket averages in memory; "
        f"median of {repeats} alternating rounds"
    )
    return [
        compared(
            f"what changed, {series} series, end to end on postgresql, vs a ks_2samp loop",
            ours,
            TARGET,
            note,
            unit="s",
        ),
        compared(
            f"what changed, {series} series, ranking alone (vectorised), vs a ks_2samp loop",
            ranking,
            TARGET,
            note,
            unit="s",
        ),
    ]
