"""Row passes of the separable Gaussian moments (the local mean and mean square of C).

A row is filtered horizontally into a ring of rows, and the ring is summed vertically
into the moments of the row at its centre. Both passes pair the taps +t and -t of the
symmetric weights and add ``TAP_GROUP`` pairs per pass over the row, in one expression
held in registers: a pass that adds one tap at a time loads and stores its partial sums
once per tap, and these passes are bound by loads and stores, not arithmetic. The
horizontal pass squares the shifted values as it reads them (no second buffer to read).

The vertical pass reads 2 R + 1 ring rows per row, more than the first-level cache
holds at 1024 columns, so it computes ``BLOCK`` consecutive rows from one read of their
2 R + ``BLOCK`` ring rows. Each ring row is stored twice (slots g % m and g % m + m), so
the rows of any window are consecutive slots: one array with constant row offsets, which
LLVM vectorizes without a run-time alias check per row. Ring rows are ``ROW_PAD`` cells
longer than the field's rows: at 1024 float32 columns a stride of exactly 4 KiB maps the
16 rows a vertical block reads to one set of the 8-way first-level cache, and the block
ran 1.7x slower than at 2048 columns (1.23 against 0.72 ns per cell).

The weights are padded with zeros to a multiple of ``TAP_GROUP`` pairs
(:func:`grouped_weights`); a zero tap reads a zero of the padded row buffer or a finite
row of the ring, so it adds nothing.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from resonance_engine.backends.numba_cpu.field import FASTMATH

__all__ = [
    "TAP_GROUP",
    "BLOCK",
    "ROW_PAD",
    "grouped_weights",
    "column_scale",
    "padded_row",
    "moment_buffers",
    "next_moments",
]

#: Pairs of taps added per pass over a row (sigma 2, truncated at 3 sigma: 6 pairs).
TAP_GROUP = 6

#: Rows of moments computed per vertical pass (with the whole window in the grid and
#: R = TAP_GROUP; other rows one at a time).
BLOCK = 4

#: Extra cells at the end of every ring row (64 bytes in float32): see the module notes.
ROW_PAD = 16


def grouped_weights(weights: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The 2 r + 1 symmetric weights with zeros on both sides up to a multiple of
    ``TAP_GROUP`` pairs, shape (2 R + 1,), R = TAP_GROUP ceil(r / TAP_GROUP)."""
    r = len(weights) // 2
    big = max(TAP_GROUP, -(-r // TAP_GROUP) * TAP_GROUP)
    out = np.zeros(2 * big + 1, dtype=dtype)
    out[big - r : big + r + 1] = weights
    return out


def column_scale(weights: np.ndarray, n: int, inward: bool) -> np.ndarray:
    """1 / (sum of the in-grid weights) at each of n columns, shape (n,), float64.

    With ``inward`` edges (and a row of at least 2 r + 1 cells) every column holds a whole
    window's sum after :func:`inward_row`, so every column takes 1 / sum(weights).
    """
    r = len(weights) // 2
    if inward and n >= 2 * r + 1:
        return np.full(n, 1.0 / float(np.sum(weights)))
    c = np.concatenate([[0.0], np.cumsum(weights)])
    idx = np.arange(n)
    lo = np.maximum(0, r - idx)  # first in-grid tap
    hi = np.minimum(2 * r + 1, n - idx + r)
    result: np.ndarray = 1.0 / (c[hi] - c[lo])
    return result


@njit(inline="always")
def padded_row(n, r, dtype):
    """A zeroed row buffer of n cells with r more on each side."""
    return np.zeros(n + 2 * r, dtype=dtype)


@njit(inline="always")
def _shifted(x, c, t, n):
    """The six windows x[c + t + q : c + t + q + n] and the six x[c - t - q : ...]."""
    return (
        (x[c + t : c + t + n], x[c + t + 1 : c + t + 1 + n], x[c + t + 2 : c + t + 2 + n],
         x[c + t + 3 : c + t + 3 + n], x[c + t + 4 : c + t + 4 + n],
         x[c + t + 5 : c + t + 5 + n]),
        (x[c - t : c - t + n], x[c - t - 1 : c - t - 1 + n], x[c - t - 2 : c - t - 2 + n],
         x[c - t - 3 : c - t - 3 + n], x[c - t - 4 : c - t - 4 + n],
         x[c - t - 5 : c - t - 5 + n]),
    )


@njit(inline="always", fastmath=FASTMATH)
def _pair_sum(p, q, w, j):
    """sum over the six pairs of w[g] (p[g][j] + q[g][j])."""
    return (w[0] * (p[0][j] + q[0][j]) + w[1] * (p[1][j] + q[1][j])
            + w[2] * (p[2][j] + q[2][j]) + w[3] * (p[3][j] + q[3][j])
            + w[4] * (p[4][j] + q[4][j]) + w[5] * (p[5][j] + q[5][j]))


@njit(inline="always", fastmath=FASTMATH)
def _pair_moments(p, q, w, j):
    """(sum of w[g] (a + b), sum of w[g] (a^2 + b^2)) over the six pairs a, b = p[g][j],
    q[g][j]."""
    a0, b0, a1, b1, a2, b2 = p[0][j], q[0][j], p[1][j], q[1][j], p[2][j], q[2][j]
    a3, b3, a4, b4, a5, b5 = p[3][j], q[3][j], p[4][j], q[4][j], p[5][j], q[5][j]
    s1 = (w[0] * (a0 + b0) + w[1] * (a1 + b1) + w[2] * (a2 + b2)
          + w[3] * (a3 + b3) + w[4] * (a4 + b4) + w[5] * (a5 + b5))
    s2 = (w[0] * (a0 * a0 + b0 * b0) + w[1] * (a1 * a1 + b1 * b1) + w[2] * (a2 * a2 + b2 * b2)
          + w[3] * (a3 * a3 + b3 * b3) + w[4] * (a4 * a4 + b4 * b4) + w[5] * (a5 * a5 + b5 * b5))
    return s1, s2


@njit(fastmath=FASTMATH, cache=True)
def horizontal_moments_row(src, s, ms, weights, x1, d1, d2):
    """d1[j] = sum_t w_t v[j + t] and d2[j] = sum_t w_t v[j + t]^2 with v = (src - s) ms,
    over the in-grid taps (not normalized: see :func:`vertical_moments_row`).

    ``weights`` from :func:`grouped_weights` (2 R + 1 values); ``x1`` holds n + 2 R values
    whose first and last R stay 0 (:func:`padded_row`), so every tap reads inside it.
    """
    n = src.shape[0]
    big = weights.shape[0] // 2
    v = x1[big : big + n]
    for j in range(n):
        v[j] = (src[j] - s) * ms
    wc = weights[big]
    for t in range(1, big + 1, TAP_GROUP):
        w = weights[big + t : big + t + TAP_GROUP]
        p, q = _shifted(x1, big, t, n)
        if t == 1:
            for j in range(n):
                s1, s2 = _pair_moments(p, q, w, j)
                c = v[j]
                d1[j] = wc * c + s1
                d2[j] = wc * (c * c) + s2
        else:
            for j in range(n):
                s1, s2 = _pair_moments(p, q, w, j)
                d1[j] += s1
                d2[j] += s2


@njit(fastmath=FASTMATH, cache=True)
def inward_row(dst, r):
    """Copy the first and last full-window values over the r cells beyond them."""
    n = dst.shape[0]
    if n < 2 * r + 1:
        return
    for j in range(r):
        dst[j] = dst[r]
        dst[n - 1 - j] = dst[n - 1 - r]


def moment_buffers(tasks: int, weights: np.ndarray, nx: int, dtype: np.dtype) -> tuple[
    np.ndarray, np.ndarray
]:
    """Empty buffers of the moments for ``tasks`` bands and ``grouped_weights`` (2 R + 1
    values): the rings of horizontally filtered rows, shape (tasks, 2, 2 m, nx + ROW_PAD)
    with m = 2 R + BLOCK (both moments, every row twice; the pad is never read), and the
    moments of up to BLOCK rows, shape (tasks, 2, BLOCK, nx). Kept between frames by the
    caller: allocating them in the kernel made every frame grow and trim the heap (page
    faults) once another library's large temporaries had raised the allocator's
    thresholds."""
    m = len(weights) - 1 + BLOCK
    return (np.empty((tasks, 2, 2 * m, nx + ROW_PAD), dtype=dtype),
            np.empty((tasks, 2, BLOCK, nx), dtype=dtype))


@njit(fastmath=FASTMATH, cache=True)
def _duplicate(h, slot, m, n):
    a = h[slot]
    b = h[slot + m]
    for j in range(n):
        b[j] = a[j]


@njit(fastmath=FASTMATH, cache=True)
def _filter_row(src, g, s, ms, weights, r, inward, x1, rings):
    """Row g of the field into both slots of the ring (horizontal pass, inward edges)."""
    m = rings.shape[1] // 2
    slot = g % m
    horizontal_moments_row(src, s, ms, weights, x1, rings[0, slot], rings[1, slot])
    for h in (rings[0], rings[1]):
        if inward:
            inward_row(h[slot, : src.shape[0]], r)
        _duplicate(h, slot, m, src.shape[0])


@njit(fastmath=FASTMATH, cache=True)
def _weighted_rows(h, base, lo, hi, i, weights, scale, out):
    """out = scale * sum over rows g = lo..hi-1 of weights[g - i + R] h[base + g - lo]."""
    big = weights.shape[0] // 2
    n = out.shape[0]
    for j in range(n):
        out[j] = 0
    for g in range(lo, hi):
        w = weights[g - i + big]
        a = h[base + g - lo]
        for j in range(n):
            out[j] += w * a[j]
    for j in range(n):
        out[j] *= scale[j]


@njit(fastmath=FASTMATH, cache=True)
def _vertical_sum(h, c, weights, scale, out):
    """out = scale * sum_t w_t h[c + t], t = -R..R (the whole window, in groups)."""
    n = out.shape[0]
    big = weights.shape[0] // 2
    centre = h[c]
    wc = weights[big]
    for t in range(1, big + 1, TAP_GROUP):
        w = weights[big + t : big + t + TAP_GROUP]
        p = (h[c + t], h[c + t + 1], h[c + t + 2], h[c + t + 3], h[c + t + 4], h[c + t + 5])
        q = (h[c - t], h[c - t - 1], h[c - t - 2], h[c - t - 3], h[c - t - 4], h[c - t - 5])
        first = t == 1
        last = t + TAP_GROUP > big
        if first and last:
            for j in range(n):
                out[j] = (wc * centre[j] + _pair_sum(p, q, w, j)) * scale[j]
        elif first:
            for j in range(n):
                out[j] = wc * centre[j] + _pair_sum(p, q, w, j)
        elif last:
            for j in range(n):
                out[j] = (out[j] + _pair_sum(p, q, w, j)) * scale[j]
        else:
            for j in range(n):
                out[j] += _pair_sum(p, q, w, j)


@njit(fastmath=FASTMATH, cache=True)
def _vertical_block(h, b, weights, scale, out):
    """out[q] = scale * sum_t w_t h[b + 6 + q + t], q = 0..3, t = -6..6 (R = 6): four rows
    from one read of the 16 ring rows h[b .. b + 15]."""
    w0, w1, w2, w3 = weights[6], weights[7], weights[8], weights[9]
    w4, w5, w6 = weights[10], weights[11], weights[12]
    for j in range(out.shape[1]):
        r0, r1, r2, r3 = h[b, j], h[b + 1, j], h[b + 2, j], h[b + 3, j]
        r4, r5, r6, r7 = h[b + 4, j], h[b + 5, j], h[b + 6, j], h[b + 7, j]
        r8, r9, r10, r11 = h[b + 8, j], h[b + 9, j], h[b + 10, j], h[b + 11, j]
        r12, r13, r14, r15 = h[b + 12, j], h[b + 13, j], h[b + 14, j], h[b + 15, j]
        s = scale[j]
        out[0, j] = (w0 * r6 + w1 * (r5 + r7) + w2 * (r4 + r8) + w3 * (r3 + r9)
                     + w4 * (r2 + r10) + w5 * (r1 + r11) + w6 * (r0 + r12)) * s
        out[1, j] = (w0 * r7 + w1 * (r6 + r8) + w2 * (r5 + r9) + w3 * (r4 + r10)
                     + w4 * (r3 + r11) + w5 * (r2 + r12) + w6 * (r1 + r13)) * s
        out[2, j] = (w0 * r8 + w1 * (r7 + r9) + w2 * (r6 + r10) + w3 * (r5 + r11)
                     + w4 * (r4 + r12) + w5 * (r3 + r13) + w6 * (r2 + r14)) * s
        out[3, j] = (w0 * r9 + w1 * (r8 + r10) + w2 * (r7 + r11) + w3 * (r6 + r12)
                     + w4 * (r5 + r13) + w5 * (r4 + r14) + w6 * (r3 + r15)) * s


@njit(fastmath=FASTMATH, cache=True)
def next_moments(u_k, i, i1, r, inward, s, ms, weights, scale, x1, rings, moments, nxt):
    """The normalized moments of rows from i on, into ``moments`` (shape (2, BLOCK, nx)).

    Fills the ring with the rows the windows need (from row ``nxt`` on), then sums the
    window of row i, or of rows i..i + BLOCK - 1 (all below ``i1``) when their windows
    are whole and R = 6. Returns (rows done, the next row to filter, 1 / the in-grid
    vertical weights). With ``inward`` edges a row within r of the top or bottom takes
    the window of the nearest row whose window is whole.
    """
    ny = u_k.shape[0]
    big = weights.shape[0] // 2
    m = rings.shape[1] // 2
    whole = ny >= 2 * r + 1
    ci = min(max(i, r), ny - 1 - r) if inward and whole else i
    block = (big == 6 and ci == i and i - big >= 0 and i + BLOCK - 1 + big < ny
             and i + BLOCK <= i1)
    rows = BLOCK if block else 1
    target = min(ny - 1, ci + rows - 1 + big)
    while nxt <= target:
        _filter_row(u_k[nxt], nxt, s, ms, weights, r, inward, x1, rings)
        nxt += 1
    lo = max(0, ci - big)
    base = lo % m
    hi = min(ny, ci + big + 1)
    norm = 0.0
    for g in range(lo, hi):
        norm += weights[g - ci + big]
    if block:
        for h in range(2):
            _vertical_block(rings[h], base, weights, scale, moments[h])
        return rows, nxt, 1.0 / norm
    for h in range(2):
        if hi - lo == 2 * big + 1:
            _vertical_sum(rings[h], base + big, weights, scale, moments[h, 0])
        else:
            _weighted_rows(rings[h], base, lo, hi, ci, weights, scale, moments[h, 0])
    return rows, nxt, 1.0 / norm
