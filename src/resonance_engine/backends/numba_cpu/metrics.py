"""Compiled kernels of the complexity measures (see
:class:`~resonance_engine.backends.base.MetricKernels`).

Work is split into tasks of (batch member, band of rows) run with ``prange``; inside a
band the vertical window sums are direct sums of the window's rows (gain; float64
running sums for windows wider than ``DIRECT_GAIN``, so they do not drift) or a ring of
horizontally filtered rows (Gaussian moments), so every cell of the input is read from
memory once and intermediate rows stay in cache. Arithmetic is in the field's dtype; the
frame sums add blocks of ``SUM_BLOCK`` cells, summed in that type, in float64.
"""

from __future__ import annotations

import functools
import os
import threading
import types
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from resonance_engine.backends.base import FrameParams
from resonance_engine.backends.box_grid import shift_factor, source_drop
from resonance_engine.backends.numba_cpu.field import FASTMATH
from resonance_engine.backends.numba_cpu.gaussian_moments import (
    column_scale,
    grouped_weights,
    moment_buffers,
    next_moments,
    padded_row,
)

#: Flags for code whose bits must not depend on the process (the dwell's exponentials,
#: the gain's one-pass window sums): without "contract" and "reassoc". With them, the code
#: compiled in a process and the same code loaded from numba's disk cache fused products
#: into FMAs or ordered sums differently, so tau (9th digit) and G (8th) differed between
#: a first (compiling) process and every later one, and sweeps gave other results on a
#: pool than in the client.
STABLE_FASTMATH = FASTMATH - {"contract", "reassoc"}

__all__ = [
    "frame_stats",
    "box_counts",
    "shifted_box_counts",
    "gain",
    "local_variance",
    "dwell",
    "recursive_dwell",
    "analyze_frame",
    "band_count",
]

#: Rows per band at least (fewer bands would leave a core idle, more would repeat the
#: window overlap of each band too often).
MIN_BAND_ROWS = 16


#: Below this many cells per call the kernels run on one thread (waking a thread pool
#: costs more than the work, and much more on a loaded machine).
SERIAL_CELLS = 1 << 16


#: Under passive OpenMP waiting (the package's default) waking the other threads costs
#: about 0.1 ms on a 2-core VM, as much as the statistics pass over 1024^2 cells: up to
#: this many cells that pass runs on the calling thread (measured: 0.13 ms serial against
#: 0.25 ms parallel at 1024^2, even at 2048^2; with OMP_WAIT_POLICY=ACTIVE the parallel
#: pass wins from 512^2 on and is used).
PASSIVE_SERIAL_STATS_CELLS = 1 << 22


def _serial(u: np.ndarray) -> bool:
    return u.size < SERIAL_CELLS or numba.get_num_threads() == 1


def _serial_stats(u: np.ndarray) -> bool:
    passive = os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"
    return _serial(u) or (passive and u.size <= PASSIVE_SERIAL_STATS_CELLS)


def _renamed(py_func: Callable[..., Any], name: str) -> types.FunctionType:
    """A copy of ``py_func`` named ``name``, for a second ``njit`` of the same code.

    Numba names a function's cache files after its qualified name and line, and its cache
    key holds the signature but not ``parallel``: a serial and a parallel dispatcher of one
    function share cache entries, so whichever compiles first is loaded for both (the
    parallel kernel then runs on one thread). A distinct name gives distinct cache files.
    """
    assert isinstance(py_func, types.FunctionType)
    func = types.FunctionType(
        py_func.__code__, py_func.__globals__, name, py_func.__defaults__, py_func.__closure__
    )
    func.__qualname__ = name
    return func


