"""What changed: a series that changes in the window tops a crowd of noise, with the right
direction and means; constant series are left out and sparse ones use the volume method."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

from app.services import FieldError
from app.services.diagnostics import correlations
from storage.db import make_engine
from storage.metrics import MetricsStore, Sample

START = 1_800_000_000.0
WINDOW = 600.0
STEP = 10.0


def _samples(rng: np.random.Generator, noise: int) -> list[Sample]:
    """``noise`` series of steady noise, one that jumps up and gets jumpier in the window,
    one constant, and one sparse that drops in the window."""
    begin = START - 4 * WINDOW
    times = np.arange(begin, START + WINDOW, STEP)
    inside = times >= START
    out = []
    for i in range(noise):
        values = 50 + rng.normal(0, 1, times.size)
        out += [
            Sample(t, f"host-{i % 5}", "noise_value", v, {"i": str(i)})
            for t, v in zip(times, values, strict=True)
        ]
    shifted = np.where(inside, 80 + rng.normal(0, 6, times.size), 20 + rng.normal(0, 1, times.size))
    out += [Sample(t, "db-1", "pg_wait_seconds", v) for t, v in zip(times, shifted, strict=True)]
    out += [Sample(t, "db-1", "constant_value", 7.0) for t in times]
    sparse_times = [begin + 100, begin + 900, begin + 1700, START + 60, START + 300]
    sparse_values = [100.0, 101.0, 99.0, 10.0, 12.0]
    out += [
        Sample(t, "db-1", "rare_jobs", v) for t, v in zip(sparse_times, sparse_values, strict=True)
    ]
    return out


@pytest.fixture
def store(database_url):
    engine = make_engine(database_url)
    yield MetricsStore(engine)
    engine.dispose()


class _Runtime:
    def __init__(self, metrics: MetricsStore) -> None:
        self.metrics = metrics


def test_the_series_that_changed_ranks_first_with_its_direction_and_means(store):
    rng = np.random.default_rng(7)
    store.write(_samples(rng, noise=120))
    ranked = correlations.changes(_Runtime(store), START, START + WINDOW, limit=1000)
    top = ranked[0]
    assert (top["name"], top["host"], top["method"]) == ("pg_wait_seconds", "db-1", "ks")
    assert top["direction"] == "up"
    assert top["before"] == pytest.approx(20, abs=0.5)
    assert top["after"] == pytest.approx(80, abs=2)
    assert top["since"] == START
    names = [r["name"] for r in ranked]
    assert "constant_value" not in names
    assert names.count("noise_value") == 120


def test_a_sparse_series_is_scored_by_the_volume_method(store):
    store.write(_samples(np.random.default_rng(3), noise=5))
    ranked = correlations.changes(_Runtime(store), START, START + WINDOW)
    rare = next(r for r in ranked if r["name"] == "rare_jobs")
    assert rare["method"] == "volume"
    assert rare["direction"] == "down"
    assert rare["before"] == pytest.approx(100)
    assert rare["after"] == pytest.approx(11)
    # The mean fell by 89 % and every point of the window is below the baseline's mean.
    assert rare["score"] == pytest.approx(0.89)


def test_the_vectorised_statistic_is_scipys():
    rng = np.random.default_rng(11)
    before = rng.normal(0, 1, (40, 120))
    after = rng.normal(0.3, 1.5, (40, 30))
    before[3, :50] = np.nan  # rows with missing values compare only what they have
    after[5, ::3] = np.nan
    after[7] = np.round(after[7])  # and ties
    d, p = correlations.ks_statistics(before, after)
    for row in range(40):
        x, y = before[row], after[row]
        expected = ks_2samp(x[~np.isnan(x)], y[~np.isnan(y)], method="asymp")
        assert d[row] == pytest.approx(expected.statistic)
        assert p[row] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)


def test_windows_too_short_too_long_or_backwards_name_from():
    for start, end in ((START, START + 10), (START, START + 8 * 86400), (START, START - 60)):
        with pytest.raises(FieldError) as caught:
            correlations.windows(start, end)
        assert caught.value.field == "from"


def test_a_long_window_reads_the_rollups_in_whole_minutes(store):
    window = 2 * 3600.0
    times = np.arange(START - 5 * window, START + window, 30.0)
    values = np.where(times >= START, 5.0, 1.0) + np.sin(times)
    store.write([Sample(t, "h", "load", v) for t, v in zip(times, values, strict=True)])
    store.rollup(START + 2 * window)
    span = correlations.windows(START, START + window)
    assert span.step % 60 == 0
    grid = store.bucket_grid(span.baseline, span.end, span.step)
    assert grid.counts.sum() == np.sum((times >= span.baseline) & (times < span.end))
    top = correlations.changes(_Runtime(store), START, START + window)[0]
    assert (top["name"], top["direction"]) == ("load", "up")
