"""Compiled windowed Pearson statistics of many series (the coordinator's CS per tick).

See :func:`resonance_engine.backends.numpy_ref.correlation.window_correlation` for the
definition; this kernel computes the same in O(window x series) per group without
forming the correlation matrix.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from resonance_engine.backends.numba_cpu.field import FASTMATH

__all__ = ["window_correlation"]

_TINY = float(np.finfo(np.float64).tiny)


@njit(cache=True, fastmath=FASTMATH)
def _window_correlation(buf, count, mean_out, per_series_out, with_per_series):
    _, groups, n = buf.shape
    mean = np.empty(n)
    scale = np.empty(n)
    ss = np.empty(n)
    sq = np.empty(n)
    z_sum = np.empty(count)
    for g in range(groups):
        mean[:] = 0.0
        for t in range(count):
            for i in range(n):
                mean[i] += buf[t, g, i]
        for i in range(n):
            mean[i] /= count
        ss[:] = 0.0
        sq[:] = 0.0
        for t in range(count):
            for i in range(n):
                x = buf[t, g, i]
                d = x - mean[i]
                ss[i] += d * d
                sq[i] += x * x
        valid = 0
        for i in range(n):
            # NaN compares false: a series with a NaN in its window is not valid
            if ss[i] > 1e-10 * sq[i] + _TINY:
                scale[i] = 1.0 / np.sqrt(ss[i])
                valid += 1
            else:
                scale[i] = 0.0
        for t in range(count):
            acc = 0.0
            for i in range(n):
                acc += (buf[t, g, i] - mean[i]) * scale[i] if scale[i] != 0.0 else 0.0
            z_sum[t] = acc
        total = 0.0
        for t in range(count):
            total += z_sum[t] * z_sum[t]
        mean_out[g] = (total - valid) / (valid * (valid - 1.0)) if valid >= 2 else np.nan
        if with_per_series:
            for i in range(n):
                if scale[i] == 0.0 or valid < 2:
                    per_series_out[g, i] = np.nan
                    continue
                acc = 0.0
                for t in range(count):
                    acc += (buf[t, g, i] - mean[i]) * z_sum[t]
                per_series_out[g, i] = (acc * scale[i] - 1.0) / (valid - 1.0)


def window_correlation(
    buf: np.ndarray, count: int, with_per_series: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean pairwise correlation per group and, optionally, each series' mean correlation.

    Parameters
    ----------
    buf : ndarray of float64, shape (window, groups, n)
        The samples; rows ``0 .. count-1`` are used (their order does not matter).
    count : int
        Samples in the window, >= 3.
    with_per_series : bool
        Also return each series' mean correlation with the other valid series.

    Returns
    -------
    mean : ndarray, shape (groups,)
        Mean of r_ij over pairs i < j of valid (non-constant, finite) series; NaN with
        fewer than two.
    per_series : ndarray, shape (groups, n), or None
    """
    groups, n = buf.shape[1], buf.shape[2]
    mean = np.empty(groups)
    per_series = np.empty((groups, n)) if with_per_series else np.empty((0, 0))
    _window_correlation(buf, count, mean, per_series, with_per_series)
    return mean, (per_series if with_per_series else None)
