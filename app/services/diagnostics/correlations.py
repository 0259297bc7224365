"""What changed: every metric series ranked by how differently it behaved in a window than
in the four times longer period before it (Netdata's metric correlations, DIAGNOSTICS.md).

A dense series is compared by the two-sample Kolmogorov-Smirnov test on the first
differences of its bucket averages (score = 1 - p); a sparse one by the volume method. All
series are tested at once on arrays: one read of the store, one sort, no loop per series.
Ranking uses a closed-form p-value; the rows reported get scipy's own.

numpy (about 10 MiB) and scipy load with the first search, not with the console: each
function that computes imports them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.runtime import Runtime
from app.services import FieldError
from app.services.timerange import check_range

if TYPE_CHECKING:
    import numpy as np

MIN_WINDOW = 15.0
"""Seconds: a shorter window holds too few points to say anything."""
MAX_WINDOW = 7 * 86400.0
"""Seconds: the baseline of a longer one would reach past the 1-minute rollups' retention."""
BASELINE_FACTOR = 4
WINDOW_POINTS = 30
"""Buckets the window is cut into (the baseline gets four times as many of the same width)."""
SPARSE_POINTS = 8
"""A series with fewer non-empty buckets than this in the window or in the baseline is
compared by the volume method: too few differences for the KS test to mean much."""
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Windows:
    """The window [start, end) and its baseline [baseline, start), bucketed by ``step``."""

    baseline: float
    start: float
    end: float
    step: int

    @property
    def split(self) -> int:
        """The number of baseline buckets (the window's come after them)."""
        return round((self.start - self.baseline) / self.step)


def windows(start: float, end: float) -> Windows:
    """The window and its baseline; FieldError names ``from`` when the window cannot be
    compared (it runs backwards, or is shorter than 15 s or longer than 7 days)."""
    check_range(start, end)
    span = end - start
    if span < MIN_WINDOW:
        raise FieldError("from", f"the window must be at least {MIN_WINDOW:g} s long")
    if span > MAX_WINDOW:
        raise FieldError("from", "the window must be at most 7 days long")
    step = max(1, math.ceil(span / WINDOW_POINTS))
    if step >= 60:  # whole minutes, so the buckets line up with the 1-minute rollups
        step = math.ceil(step / 60) * 60
        start = math.floor(start / 60) * 60
    points = math.ceil((end - start) / step)
    return Windows(start - BASELINE_FACTOR * points * step, start, start + points * step, step)