def band_count(batch: int, ny: int) -> int:
    """Bands of rows per member so that there are about 2 tasks per thread."""
    threads = numba.get_num_threads()
    want = -(-2 * threads // max(batch, 1))
    return int(max(1, min(want, ny // MIN_BAND_ROWS)))


#: Bit pattern of +inf as an int32: above every finite non-negative float32's.
_INF_BITS = 0x7F800000


@njit(inline="always")
def _positive_bits_min_max(x32, lo, hi):
    """(lo, hi) widened by the bit patterns of a float32 array of values >= 0 (no NaN).

    Non-negative IEEE floats order like their bit patterns read as integers, and integer
    min/max reductions vectorize (float ones do not, because of NaN semantics). The
    bounds stay bit patterns (see :func:`_bits_as_float`), so no row allocates.
    """
    bits = x32.view(np.int32)
    for j in range(bits.shape[0]):
        b = bits[j]
        lo = min(lo, b)
        hi = max(hi, b)
    return lo, hi


@njit(inline="always")
def _bits_as_float(bits):
    """The float32 whose bit pattern is ``bits``, as float64."""
    pair = np.empty(1, dtype=np.int32)
    pair[0] = bits
    return np.float64(pair.view(np.float32)[0])


def _frame_stats_py(u, nbands):
    b, ny, nx = u.shape
    band = -(-ny // nbands)
    part = np.zeros((b * nbands, 3))
    for task in prange(b * nbands):
        k = task // nbands
        i0 = (task % nbands) * band
        mag = np.empty(nx, dtype=np.float32)  # one buffer per task, not per row
        s1 = 0.0
        s2 = 0.0
        hi = np.int32(0)
        for i in range(i0, min(i0 + band, ny)):
            row = u[k, i]
            r1, r2 = _row_moments(row, mag)
            s1 += r1
            s2 += r2
            hi = _positive_bits_min_max(mag, np.int32(_INF_BITS), hi)[1]
        part[task, 0] = s1
        part[task, 1] = s2
        part[task, 2] = _bits_as_float(hi)  # max |u| (rounded to float32)
    out = np.zeros((b, 3))
    n = ny * nx
    for k in range(b):
        for q in range(nbands):
            out[k, 0] += part[k * nbands + q, 0]
            out[k, 1] += part[k * nbands + q, 1]
            out[k, 2] = max(out[k, 2], part[k * nbands + q, 2])
        out[k, 0] /= n
        out[k, 1] /= n
        # a NaN anywhere makes the sums NaN; keep max|u| honest too
        if not np.isfinite(out[k, 1]):
            out[k, 2] = out[k, 1]
    return out


@njit(fastmath=FASTMATH, cache=True)
def _row_moments(row, mag):
    """(sum u, sum u^2) of a row in float64; |u| as float32 into ``mag``."""
    s1 = 0.0
    s2 = 0.0
    for j in range(row.shape[0]):
        x = np.float64(row[j])
        s1 += x
        s2 += x * x
        mag[j] = abs(np.float32(row[j]))
    return s1, s2


_frame_stats_parallel = njit(parallel=True, fastmath=FASTMATH, cache=True)(
    _renamed(_frame_stats_py, "_frame_stats_parallel")
)
_frame_stats_serial = njit(fastmath=FASTMATH, cache=True)(
    _renamed(_frame_stats_py, "_frame_stats_serial")
)


def frame_stats(u: np.ndarray) -> np.ndarray:
    """Per member: mean, mean square and max |u|, shape (b, 3), float64."""
    serial = _serial_stats(u)
    kernel = _frame_stats_serial if serial else _frame_stats_parallel
    result: np.ndarray = kernel(u, 1 if serial else band_count(u.shape[0], u.shape[1]))
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
def _mask(u, thr, out):
    """out[k] = |u[k]| > thr[k] as uint8."""
    b, ny, nx = u.shape
    for r in prange(b * ny):
        k = r // ny
        i = r % ny
        _mask_row(u[k, i], u.dtype.type(thr[k]), out[k, i])


@njit(fastmath=FASTMATH, cache=True)
def _mask_row(row, th, dst):
    for j in range(row.shape[0]):
        dst[j] = np.uint8(abs(row[j]) > th)


def _reduce_level_py(occ, full, f, occ2, full2):
    """Aligned f x f boxes of a level: OR of the occupancy, AND of the fullness."""
    b, h, w = occ.shape
    h2 = occ2.shape[1]
    w2 = occ2.shape[2]
    for task in prange(b * h2):
        k = task // h2
        i2 = task % h2
        if f == 2:  # the common case, without inner loops (a missing child repeats one)
            ia = 2 * i2
            ib = min(ia + 1, h - 1)
            oa, ob, fa, fb = occ[k, ia], occ[k, ib], full[k, ia], full[k, ib]
            o2 = occ2[k, i2]
            f2 = full2[k, i2]
            for j2 in range(w // 2):  # whole pairs: no edge test in the loop
                o2[j2] = oa[2 * j2] | oa[2 * j2 + 1] | ob[2 * j2] | ob[2 * j2 + 1]
                f2[j2] = fa[2 * j2] & fa[2 * j2 + 1] & fb[2 * j2] & fb[2 * j2 + 1]
            if w % 2:
                o2[w2 - 1] = oa[w - 1] | ob[w - 1]
                f2[w2 - 1] = fa[w - 1] & fb[w - 1]
            continue
        r0 = f * i2
        r1 = min(h, r0 + f)
        for j2 in range(w2):
            c0 = f * j2
            c1 = min(w, c0 + f)
            o = np.uint8(0)
            fl = np.uint8(1)
            for r in range(r0, r1):
                for c in range(c0, c1):
                    o |= occ[k, r, c]
                    fl &= full[k, r, c]
            occ2[k, i2, j2] = o
            full2[k, i2, j2] = fl


@njit(cache=True)
def _offset_counts(occ, full, f, shifted, boundary, sel_y, sel_x, out, aligned_occ,
                   aligned_full):
    """Counts of f x f boxes of a level's flags with the box grid shifted by (oy, ox).

    out[k, oy * n + ox] for oy, ox in 0..n-1 (n = f when ``shifted``, else 1) where
    sel_y[k, oy] and sel_x[k, ox] are set (the others are left as they are): box (I, J)
    covers the flags of rows f I - oy .. f I - oy + f - 1 and the same in columns,
    clipped to the level (flags outside are inactive and do not break fullness). Per row
    of boxes the flags are OR-ed (AND-ed) over its rows, then prefix sums along the row
    answer "some active" and "all full" for every box of every column shift in O(1).
    When the aligned grid is the only one chosen of a member (the tight grid of a frame
    that spans the grid) its boxes are the flags ``aligned_occ`` (``aligned_full``) of the
    level above, (b, ceil(h / f), ceil(w / f)), and are counted there.
    """
    b, h, w = occ.shape
    n = f if shifted else 1
    for task in range(b * n):
        k = task // n
        oy = task % n
        if not sel_y[k, oy]:
            continue
        if oy == 0 and _only_first(sel_y[k]) and _only_first(sel_x[k]):
            out[k, 0] = _active_boxes(aligned_occ[k], aligned_full[k], boundary)
            continue
        some = np.zeros(w + 1, dtype=np.int32)  # prefix sums of the row-OR-ed occupancy
        every = np.zeros(w + 1, dtype=np.int32)  # prefix sums of the row-AND-ed fullness
        colo = np.empty(w, dtype=np.uint8)
        colf = np.empty(w, dtype=np.uint8)
        cnt = np.zeros(n, dtype=np.int64)
        for big_i in range((h + oy + f - 1) // f):
            r0 = max(0, f * big_i - oy)
            r1 = min(h, f * big_i - oy + f)
            colo[:] = occ[k, r0]
            colf[:] = full[k, r0]
            for r in range(r0 + 1, r1):
                row_o = occ[k, r]
                row_f = full[k, r]
                for j in range(w):
                    colo[j] |= row_o[j]
                    colf[j] &= row_f[j]
            for j in range(w):
                some[j + 1] = some[j] + colo[j]
                every[j + 1] = every[j] + colf[j]
            for ox in range(n):
                if not sel_x[k, ox]:
                    continue
                c = 0
                for big_j in range((w + ox + f - 1) // f):
                    c0 = max(0, f * big_j - ox)
                    c1 = min(w, f * big_j - ox + f)
                    active = some[c1] > some[c0]
                    if boundary:
                        c += active and every[c1] - every[c0] < c1 - c0
                    else:
                        c += active
                cnt[ox] += c
        for ox in range(n):
            if sel_x[k, ox]:
                out[k, oy * n + ox] = cnt[ox]


_reduce_parallel = njit(parallel=True, cache=True)(
    _renamed(_reduce_level_py, "_reduce_parallel")
)
_reduce_serial = njit(cache=True)(_renamed(_reduce_level_py, "_reduce_serial"))


def _reduce_level(occ: np.ndarray, full: np.ndarray, f: int, occ2: np.ndarray,
                  full2: np.ndarray) -> None:
    """Aligned f x f boxes of a level (serial below SERIAL_CELLS flags)."""
    kernel = _reduce_serial if _serial(occ) else _reduce_parallel
    kernel(occ, full, f, occ2, full2)


@njit(cache=True)
def _only_first(sel):
    """Whether only the first of the flags ``sel`` is set."""
    rest = np.uint8(0)
    for d in range(1, sel.shape[0]):
        rest |= sel[d]
    return sel[0] != 0 and rest == 0


@njit(cache=True)
def _active_boxes(occ, full, boundary):
    """Active (and, for ``boundary``, not full) flags of one level (h, w)."""
    c = 0
    for i in range(occ.shape[0]):
        o = occ[i]
        fl = full[i]
        for j in range(occ.shape[1]):
            c += o[j] & (np.uint8(1) - fl[j]) if boundary else o[j]
    return c


@njit(cache=True)
def _tight_select(lo, hi, n, sel):
    """sel[d] = 1 for the shifts d = 0..n-1 whose boxes of n flags cover flags lo..hi with
    the fewest boxes (the rule of :func:`~resonance_engine.backends.box_grid.tight_shifts`
    with step 1), else 0."""
    fewest = hi + n
    for d in range(n):
        fewest = min(fewest, (hi + d) // n - (lo + d) // n)
    for d in range(n):
        sel[d] = np.uint8((hi + d) // n - (lo + d) // n == fewest)


@njit(cache=True)
def _extent_k(fine, k, box):
    """box = first and last active row and column of member k of ``fine`` (b, h, w) flags,
    (0, h - 1, 0, w - 1) without one (as :func:`~resonance_engine.backends.box_grid.extent`)."""
    _, h, w = fine.shape
    box[0], box[1], box[2], box[3] = 0, h - 1, 0, w - 1
    r0 = 0
    while r0 < h and not _any_flag(fine[k, r0]):
        r0 += 1
    if r0 == h:
        return
    r1 = h - 1
    while not _any_flag(fine[k, r1]):
        r1 -= 1
    cols = fine[k, r0].copy()  # OR of the rows in between (vectorized)
    for i in range(r0 + 1, r1 + 1):
        row = fine[k, i]
        for j in range(w):
            cols[j] |= row[j]
    c0 = 0
    while not cols[c0]:
        c0 += 1
    c1 = w - 1
    while not cols[c1]:
        c1 -= 1
    box[0], box[1], box[2], box[3] = r0, r1, c0, c1


@njit(cache=True)
def _any_flag(row):
    """Whether a row of uint8 flags holds a non-zero one (OR-reduced, vectorized)."""
    acc = np.uint8(0)
    for j in range(row.shape[0]):
        acc |= row[j]
    return acc != 0


@njit(cache=True)
def _shifted_counts(mask0, occ1, full1, levels, boundary, base, shifted, factor, source,
                    fine_side, counts):
    """counts[:, first..levels] over shifted grids in one compiled call (see _min_counts).

    ``factor[l]`` and ``source[l]`` are the shifts per axis of level l's boxes and the
    pyramid level they are counted from; ``mask0`` is pyramid level 0 (base 3) and the
    extent's flags when ``fine_side`` is 1, else level 1 (``occ1``) holds the extent.
    """
    b = occ1.shape[0]
    occs = [mask0, occ1]
    fulls = [mask0, full1]
    for _ in range(2, levels + 1):  # the aligned levels up to the coarsest
        occ = occs[-1]
        full = fulls[-1]
        occ2 = np.empty((b, -(-occ.shape[1] // base), -(-occ.shape[2] // base)), np.uint8)
        full2 = np.empty_like(occ2)
        _reduce_serial(occ, full, base, occ2, full2)
        occs.append(occ2)
        fulls.append(full2)
    fine = occ1 if fine_side == base else mask0
    box = np.empty((b, 4), dtype=np.int64)
    if not boundary:
        for k in range(b):
            _extent_k(fine, k, box[k])
    for level in range(1 if base == 3 else 2, levels + 1):
        f = factor[level]
        n = f if shifted else 1
        out = np.zeros((b, n * n), dtype=np.int64)
        sel_y = np.ones((b, n), dtype=np.uint8)
        sel_x = np.ones((b, n), dtype=np.uint8)
        if not boundary:  # only the tight shifts (one of the f x f for a frame spanning the grid)
            unit = base**level // f // fine_side  # source-level flags per extent flag
            for k in range(b):
                _tight_select(box[k, 0] // unit, box[k, 1] // unit, n, sel_y[k])
                _tight_select(box[k, 2] // unit, box[k, 3] // unit, n, sel_x[k])
        _offset_counts(occs[source[level]], fulls[source[level]], f, shifted, boundary,
                       sel_y, sel_x, out, occs[level], fulls[level])
        for k in range(b):
            total = 0
            chosen = 0
            for oy in range(n):
                for ox in range(n):
                    if sel_y[k, oy] and sel_x[k, ox]:
                        total += out[k, oy * n + ox]
                        chosen += 1
            counts[k, level] = total / chosen


@functools.lru_cache(maxsize=64)
def _grid_tables(levels: int, base: int) -> tuple[np.ndarray, np.ndarray]:
    """Shifts per axis and source level of every level's boxes (box_grid's rules)."""
    factor = np.ones(levels + 1, dtype=np.int64)
    source = np.zeros(levels + 1, dtype=np.int64)
    for level in range(1, levels + 1):
        factor[level] = shift_factor(base**level, base)
        source[level] = level - source_drop(int(factor[level]), base)
    return factor, source


def _min_counts(
    mask0: np.ndarray | None,
    first: tuple[np.ndarray, np.ndarray],
    levels: int,
    boundary: bool,
    base: int,
    shifted: bool,
    counts: np.ndarray,
) -> None:
    """counts[:, 1..levels] over shifted grids: the mean count over the tight grids
    (occupancy; see ``numpy_ref.metrics.shifted_box_counts``) or over all (boundary).

    ``first`` is the aligned level 1 (f = base); ``mask0`` (b, ny, nx) uint8 the mask,
    needed for base 3 only (base-2 boxes of 2 cells are not shifted: ``counts[:, 1]`` is
    the caller's aligned count). A box of side s = base^l is counted from the aligned
    level l - source_drop(f) with f = shift_factor(s) (:mod:`~resonance_engine.backends.box_grid`),
    so that the shifts are multiples of s/2, s/4, s/8 or s/3 as in the numpy reference.
    The extent of the mask is taken in the flags of level 1 (cells for base 3, whose
    level 1 is counted from the mask): a coarser level's flags OR their children.
    """
    factor, source = _grid_tables(levels, base)
    fine_side = base if base == 2 or mask0 is None else 1
    level0 = first[0] if mask0 is None else mask0
    _shifted_counts(level0, first[0], first[1], levels, boundary, base, shifted, factor,
                    source, fine_side, counts)


def shifted_box_counts(
    u: np.ndarray,
    threshold: np.ndarray,
    levels: int,
    boundary: bool,
    base: int = 2,
    shifted: bool = True,
) -> np.ndarray:
    """Box counts over shifted grids at sizes base^0..base^levels (b, levels+1)."""
    b, ny, nx = u.shape
    mask0 = np.empty(u.shape, dtype=np.uint8)
    _mask(u, np.asarray(threshold, dtype=np.float64), mask0)
    counts = np.zeros((b, levels + 1))
    counts[:, 0] = mask0.reshape(b, -1).sum(axis=1)
    if levels == 0:
        return counts
    shape = (b, -(-ny // base), -(-nx // base))
    occ, full = np.empty(shape, dtype=np.uint8), np.empty(shape, dtype=np.uint8)
    _reduce_level(mask0, mask0, base, occ, full)
    if base == 2:  # boxes of 2 cells: the aligned level 1 only
        counts[:, 1] = [_active_boxes(occ[k], full[k], boundary) for k in range(b)]
    _min_counts(mask0, (occ, full), levels, boundary, base, shifted, counts)
    return counts


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _gain(u, window, inv_cnt_x, nbands, out):
    b, ny, nx = u.shape
    half = window // 2
    band = -(-ny // nbands)
    for task in prange(b * nbands):
        k = task // nbands
        i0 = (task % nbands) * band
        i1 = min(i0 + band, ny)
        if i0 >= i1:
            continue
        if window <= DIRECT_GAIN:
            padded = padded_row(nx, half, u.dtype)
            icx = inv_cnt_x.astype(u.dtype)
            for i in range(i0, i1):
                _direct_gain_row(u[k], i, half, icx, padded, out[k, i])
            continue
        colsum = np.zeros(nx)  # float64 column sums of |u| over the rows of the window
        gsum = np.empty(nx)
        for i in range(max(0, i0 - half), min(ny, i0 + half + 1)):
            _add_abs_row(u[k, i], 1.0, colsum)
        for i in range(i0, i1):
            rows_in = 1.0 / (min(ny, i + half + 1) - max(0, i - half))
            _gain_row(colsum, half, inv_cnt_x, rows_in, gsum, out[k, i])
            if i + half + 1 < ny:
                _add_abs_row(u[k, i + half + 1], 1.0, colsum)
            if i - half >= 0:
                _add_abs_row(u[k, i - half], -1.0, colsum)


@functools.lru_cache(maxsize=64)
def _inv_count(window: int, n: int) -> np.ndarray:
    """1 / (number of in-grid cells of the centred window) at each of n positions
    (cached: read-only)."""
    half = window // 2
    idx = np.arange(n)
    result: np.ndarray = 1.0 / (np.minimum(idx + half + 1, n) - np.maximum(idx - half, 0))
    result.flags.writeable = False
    return result


@functools.lru_cache(maxsize=64)
def _moment_weights(
    weights: bytes, nx: int, inward: bool, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """The grouped weights and column scale of the Gaussian moments in ``dtype`` (cached:
    read-only), from the float64 weights' bytes."""
    w = np.frombuffer(weights, dtype=np.float64)
    out = (grouped_weights(w, dtype), column_scale(w, nx, inward).astype(dtype))
    for a in out:
        a.flags.writeable = False
    return out


def gain(u: np.ndarray, window: int, out: np.ndarray) -> None:
    """Mean of |u| over the centred window x window square (truncated at the edges)."""
    _gain(u, window, _inv_count(window, u.shape[2]), band_count(u.shape[0], u.shape[1]), out)


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _local_variance(u, weights, r, shift, scale_x, nbands, inward, relative, rings, moments,
                    out):
    b, ny, nx = u.shape
    big = weights.shape[0] // 2
    band = -(-ny // nbands)
    for task in prange(b * nbands):
        k = task // nbands
        i0 = (task % nbands) * band
        i1 = min(i0 + band, ny)
        if i0 >= i1:
            continue
        x1 = padded_row(nx, big, u.dtype)
        s = u.dtype.type(shift[k])
        one = u.dtype.type(1.0)
        nxt = max(0, min(i0, ny - 1 - r) - big)  # next row to filter horizontally
        start = stop = i0
        inv = one
        for i in range(i0, i1):
            if i >= stop:
                rows, nxt, norm_inv = next_moments(u[k], i, i1, r, inward, s, one, weights,
                                                   scale_x, x1, rings[task], moments[task], nxt)
                start, stop = i, i + rows
                inv = u.dtype.type(norm_inv)
            o1 = moments[task, 0, i - start]
            o2 = moments[task, 1, i - start]
            dst = out[k, i]
            for j in range(nx):
                mean = o1[j] * inv
                sq = o2[j] * inv
                var = sq - mean * mean
                var = var if var > 0 else 0
                if relative:
                    var = min(var / sq, 1.0) if sq > 0 else 0
                dst[j] = var


def local_variance(
    u: np.ndarray,
    weights: np.ndarray,
    shift: np.ndarray,
    out: np.ndarray,
    inward: bool = False,
    relative: bool = False,
) -> None:
    """Gaussian-weighted local variance (separable; see ``MetricKernels.local_variance``)."""
    grouped = grouped_weights(weights, u.dtype)
    nbands = band_count(u.shape[0], u.shape[1])
    _local_variance(
        u, grouped, len(weights) // 2, np.asarray(shift, dtype=np.float64),
        column_scale(weights, u.shape[2], bool(inward)).astype(u.dtype), nbands, bool(inward),
        bool(relative), *moment_buffers(u.shape[0] * nbands, grouped, u.shape[2], u.dtype), out,
    )


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _dwell(  # noqa: PLR0913
    u, history, quantized, slots, lag_weights, slot_scale, inv_h, store_slot, store_scale, out
):
    b, ny, nx = u.shape
    for r in prange(b * ny):
        k = r // ny
        i = r % ny
        row = u[k, i]
        dst = out[k, i]
        for j in range(nx):
            dst[j] = 0
        if slots.shape[0] > 0:
            _dwell_lags_row(row, history[k], i, slots, lag_weights, slot_scale[k],
                            u.dtype.type(inv_h[k]), dst)
        if store_slot >= 0:
            _store_row(row, u.dtype.type(store_scale[k]), quantized, history[k, store_slot, i])


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


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _recursive_dwell(u, state, inv_h, decay, inc, rate, out):
    b, ny, nx = u.shape
    for r in prange(b * ny):
        k = r // ny
        i = r % ny
        dt = u.dtype.type
        _recursive_dwell_row(u[k, i], state[k, 0, i], state[k, 1, i], dt(inv_h[k]), decay,
                             dt(inc), dt(rate), out[k, i])


def recursive_dwell(
    u: np.ndarray,
    state: np.ndarray,
    inv_h: np.ndarray,
    decay: float,
    increment: float,
    rate: float,
    out: np.ndarray,
) -> None:
    """Recursive dwell (see ``MetricKernels.recursive_dwell``); updates ``state``."""
    _recursive_dwell(u, state, np.asarray(inv_h, dtype=np.float64), float(decay),
                     float(increment), float(rate), out)


# ---------------------------------------------------------------------------------------
# The analyzer's hot path: every measure of a frame in one pass over the rows.
# ---------------------------------------------------------------------------------------

_LOG2E = 1.4426950408889634
_LN2_HI = 0.693145751953125  # 16 significant bits: n * _LN2_HI is exact for n < 256
_LN2_LO = 1.4286068203094173e-06


@njit(inline="always", fastmath=STABLE_FASTMATH)
def _pow2_neg(n, dt):
    """2^-n for 0 <= n <= 58, exactly: the integer 2^(58 - n) as a float times 2^-58 (a
    shift and a conversion, which vectorize; a table lookup becomes a gather)."""
    return dt(np.int64(1) << np.int64(58 - n)) * dt(2.0**-58)


@njit(inline="always", fastmath=STABLE_FASTMATH)
def _exp_pair(x, dt):
    """(exp(-x), exp(-x) - 1) for x >= 0 in the type ``dt``, vectorizable (no libm call),
    both with a relative error below 1e-7 in float32 and 1e-12 in float64, however small
    x is.

    x = n ln 2 + r with |r| <= ln 2 / 2 (Cody-Waite); q = expm1(-r) by its Taylor
    polynomial, of degree 7 in float32 (relative truncation error |r|^7 / 8! < 2e-8) and
    10 in float64 (< 1e-12); then exp(-x) = 2^-n (1 + q) and exp(-x) - 1 = (2^-n - 1) +
    2^-n q (q itself for n = 0: no subtraction from 1, so 1 - exp(-x) keeps its precision
    for tiny x). x is clipped at 40 (exp(-40) = 4e-18). Every constant is a ``dt``: numba
    promotes float32 times a Python float to float64.
    """
    a = min(x, dt(40.0))
    n = np.int32(a * dt(_LOG2E) + dt(0.5))
    nf = dt(n)
    y = (nf * dt(_LN2_HI) - a) + nf * dt(_LN2_LO)  # -r
    if dt(1.0) + dt(1e-10) == dt(1.0):  # float32 (a constant: LLVM keeps one branch)
        q = y * (dt(1.0) + y * (dt(1.0 / 2) + y * (dt(1.0 / 6) + y * (dt(1.0 / 24) + y * (
            dt(1.0 / 120) + y * (dt(1.0 / 720) + y * dt(1.0 / 5040)))))))
    else:
        q = y * (dt(1.0) + y * (dt(1.0 / 2) + y * (dt(1.0 / 6) + y * (dt(1.0 / 24) + y * (
            dt(1.0 / 120) + y * (dt(1.0 / 720) + y * (dt(1.0 / 5040) + y * (
                dt(1.0 / 40320) + y * (dt(1.0 / 362880) + y * dt(1.0 / 3628800))))))))))
    scale = _pow2_neg(n, dt)
    sq = scale * q
    return scale + sq, (scale - dt(1.0)) + sq


# Row helpers of the fused kernel. They are compiled as separate functions (not inlined):
# small loops over one row that LLVM vectorizes reliably, which it does not always do
# inside one large function.


@njit(fastmath=STABLE_FASTMATH, cache=True)
def _recursive_dwell_row(row, prev, state, ih, decay, dt, rate, trow):
    """The exact step of dtau/dt = 1 - k tau over dt with k dt = rate + |u - prev| ih:
    tau = E tau_prev + dt (1 - E) / (k dt), E = decay exp(-|u - prev| ih); keeps u, tau.

    1 - E = (1 - decay) - decay expm1(-a) is a sum of two terms >= 0 (no cancellation
    for small steps); 1 - decay is taken in float64 from the float64 ``decay``.
    """
    dtype = row.dtype.type
    one = dtype(1.0)
    small = dtype(1e-6)
    keep = dtype(1.0 - decay)
    dec = dtype(decay)
    for j in range(row.shape[0]):
        a = abs(row[j] - prev[j]) * ih
        e, p = _exp_pair(a, dtype)
        kdt = rate + a
        gain = (keep - dec * p) / kdt if kdt > small else one - dtype(0.5) * kdt
        t = (dec * e) * state[j] + dt * gain
        trow[j] = t
        state[j] = t
        prev[j] = row[j]


@njit(inline="always", fastmath=FASTMATH)
def _local_coherence(m1, m2, inv, one, zero):
    """C = m1^2 / m2 of the normalized moments (1 where m2 == 0), at most 1."""
    mean = m1 * inv
    sq = m2 * inv
    c = mean * mean / sq if sq > zero else one
    return c if c < one else one


@njit(inline="always", fastmath=FASTMATH)
def _bounded_coherence(m1, m2, inv, ca, cb, one, zero):
    """C = 1 / (ca var + cb) of the normalized moments."""
    mean = m1 * inv
    var = m2 * inv - mean * mean
    var = var if var > zero else zero
    return one / (ca * var + cb)


@njit(fastmath=FASTMATH, cache=True)
def _coherence_row(m1, m2, inv, ca, cb, local, crow, c32):
    one = crow.dtype.type(1.0)
    zero = crow.dtype.type(0.0)
    if local:
        for j in range(m1.shape[0]):
            c = _local_coherence(m1[j], m2[j], inv, one, zero)
            crow[j] = c
            c32[j] = np.float32(c)
        return
    for j in range(m1.shape[0]):
        c = _bounded_coherence(m1[j], m2[j], inv, ca, cb, one, zero)
        crow[j] = c
        c32[j] = np.float32(c)


@njit(fastmath=FASTMATH, cache=True)
def _add_abs_row(src, sign, colsum):
    for j in range(src.shape[0]):
        colsum[j] += sign * abs(np.float64(src[j]))


@njit(fastmath=FASTMATH, cache=True)
def _gain_row(colsum, half_g, inv_cnt_x, rows_in, gsum, grow):
    nx = colsum.shape[0]
    for j in range(nx):
        gsum[j] = 0.0
    for t in range(-half_g, half_g + 1):
        lo = max(0, -t)
        hi = min(nx, nx - t)
        gd = gsum[lo:hi]
        gs = colsum[lo + t : hi + t]
        for j in range(hi - lo):
            gd[j] += gs[j]
    for j in range(nx):
        grow[j] = gsum[j] * inv_cnt_x[j] * rows_in


#: Gain windows up to this side are summed directly in the field's type, window rows per
#: cell (no running sums, so nothing drifts: every term is >= 0); wider ones by float64
#: running column sums (two rows per cell whatever the window).
DIRECT_GAIN = 9


@njit(fastmath=STABLE_FASTMATH, cache=True)
def _abs_rows_sum(u_k, lo, hi, dst):
    """dst = sum of |u_k[row]| over rows lo..hi-1 (lo < hi), two rows per pass (five
    rows, the default window's, in one pass: each pass loads and stores dst)."""
    if hi - lo == 5:
        r0, r1, r2, r3, r4 = u_k[lo], u_k[lo + 1], u_k[lo + 2], u_k[lo + 3], u_k[lo + 4]
        for j in range(dst.shape[0]):
            dst[j] = (abs(r0[j]) + (abs(r1[j]) + abs(r2[j]))) + (abs(r3[j]) + abs(r4[j]))
        return
    first = u_k[lo]
    for j in range(dst.shape[0]):
        dst[j] = abs(first[j])
    ii = lo + 1
    while ii + 1 < hi:
        a = u_k[ii]
        b = u_k[ii + 1]
        for j in range(dst.shape[0]):
            dst[j] += abs(a[j]) + abs(b[j])
        ii += 2
    if ii < hi:
        a = u_k[ii]
        for j in range(dst.shape[0]):
            dst[j] += abs(a[j])


@njit(fastmath=STABLE_FASTMATH, cache=True)
def _window_mean_row(padded, half, inv_cnt_x, rows_in, grow):
    """grow[j] = rows_in inv_cnt_x[j] sum of padded[half + j + t] over t = -half..half.

    ``padded`` holds the column sums with ``half`` zeros on each side (see
    :func:`padded_row`), so no tap needs an edge test; taps +t and -t are added together
    (in one pass for the default half width 2).
    """
    n = grow.shape[0]
    c = padded[half : half + n]
    if half == 2:
        p1, q1 = padded[3 : 3 + n], padded[1 : 1 + n]
        p2, q2 = padded[4 : 4 + n], padded[0:n]
        for j in range(n):
            grow[j] = ((c[j] + (p1[j] + q1[j])) + (p2[j] + q2[j])) * (inv_cnt_x[j] * rows_in)
        return
    for j in range(n):
        grow[j] = c[j]
    for t in range(1, half + 1):
        p = padded[half + t : half + t + n]
        q = padded[half - t : half - t + n]
        for j in range(n):
            grow[j] += p[j] + q[j]
    for j in range(n):
        grow[j] *= inv_cnt_x[j] * rows_in


@njit(fastmath=FASTMATH, cache=True)
def _direct_gain_row(u_k, i, half, inv_cnt_x, padded, grow):
    """Row i of the gain by direct window sums (``padded``: n + 2 half zeroed cells,
    ``inv_cnt_x`` in the field's type)."""
    ny, nx = u_k.shape
    lo = max(0, i - half)
    hi = min(ny, i + half + 1)
    _abs_rows_sum(u_k, lo, hi, padded[half : half + nx])
    _window_mean_row(padded, half, inv_cnt_x, grow.dtype.type(1.0 / (hi - lo)), grow)


@njit(inline="always", fastmath=FASTMATH)
def _weighted_similarity(x, past, sc, ih, w, one, zero):
    """w max(0, 1 - |x - past sc| ih): one lag of the seed's dwell (past as a float)."""
    sim = one - abs(x - past * sc) * ih
    return w * (sim if sim > zero else zero)


@njit(fastmath=FASTMATH, cache=True)
def _dwell_lags_row(row, hist_k, i, slots, lag_weights, slot_scale_k, ih, trow):
    """trow += sum over the lags of w * max(0, 1 - |row - past * sc| ih), the past rows i
    of the ring slots, added in the order of the lags, four lags per pass over the row."""
    one = row.dtype.type(1.0)
    zero = row.dtype.type(0.0)
    dt = row.dtype.type
    n = slots.shape[0]
    for lag in range(0, n, 4):
        if lag + 4 <= n:
            p0, p1, p2, p3 = (hist_k[slots[lag]][i], hist_k[slots[lag + 1]][i],
                              hist_k[slots[lag + 2]][i], hist_k[slots[lag + 3]][i])
            s0, s1, s2, s3 = (dt(slot_scale_k[slots[lag]]), dt(slot_scale_k[slots[lag + 1]]),
                              dt(slot_scale_k[slots[lag + 2]]), dt(slot_scale_k[slots[lag + 3]]))
            w0, w1, w2, w3 = (dt(lag_weights[lag]), dt(lag_weights[lag + 1]),
                              dt(lag_weights[lag + 2]), dt(lag_weights[lag + 3]))
            for j in range(row.shape[0]):
                x = row[j]
                t = trow[j] + _weighted_similarity(x, dt(p0[j]), s0, ih, w0, one, zero)
                t = t + _weighted_similarity(x, dt(p1[j]), s1, ih, w1, one, zero)
                t = t + _weighted_similarity(x, dt(p2[j]), s2, ih, w2, one, zero)
                trow[j] = t + _weighted_similarity(x, dt(p3[j]), s3, ih, w3, one, zero)
        else:
            for q in range(lag, n):
                past = hist_k[slots[q]][i]
                sc = dt(slot_scale_k[slots[q]])
                w = dt(lag_weights[q])
                for j in range(row.shape[0]):
                    trow[j] += _weighted_similarity(row[j], dt(past[j]), sc, ih, w, one, zero)


@njit(fastmath=FASTMATH, cache=True)
def _store_row(row, st, quantized, target):
    if quantized:
        half = row.dtype.type(0.5)
        for j in range(row.shape[0]):
            q = np.floor(row[j] * st + half)
            q = min(max(q, -32767.0), 32767.0)
            target[j] = np.int16(q)
    else:
        for j in range(row.shape[0]):
            target[j] = row[j] * st


#: Cells per block of the row sums: each block is summed in the field's type (LLVM keeps
#: 32 partial sums, every term >= 0, so the relative error stays below about 40 units in
#: the last place: 2.4e-6 in float32) and the blocks are added in float64.
SUM_BLOCK = 1024


@njit(inline="always", fastmath=STABLE_FASTMATH)
def _add_cell(g, c, tau, gi, dt, s_g, s_c, s_t, s_gch, s_gh):
    """The five row sums of :func:`_sums_row` with one more cell added."""
    gh = -g * _exp_pair(tau * gi, dt)[1]
    return s_g + g, s_c + c, s_t + tau, s_gch + gh * c, s_gh + gh


@njit(inline="always")
def _add_block(acc, s_g, s_c, s_t, s_gch, s_gh):
    acc[0] += np.float64(s_g)
    acc[1] += np.float64(s_c)
    acc[2] += np.float64(s_t)
    acc[3] += np.float64(s_gch)
    acc[4] += np.float64(s_gh)


@njit(fastmath=FASTMATH, cache=True)
def _sums_row(grow, crow, trow, gamma_inv, acc):
    """acc += (sum G, sum C, sum tau, sum G C h, sum G h) over the row, h = 1 - exp(-tau
    gamma_inv); in blocks of SUM_BLOCK cells summed in the field's type."""
    dt = grow.dtype.type
    gi = dt(gamma_inv)
    for j0 in range(0, grow.shape[0], SUM_BLOCK):
        gb = grow[j0 : j0 + SUM_BLOCK]  # slices: LLVM vectorizes a loop from 0
        cb = crow[j0 : j0 + SUM_BLOCK]
        tb = trow[j0 : j0 + SUM_BLOCK]
        s_g = s_c = s_t = s_gch = s_gh = dt(0.0)
        for j in range(gb.shape[0]):
            s_g, s_c, s_t, s_gch, s_gh = _add_cell(gb[j], cb[j], tb[j], gi, dt, s_g, s_c, s_t,
                                                   s_gch, s_gh)
        _add_block(acc, s_g, s_c, s_t, s_gch, s_gh)


@njit(fastmath=FASTMATH, cache=True)
def _box_pair_row(ra, rb, two, th, pair, orow, frow, boundary):
    """Level-1 boxes of a pair of rows; returns (active cells, counted boxes)."""
    nx = ra.shape[0]
    for j in range(nx):
        pair[j] = np.uint8(abs(ra[j]) > th)
    if two:
        for j in range(nx):
            pair[j] += np.uint8(abs(rb[j]) > th)
    rows = 2 if two else 1
    n_active = 0
    n_boxes = 0
    nx1 = orow.shape[0]
    for j1 in range(nx // 2):
        a2 = int(pair[2 * j1]) + int(pair[2 * j1 + 1])
        o = a2 > 0
        f = a2 == 2 * rows
        orow[j1] = o
        frow[j1] = f
        n_active += a2
        n_boxes += int((o and not f) if boundary else o)
    if nx1 > nx // 2:  # odd width: the last box is one column wide
        a2 = int(pair[nx - 1])
        o = a2 > 0
        f = a2 == rows
        orow[nx1 - 1] = o
        frow[nx1 - 1] = f
        n_active += a2
        n_boxes += int((o and not f) if boundary else o)
    return n_active, n_boxes


def _analyze_py(  # noqa: PLR0913, PLR0915 - one flat, cacheable kernel
    u, thr, boundary, half_g, inv_cnt_x, weights, r, scale_x, shift, coh_a, coh_b, gamma_inv,
    history, quantized, slots, lag_weights, slot_scale, inv_h, store_slot, store_scale,
    nbands, band, write, g_out, c_out, t_out, occ, full, sums, cnt,
    mscale, local, inward, write_mask, mask0, recursive, rec, decay, inc, rate, c_range,
    rings, moments,
):
    b, ny, nx = u.shape
    big = weights.shape[0] // 2
    nlag = slots.shape[0]
    for task in prange(b * nbands):
        k = task // nbands
        i0 = (task % nbands) * band
        i1 = min(i0 + band, ny)
        sums[task, 5] = np.inf
        sums[task, 6] = -np.inf
        if i0 >= i1:
            continue
        dt = u.dtype.type
        x1 = padded_row(nx, big, u.dtype)
        crow = np.empty(nx, dtype=u.dtype)
        grow = np.empty(nx, dtype=u.dtype)
        trow = np.empty(nx, dtype=u.dtype)
        c32 = np.empty(nx, dtype=np.float32)
        gsum = np.empty(nx)
        colsum = np.zeros(nx)
        pair = np.empty(nx, dtype=np.uint8)
        acc = np.zeros(5)
        s = dt(shift[k])
        ms = dt(mscale[k])
        inc_k = dt(inc)
        rate_k = dt(rate)
        th = dt(thr[k])
        ih = dt(inv_h[k])
        ca = dt(coh_a)
        cb = dt(coh_b)
        direct = 2 * half_g + 1 <= DIRECT_GAIN
        gpad = padded_row(nx, half_g if direct else 0, u.dtype)
        icx = inv_cnt_x.astype(u.dtype)
        for ii in range(max(0, i0 - half_g), min(ny, i0 + half_g + 1) if not direct else 0):
            _add_abs_row(u[k, ii], 1.0, colsum)
        nxt = max(0, min(i0, ny - 1 - r) - big)  # next row to filter horizontally
        start = stop = i0
        inv = dt(1.0)
        c_lo = np.int32(_INF_BITS)  # bit patterns of the min and max of C
        c_hi = np.int32(0)
        n_active = 0
        n_boxes = 0
        for i in range(i0, i1):
            row = u[k, i]
            # Gaussian moments of this row (computed with the next BLOCK - 1 where they can)
            if i >= stop:
                rows, nxt, norm_inv = next_moments(u[k], i, i1, r, inward, s, ms, weights,
                                                   scale_x, x1, rings[task], moments[task], nxt)
                start, stop = i, i + rows
                inv = dt(norm_inv)
            m1 = moments[task, 0, i - start]
            m2 = moments[task, 1, i - start]
            _coherence_row(m1, m2, inv, ca, cb, local, crow, c32)
            if c_range:
                c_lo, c_hi = _positive_bits_min_max(c32, c_lo, c_hi)
            # gain: window sum along x of the running column sums of |u|
            if direct:
                _direct_gain_row(u[k], i, half_g, icx, gpad, grow)
            else:
                rows_in = 1.0 / (min(ny, i + half_g + 1) - max(0, i - half_g))
                _gain_row(colsum, half_g, inv_cnt_x, rows_in, gsum, grow)
                if i + half_g + 1 < ny:
                    _add_abs_row(u[k, i + half_g + 1], 1.0, colsum)
                if i - half_g >= 0:
                    _add_abs_row(u[k, i - half_g], -1.0, colsum)
            # dwell: bounded similarity to each past frame, then store this row
            if recursive:
                _recursive_dwell_row(row, rec[k, 0, i], rec[k, 1, i], ih, decay, inc_k, rate_k,
                                     trow)
            else:
                for j in range(nx):
                    trow[j] = 0
            if nlag > 0:
                _dwell_lags_row(row, history[k], i, slots, lag_weights, slot_scale[k], ih, trow)
            if store_slot >= 0:
                _store_row(row, dt(store_scale[k]), quantized, history[k, store_slot, i])
            _sums_row(grow, crow, trow, gamma_inv, acc)
            if write:
                g_out[k, i, :] = grow
                c_out[k, i, :] = crow
                t_out[k, i, :] = trow
            if write_mask:
                _mask_row(row, th, mask0[k, i])
            # boxes of 2 x 2 cells, once both rows of a pair are done
            if i % 2 == 1 or i == ny - 1:
                ia = i - i % 2
                two = ia + 1 < ny
                na, nb = _box_pair_row(u[k, ia], u[k, ia + 1] if two else u[k, ia], two, th,
                                       pair, occ[k, ia // 2], full[k, ia // 2], boundary)
                n_active += na
                n_boxes += nb
        for q in range(5):
            sums[task, q] = acc[q]
        if c_range:
            sums[task, 5] = _bits_as_float(c_lo)
            sums[task, 6] = _bits_as_float(c_hi)
        cnt[task, 0] = n_active
        cnt[task, 1] = n_boxes


_analyze_parallel = njit(parallel=True, fastmath=FASTMATH, cache=True)(
    _renamed(_analyze_py, "_analyze_parallel")
)
_analyze_serial = njit(parallel=False, fastmath=FASTMATH, cache=True)(
    _renamed(_analyze_py, "_analyze_serial")
)


@njit(cache=True)
def _pyramid_counts(occ, full, levels, boundary, counts):
    """Counts at levels 2.. by reducing the level-1 pyramids in place (serial, small)."""
    b, ny, nx = occ.shape
    for k in range(b):
        h = ny
        w = nx
        for level in range(2, levels + 1):
            h2 = (h + 1) // 2
            w2 = (w + 1) // 2
            n = 0
            for i2 in range(h2):
                ia = 2 * i2
                ib = min(ia + 1, h - 1)
                for j2 in range(w2):
                    ja = 2 * j2
                    jb = min(ja + 1, w - 1)
                    o = occ[k, ia, ja] | occ[k, ia, jb] | occ[k, ib, ja] | occ[k, ib, jb]
                    f = full[k, ia, ja] & full[k, ia, jb] & full[k, ib, ja] & full[k, ib, jb]
                    occ[k, i2, j2] = o
                    full[k, i2, j2] = f
                    if boundary:
                        n += o & (1 - f)
                    else:
                        n += o
            counts[k, level] = n
            h = h2
            w = w2


_scratch = threading.local()  # level-1 box pyramids, per thread and shape


def _moment_scratch(
    tasks: int, weights: np.ndarray, nx: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """The moment buffers of :func:`moment_buffers`, kept per thread between frames."""
    key = (tasks, len(weights), nx, dtype)
    if getattr(_scratch, "moment_key", None) != key:
        _scratch.moments = moment_buffers(tasks, weights, nx, dtype)
        _scratch.moment_key = key
    buffers: tuple[np.ndarray, np.ndarray] = _scratch.moments
    return buffers


def analyze_frame(
    u: np.ndarray, params: FrameParams, fields: tuple[np.ndarray, ...] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Every measure of a frame in one compiled pass (see ``MetricKernels.analyze_frame``)."""
    p = params
    b, ny, nx = u.shape
    serial = _serial(u)
    nbands = 1 if serial else band_count(b, ny)
    band = -(-ny // nbands)
    band += band % 2  # bands start on even rows: the 2 x 2 boxes stay inside a task
    nbands = -(-ny // band)
    key = (b, ny, nx, u.dtype)
    if getattr(_scratch, "key", None) != key:
        _scratch.occ = np.empty((b, -(-ny // 2), -(-nx // 2)), dtype=np.uint8)
        _scratch.full = np.empty_like(_scratch.occ)
        _scratch.dummy = np.empty((1, 1, 1), dtype=u.dtype)
        _scratch.dummy4 = np.empty((1, 1, 1, 1), dtype=u.dtype)
        _scratch.mask0 = np.empty((1, 1, 1), dtype=np.uint8)
        _scratch.key = key
    occ, full = _scratch.occ, _scratch.full
    write_mask = p.base != 2  # base-2 shifted counts start from the fused level 1
    if write_mask and _scratch.mask0.shape != u.shape:
        _scratch.mask0 = np.empty(u.shape, dtype=np.uint8)
    recursive = p.recursive is not None
    mscale = np.ones(b) if p.moment_scale is None else p.moment_scale
    sums = np.empty((b * nbands, 7))
    cnt = np.zeros((b * nbands, 2), dtype=np.int64)
    half_g = p.gain_window // 2
    inv_cnt_x = _inv_count(p.gain_window, nx)
    write = fields is not None
    g_out, c_out, t_out = fields if fields is not None else (_scratch.dummy,) * 3
    kernel = _analyze_serial if serial else _analyze_parallel
    weights, scale_x = _moment_weights(
        np.asarray(p.weights, dtype=np.float64).tobytes(), nx, bool(p.inward), u.dtype
    )
    kernel(
        u, np.asarray(p.threshold, dtype=np.float64), bool(p.boundary), half_g, inv_cnt_x,
        weights, len(p.weights) // 2, scale_x,
        np.asarray(p.shift, dtype=np.float64), float(p.coh_a), float(p.coh_b),
        1.0 / float(p.gamma), p.history, p.history.dtype == np.int16,
        np.asarray(p.slots, dtype=np.int64), np.asarray(p.lag_weights, dtype=np.float64),
        np.asarray(p.slot_scale, dtype=np.float64), np.asarray(p.inv_h, dtype=np.float64),
        int(p.store_slot), np.asarray(p.store_scale, dtype=np.float64),
        nbands, band, write, g_out, c_out, t_out, occ, full, sums, cnt,
        np.asarray(mscale, dtype=np.float64), bool(p.coh_local), bool(p.inward), write_mask,
        _scratch.mask0, recursive, p.recursive if recursive else _scratch.dummy4,
        float(p.decay), float(p.increment), float(p.decay_rate), bool(p.c_range),
        *_moment_scratch(b * nbands, weights, nx, u.dtype),
    )
    per = sums.reshape(b, nbands, 7)
    out = np.empty((b, 7))
    out[:, :5] = per[:, :, :5].sum(axis=1)
    out[:, 5] = per[:, :, 5].min(axis=1)
    out[:, 6] = per[:, :, 6].max(axis=1)
    counts = np.zeros((b, p.levels + 1))
    c = cnt.reshape(b, nbands, 2).sum(axis=1)
    counts[:, 0] = c[:, 0]
    if write_mask:  # base 3: level 1 from the mask
        mask0 = _scratch.mask0
        shape = (b, -(-ny // 3), -(-nx // 3))
        occ3, full3 = np.empty(shape, dtype=np.uint8), np.empty(shape, dtype=np.uint8)
        _reduce_level(mask0, mask0, 3, occ3, full3)
        _min_counts(mask0, (occ3, full3), p.levels, bool(p.boundary), 3, bool(p.offsets),
                    counts)
        return out, counts
    if p.offsets and p.levels >= 1:
        counts[:, 1] = c[:, 1]
        _min_counts(None, (occ, full), p.levels, bool(p.boundary), 2, True, counts)
        return out, counts
    if p.levels >= 1:
        counts[:, 1] = c[:, 1]
    if p.levels >= 2:
        _pyramid_counts(occ, full, p.levels, bool(p.boundary), counts)
    return out, counts
