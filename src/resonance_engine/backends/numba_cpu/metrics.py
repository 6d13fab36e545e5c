"""Compiled kernels of the complexity measures (see
:class:`~resonance_engine.backends.base.MetricKernels`).

Work is split into tasks of (batch member, band of rows) run with ``prange``; inside a
band the vertical window sums are running sums (gain) or a ring of horizontally
filtered rows (Gaussian moments), so every cell of the input is read from memory once
and intermediate rows stay in cache. Arithmetic is in the field's dtype except the
running sums, which accumulate in float64 so they do not drift.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from resonance_engine.backends.numba_cpu.field import FASTMATH

__all__ = ["frame_stats", "box_counts", "gain", "local_variance", "dwell", "band_count"]

#: Rows per band at least (fewer bands would leave a core idle, more would repeat the
#: window overlap of each band too often).
MIN_BAND_ROWS = 16


def band_count(batch: int, ny: int) -> int:
    """Bands of rows per member so that there are about 2 tasks per thread."""
    threads = numba.get_num_threads()
    want = -(-2 * threads // max(batch, 1))
    return int(max(1, min(want, ny // MIN_BAND_ROWS)))


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _frame_stats(u):
    b, ny, nx = u.shape
    part = np.zeros((b * ny, 3))
    for r in prange(b * ny):
        k = r // ny
        i = r % ny
        row = u[k, i]
        s1 = 0.0
        s2 = 0.0
        m = 0.0
        for j in range(nx):
            x = np.float64(row[j])
            s1 += x
            s2 += x * x
            a = abs(x)
            m = a if a > m else m
        part[r, 0] = s1
        part[r, 1] = s2
        part[r, 2] = m
    out = np.zeros((b, 3))
    n = ny * nx
    for k in range(b):
        for i in range(ny):
            out[k, 0] += part[k * ny + i, 0]
            out[k, 1] += part[k * ny + i, 1]
            out[k, 2] = max(out[k, 2], part[k * ny + i, 2])
        out[k, 0] /= n
        out[k, 1] /= n
        # a NaN anywhere makes the sums NaN; keep max|u| honest too
        if not np.isfinite(out[k, 1]):
            out[k, 2] = out[k, 1]
    return out


def frame_stats(u: np.ndarray) -> np.ndarray:
    """Per member: mean, mean square and max |u|, shape (b, 3), float64."""
    result: np.ndarray = _frame_stats(u)
    return result


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _box_base(u, thr, occ, full, count0):
    """Level 1 (2x2 boxes) of the occupancy/full pyramids and the count of active cells."""
    b, ny, nx = u.shape
    ny1 = occ.shape[1]
    nx1 = occ.shape[2]
    for r in prange(b * ny1):
        k = r // ny1
        i1 = r % ny1
        th = thr[k]
        i0 = 2 * i1
        two_rows = i0 + 1 < ny
        row0 = u[k, i0]
        row1 = u[k, i0 + 1] if two_rows else u[k, i0]
        c = 0
        for j1 in range(nx1):
            j0 = 2 * j1
            a = np.uint8(abs(row0[j0]) > th)
            n = np.uint8(1)
            if j0 + 1 < nx:
                a += np.uint8(abs(row0[j0 + 1]) > th)
                n += np.uint8(1)
            if two_rows:
                a += np.uint8(abs(row1[j0]) > th)
                n += np.uint8(1)
                if j0 + 1 < nx:
                    a += np.uint8(abs(row1[j0 + 1]) > th)
                    n += np.uint8(1)
            occ[k, i1, j1] = a > 0
            full[k, i1, j1] = a == n
            c += int(a)
        count0[r] = c


@njit(parallel=True, cache=True)
def _box_reduce(occ, full, occ2, full2):
    """One pyramid level up: OR of the occupancy and AND of the fullness of 2x2 children."""
    b, ny, nx = occ.shape
    ny2 = occ2.shape[1]
    nx2 = occ2.shape[2]
    for r in prange(b * ny2):
        k = r // ny2
        i2 = r % ny2
        i0 = 2 * i2
        i1 = min(i0 + 1, ny - 1)
        for j2 in range(nx2):
            j0 = 2 * j2
            j1 = min(j0 + 1, nx - 1)
            occ2[k, i2, j2] = occ[k, i0, j0] | occ[k, i0, j1] | occ[k, i1, j0] | occ[k, i1, j1]
            full2[k, i2, j2] = (
                full[k, i0, j0] & full[k, i0, j1] & full[k, i1, j0] & full[k, i1, j1]
            )


@njit(parallel=True, cache=True)
def _box_count(occ, full, boundary):
    b, ny, nx = occ.shape
    part = np.zeros(b * ny, dtype=np.int64)
    for r in prange(b * ny):
        k = r // ny
        i = r % ny
        c = 0
        for j in range(nx):
            if boundary:
                c += occ[k, i, j] & (1 - full[k, i, j])
            else:
                c += occ[k, i, j]
        part[r] = c
    out = np.zeros(b)
    for r in range(b * ny):
        out[r // ny] += part[r]
    return out


def box_counts(u: np.ndarray, threshold: np.ndarray, levels: int, boundary: bool) -> np.ndarray:
    """Box counts of |u| > threshold at sizes 1, 2, ..., 2**levels, shape (b, levels + 1)."""
    b, ny, nx = u.shape
    counts = np.zeros((b, levels + 1))
    ny1 = -(-ny // 2)
    occ = np.empty((b, ny1, -(-nx // 2)), dtype=np.uint8)
    full = np.empty_like(occ)
    count0 = np.zeros(b * ny1, dtype=np.int64)
    _box_base(u, np.asarray(threshold, dtype=u.dtype), occ, full, count0)
    counts[:, 0] = count0.reshape(b, ny1).sum(axis=1)
    if levels >= 1:
        counts[:, 1] = _box_count(occ, full, boundary)
    for level in range(2, levels + 1):
        occ2 = np.empty((b, -(-occ.shape[1] // 2), -(-occ.shape[2] // 2)), dtype=np.uint8)
        full2 = np.empty_like(occ2)
        _box_reduce(occ, full, occ2, full2)
        occ, full = occ2, full2
        counts[:, level] = _box_count(occ, full, boundary)
    return counts


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _gain(u, window, nbands, out):
    b, ny, nx = u.shape
    half = window // 2
    band = -(-ny // nbands)
    for task in prange(b * nbands):
        k = task // nbands
        i0 = (task % nbands) * band
        i1 = min(i0 + band, ny)
        if i0 >= i1:
            continue
        acc = np.zeros(nx)  # float64 column sums of |u| over the rows of the window
        for i in range(max(0, i0 - half), min(ny, i0 + half + 1)):
            row = u[k, i]
            for j in range(nx):
                acc[j] += abs(row[j])
        for i in range(i0, i1):
            rows_in = min(ny, i + half + 1) - max(0, i - half)
            dst = out[k, i]
            for j in range(nx):
                lo = max(0, j - half)
                hi = min(nx, j + half + 1)
                s = 0.0
                for jj in range(lo, hi):
                    s += acc[jj]
                dst[j] = s / (rows_in * (hi - lo))
            if i + half + 1 < ny:
                row = u[k, i + half + 1]
                for j in range(nx):
                    acc[j] += abs(row[j])
            if i - half >= 0:
                row = u[k, i - half]
                for j in range(nx):
                    acc[j] -= abs(row[j])


def gain(u: np.ndarray, window: int, out: np.ndarray) -> None:
    """Mean of |u| over the centred window x window square (truncated at the edges)."""
    _gain(u, window, band_count(u.shape[0], u.shape[1]), out)


@njit(inline="always", fastmath=FASTMATH)
def _smooth_row(x, weights, inv_norm, dst):
    """dst = sum_t w_t x[j + t] over in-grid taps, times the inverse in-grid weight sum."""
    nx = x.shape[0]
    r = weights.shape[0] // 2
    for j in range(nx):
        dst[j] = 0
    for t in range(-r, r + 1):
        w = weights[t + r]
        lo = max(0, -t)
        hi = min(nx, nx - t)
        for j in range(lo, hi):
            dst[j] += w * x[j + t]
    for j in range(nx):
        dst[j] *= inv_norm[j]


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _local_variance(u, weights, shift, inv_norm_x, nbands, out):
    b, ny, nx = u.shape
    r = weights.shape[0] // 2
    m = 2 * r + 1
    band = -(-ny // nbands)
    for task in prange(b * nbands):
        k = task // nbands
        i0 = (task % nbands) * band
        i1 = min(i0 + band, ny)
        if i0 >= i1:
            continue
        h1 = np.empty((m, nx), dtype=u.dtype)
        h2 = np.empty((m, nx), dtype=u.dtype)
        x1 = np.empty(nx, dtype=u.dtype)
        x2 = np.empty(nx, dtype=u.dtype)
        s = u.dtype.type(shift[k])
        nxt = max(0, i0 - r)  # next row to filter horizontally
        for i in range(i0, i1):
            last = min(ny - 1, i + r)
            while nxt <= last:
                row = u[k, nxt]
                for j in range(nx):
                    v = row[j] - s
                    x1[j] = v
                    x2[j] = v * v
                slot = nxt % m
                _smooth_row(x1, weights, inv_norm_x, h1[slot])
                _smooth_row(x2, weights, inv_norm_x, h2[slot])
                nxt += 1
            lo = max(0, i - r)
            hi = min(ny, i + r + 1)
            norm = 0.0
            for ii in range(lo, hi):
                norm += weights[ii - i + r]
            inv = u.dtype.type(1.0 / norm)
            dst = out[k, i]
            for j in range(nx):
                x1[j] = 0
                x2[j] = 0
            for ii in range(lo, hi):
                w = weights[ii - i + r]
                a = h1[ii % m]
                c = h2[ii % m]
                for j in range(nx):
                    x1[j] += w * a[j]
                    x2[j] += w * c[j]
            for j in range(nx):
                mean = x1[j] * inv
                var = x2[j] * inv - mean * mean
                dst[j] = var if var > 0 else 0


def _inv_norm(weights: np.ndarray, n: int) -> np.ndarray:
    """1 / (sum of the in-grid weights) at each of n positions along an axis."""
    r = len(weights) // 2
    c = np.concatenate([[0.0], np.cumsum(weights)])
    idx = np.arange(n)
    lo = np.maximum(0, r - idx)  # first in-grid tap
    hi = np.minimum(2 * r + 1, n - idx + r)
    result: np.ndarray = 1.0 / (c[hi] - c[lo])
    return result


def local_variance(
    u: np.ndarray, weights: np.ndarray, shift: np.ndarray, out: np.ndarray
) -> None:
    """Gaussian-weighted local variance (separable, in-grid weights renormalized)."""
    w = np.asarray(weights, dtype=u.dtype)
    _local_variance(
        u, w, np.asarray(shift, dtype=np.float64), _inv_norm(weights, u.shape[2]).astype(u.dtype),
        band_count(u.shape[0], u.shape[1]), out,
    )


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _dwell(  # noqa: PLR0913
    u, history, quantized, slots, lag_weights, slot_scale, inv_h, store_slot, store_scale, out
):
    b, ny, nx = u.shape
    n = slots.shape[0]
    one = u.dtype.type(1.0)
    zero = u.dtype.type(0.0)
    for r in prange(b * ny):
        k = r // ny
        i = r % ny
        row = u[k, i]
        dst = out[k, i]
        ih = u.dtype.type(inv_h[k])
        for j in range(nx):
            dst[j] = 0
        for lag in range(n):
            slot = slots[lag]
            w = u.dtype.type(lag_weights[lag])
            sc = u.dtype.type(slot_scale[k, slot])
            past = history[k, slot, i]
            for j in range(nx):
                d = abs(row[j] - past[j] * sc) * ih
                sim = one - d
                dst[j] += w * (sim if sim > zero else zero)
        if store_slot >= 0:
            target = history[k, store_slot, i]
            st = u.dtype.type(store_scale[k])
            if quantized:
                half = u.dtype.type(0.5)
                for j in range(nx):
                    q = np.floor(row[j] * st + half)
                    q = min(max(q, -32767.0), 32767.0)
                    target[j] = np.int16(q)
            else:
                for j in range(nx):
                    target[j] = row[j] * st


def dwell(
    u: np.ndarray,
    history: np.ndarray,
    slots: np.ndarray,
    lag_weights: np.ndarray,
    slot_scale: np.ndarray,
    inv_h: np.ndarray,
    store_slot: int,
    store_scale: np.ndarray,
    out: np.ndarray,
) -> None:
    """Weighted sum of bounded similarities to past frames; then store the new frame."""
    _dwell(
        u, history, history.dtype == np.int16,
        np.asarray(slots, dtype=np.int64), np.asarray(lag_weights, dtype=np.float64),
        np.asarray(slot_scale, dtype=np.float64), np.asarray(inv_h, dtype=np.float64),
        int(store_slot), np.asarray(store_scale, dtype=np.float64), out,
    )