def ks_distances(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row by row, the two-sample KS statistic D of ``before`` against ``after`` (NaN marks
    a missing value) and the effective sample size n·m/(n+m); rows with an empty side get
    D = 0 and size 0."""
    import numpy as np

    n = np.sum(~np.isnan(before), axis=1)
    m = np.sum(~np.isnan(after), axis=1)
    values = np.concatenate([before, after], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.concatenate(
            [
                np.where(np.isnan(before), 0.0, 1.0 / n[:, None]),
                np.where(np.isnan(after), 0.0, -1.0 / m[:, None]),
            ],
            axis=1,
        )
    order = np.argsort(values, axis=1, kind="stable")  # NaN sorts last, with weight 0
    ordered = np.take_along_axis(values, order, axis=1)
    gaps = np.cumsum(np.take_along_axis(weights, order, axis=1), axis=1)
    # Between the empirical functions only where a run of equal values ends.
    last_of_run = np.ones_like(ordered, dtype=bool)
    last_of_run[:, :-1] = ordered[:, :-1] != ordered[:, 1:]
    d = np.max(np.where(last_of_run, np.abs(gaps), 0.0), axis=1)
    empty = (n == 0) | (m == 0)
    size = np.where(empty, 0.0, n * m / np.maximum(n + m, 1))
    return np.where(empty, 0.0, np.nan_to_num(d)), size


def ks_pvalues_fast(d: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Two-sided p-values of KS statistics from the limiting Kolmogorov distribution with
    Stephens' small-sample correction: one ufunc call for every row, within a few hundredths
    of scipy's (which costs most of a millisecond per value), and ordered alike for equal
    sizes. Used to rank; the rows reported get ``ks_pvalues``."""
    import numpy as np

    # scipy holds about 60 MiB once loaded: only a correlation search needs it.
    from scipy.special import kolmogorov

    root = np.sqrt(size)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(size > 0, (root + 0.12 + 0.11 / root) * d, 0.0)
    return np.clip(kolmogorov(scaled), 0.0, 1.0)


def ks_pvalues(d: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Two-sided p-values of KS statistics as ``scipy.stats.ks_2samp(method="asymp")``
    gives them (each distinct pair computed once)."""
    import numpy as np
    from scipy.stats import kstwo  # loaded on first use, as in ks_pvalues_fast

    pairs, inverse = np.unique(np.stack([d, np.round(size)], axis=1), axis=0, return_inverse=True)
    exact = np.where(pairs[:, 1] > 0, kstwo.sf(pairs[:, 0], np.maximum(pairs[:, 1], 1)), 1.0)
    return np.clip(exact[inverse.reshape(-1)], 0.0, 1.0)


def ks_statistics(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row by row, D and the two-sided p-value of ``before`` against ``after`` (NaN marks a
    missing value), as ``scipy.stats.ks_2samp(method="asymp")`` gives them; rows with an
    empty side get D = 0, p = 1."""
    d, size = ks_distances(before, after)
    return d, ks_pvalues(d, size)


def volume_scores(
    before: np.ndarray, after: np.ndarray, before_mean: np.ndarray, after_mean: np.ndarray
) -> np.ndarray:
    """Row by row, the volume method's score: the relative change of the mean (at most 1)
    times the share of the window's points beyond the baseline's mean, on the side the mean
    moved to."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(
            before_mean != 0,
            np.abs(after_mean - before_mean) / np.abs(before_mean),
            np.where(after_mean != 0, 1.0, 0.0),
        )
        up = after_mean >= before_mean
        beyond = np.where(up[:, None], after > before_mean[:, None], after < before_mean[:, None])
        share = np.sum(beyond & ~np.isnan(after), axis=1) / np.maximum(
            np.sum(~np.isnan(after), axis=1), 1
        )
    return np.minimum(np.nan_to_num(relative), 1.0) * share


def rank(
    before: np.ndarray,
    after: np.ndarray,
    before_counts: np.ndarray,
    after_counts: np.ndarray,
    before_sums: np.ndarray,
    after_sums: np.ndarray,
) -> dict[str, np.ndarray]:
    """Score every row (one series: bucket averages before and in the window, NaN for an
    empty bucket; with the buckets' sample counts and sums); see the module docstring.
    Returns arrays: ``score``, ``d`` (KS statistic, NaN for the volume method), ``sparse``,
    ``before``/``after`` (sample means), ``since`` (index of the window's first bucket
    outside the baseline's range, -1 if none) and ``keep`` (False: constant in both, or a
    side without samples)."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        before_mean = before_sums.sum(axis=1) / before_counts.sum(axis=1)
        after_mean = after_sums.sum(axis=1) / after_counts.sum(axis=1)
    both = np.concatenate([before, after], axis=1)
    constant = np.nanmax(both, axis=1) == np.nanmin(both, axis=1)
    filled_before = np.sum(before_counts > 0, axis=1)
    filled_after = np.sum(after_counts > 0, axis=1)
    keep = (filled_before > 0) & (filled_after > 0) & ~constant
    sparse = (filled_before < SPARSE_POINTS) | (filled_after < SPARSE_POINTS)
    d, size = ks_distances(np.diff(before, axis=1), np.diff(after, axis=1))
    volume = volume_scores(before, after, before_mean, after_mean)
    score = np.where(sparse, volume, 1.0 - ks_pvalues_fast(d, size))
    low, high = np.nanmin(before, axis=1), np.nanmax(before, axis=1)
    outside = (after < low[:, None]) | (after > high[:, None])
    since = np.where(outside.any(axis=1), np.argmax(outside, axis=1), -1)
    return {
        "score": score,
        "d": np.where(sparse, np.nan, d),
        "size": size,
        "sparse": sparse,
        "before": before_mean,
        "after": after_mean,
        "since": since,
        "keep": keep,
    }


def changes(rt: Runtime, start: float, end: float, limit: int = DEFAULT_LIMIT) -> list[dict]:
    """The series that changed most in [start, end) against the four times longer period
    before it, highest score first: ``{name, host, labels, score, direction, before,
    after, method, since}`` (``since``: when the window first left the baseline's range,
    or None). FieldError names a window that cannot be compared."""
    import numpy as np

    span = windows(start, end)
    grid = rt.metrics.bucket_grid(span.baseline, span.end, span.step)
    if not grid.series:
        return []
    cut = span.split
    averages = grid.averages
    with np.errstate(invalid="ignore"):
        result = rank(
            averages[:, :cut],
            averages[:, cut:],
            grid.counts[:, :cut],
            grid.counts[:, cut:],
            grid.sums[:, :cut],
            grid.sums[:, cut:],
        )
    kept = np.flatnonzero(result["keep"])
    # The reported rows get scipy's p-value; then they are put in order again by it.
    top = _ordered(kept, result)[:limit]
    dense = top[~result["sparse"][top]]
    result["score"][dense] = 1.0 - ks_pvalues(result["d"][dense], result["size"][dense])
    order = _ordered(top, result)
    out = []
    for i in order.tolist():
        _sid, name, host, labels = grid.series[i]
        since = int(result["since"][i])
        out.append(
            {
                "name": name,
                "host": host,
                "labels": labels,
                "score": round(float(result["score"][i]), 6),
                "direction": "up" if result["after"][i] >= result["before"][i] else "down",
                "before": float(result["before"][i]),
                "after": float(result["after"][i]),
                "method": "volume" if result["sparse"][i] else "ks",
                "since": None if since < 0 else span.start + since * span.step,
            }
        )
    return out


def _ordered(rows: np.ndarray, result: dict[str, np.ndarray]) -> np.ndarray:
    """``rows`` highest score first; among equal scores (p underflows to 0 for many) the
    larger D, then the larger relative move of the mean."""
    import numpy as np

    before, after = result["before"][rows], result["after"][rows]
    move = np.abs(after - before) / np.maximum(np.abs(before), 1e-12)
    d = np.nan_to_num(result["d"][rows], nan=0.0)
    return rows[np.lexsort((-np.nan_to_num(move), -d, -result["score"][rows]))]


def window_of(start: float, end: float) -> dict:
    """The window and baseline ``changes`` compares for [start, end), as epoch seconds."""
    span = windows(start, end)
    return {"baseline": span.baseline, "from": span.start, "to": span.end, "step": span.step}
