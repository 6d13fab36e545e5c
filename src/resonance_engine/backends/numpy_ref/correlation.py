"""Windowed Pearson statistics of many series in plain numpy (the reference).

For each group, over the first ``count`` samples of every series x_i: a series is valid
when its sum of squared deviations exceeds 1e-10 of its sum of squares (constant or
non-finite series are not); z_i(t) = (x_i(t) - mean_i) / sqrt(sum_t (x_i - mean_i)^2) for
valid series; with Z(t) = sum_i z_i(t) over the m valid series, sum_ij r_ij = sum_t Z(t)^2,
so the mean over pairs i < j is (sum_t Z^2 - m) / (m (m - 1)), and series i's mean
correlation with the others is (sum_t z_i Z - 1) / (m - 1). O(count x n), no matrix.
"""

from __future__ import annotations

import numpy as np

__all__ = ["window_correlation"]


def window_correlation(
    buf: np.ndarray, count: int, with_per_series: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """See :func:`resonance_engine.backends.numba_cpu.correlation.window_correlation`."""
    x = buf[:count]  # (count, groups, n)
    dev = x - x.mean(axis=0)
    with np.errstate(invalid="ignore"):
        ss = (dev * dev).sum(axis=0)
        valid = ss > 1e-10 * (x * x).sum(axis=0) + np.finfo(np.float64).tiny
    scale = np.where(valid, 1.0 / np.sqrt(np.where(valid, ss, 1.0)), 0.0)
    z = np.where(valid, dev * scale, 0.0)
    z_sum = z.sum(axis=2)  # (count, groups)
    m = valid.sum(axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(m >= 2, ((z_sum**2).sum(axis=0) - m) / (m * (m - 1)), np.nan)
        per_series = None
        if with_per_series:
            own = np.einsum("tgi,tg->gi", z, z_sum)
            per_series = np.where(valid & (m[:, None] >= 2), (own - 1) / (m[:, None] - 1), np.nan)
    return mean, per_series
