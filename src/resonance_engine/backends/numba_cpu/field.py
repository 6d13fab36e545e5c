"""Compiled leapfrog step (see :class:`~resonance_engine.backends.base.FieldKernels`).

One kernel call advances many steps without returning to Python. The update writes
u[n+1] over u[n-1] in place, so each interior cell costs two loads and one store
(12 bytes in float32). Fast-math flags never include ``nnan``/``ninf``: NaN
detection still works. The kernel releases the GIL (``nogil``), so a web server or other
Python threads keep running while it steps.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from resonance_engine.backends.base import LeapfrogCoefficients, SourceStencil

__all__ = [
    "leapfrog_steps",
    "sweep_depth",
    "triad",
    "plain_stencil_steps",
    "FASTMATH",
    "STENCIL_FASTMATH",
]

#: LLVM fast-math flags for general kernels: NaN/inf semantics kept (no nnan/ninf).
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
#: Flags for the stencil: without "reassoc", which stops LLVM 20 from vectorizing it.
STENCIL_FASTMATH = {"nsz", "arcp", "contract", "afn"}


@njit(inline="always")
def _no_feedback(x, k):
    return x - x


@njit(inline="always")
def _cubic_feedback(x, k):
    return -k * x * x * x


@njit(inline="always")
def _tanh_feedback(x, k):
    return k * np.tanh(x)


def _make_row_update(term: Any) -> Any:
    """The update of one row for the feedback term ``term(x, k)``, inlined by numba.

    A separate loop per feedback term keeps each one a straight, vectorizable loop (a
    branch on the feedback kind inside the loop stops LLVM from vectorizing it).
    """

    @njit(fastmath=STENCIL_FASTMATH, inline="always")
    def row_update(row, up, dn, out, cx2, cy2, pc, inv, dt2, k, periodic):
        nx = row.shape[0]
        for j in range(1, nx - 1):
            c = row[j]
            lap = cx2 * (row[j - 1] + row[j + 1] - c - c) + cy2 * (up[j] + dn[j] - c - c)
            out[j] = (c + c - pc * out[j] + lap + dt2 * term(c, k)) * inv
        if periodic:
            for j in (0, nx - 1):
                c = row[j]
                west = row[j - 1] if j > 0 else row[nx - 1]
                east = row[j + 1] if j < nx - 1 else row[0]
                lap = cx2 * (west + east - c - c) + cy2 * (up[j] + dn[j] - c - c)
                out[j] = (c + c - pc * out[j] + lap + dt2 * term(c, k)) * inv

    return row_update


_row_none = _make_row_update(_no_feedback)
_row_cubic = _make_row_update(_cubic_feedback)
_row_tanh = _make_row_update(_tanh_feedback)


@njit(inline="always")
def _row_update(kind, row, up, dn, out, cx2, cy2, pc, inv, dt2, k, periodic):
    if kind == 1:
        _row_cubic(row, up, dn, out, cx2, cy2, pc, inv, dt2, k, periodic)
    elif kind == 2:
        _row_tanh(row, up, dn, out, cx2, cy2, pc, inv, dt2, k, periodic)
    else:
        _row_none(row, up, dn, out, cx2, cy2, pc, inv, dt2, k, periodic)


@njit(inline="always")
def _row_sources(prv_row, k, i, s, row_ptr, src_col, src_weight, src_owner, drive):
    """Add step ``s``'s source terms of row ``i`` to ``prv_row`` (u[n+1] of that row)."""
    for m in range(row_ptr[i], row_ptr[i + 1]):
        prv_row[src_col[m]] += src_weight[m] * drive[s, k, src_owner[m]]


@njit(inline="always")
def _row_edges(boundary, nxt_row, cur_row, mur_x):
    """The column edges of one interior row of u[n+1]: zero (fixed) or Mur (absorbing)."""
    nx = nxt_row.shape[0]
    if boundary == 0:
        nxt_row[0] = 0
        nxt_row[nx - 1] = 0
    elif boundary == 2:
        nxt_row[0] = cur_row[1] + mur_x * (nxt_row[1] - cur_row[0])
        nxt_row[nx - 1] = cur_row[nx - 2] + mur_x * (nxt_row[nx - 2] - cur_row[nx - 1])


def _make_step_row(row_update: Any) -> Any:
    """One step of one row for the row update ``row_update``, inlined by numba."""

    @njit(inline="always")
    def step_row(params, nxt, cur, k, i, s, pc, inv):
        """u[n+1] of row ``i`` of member ``k`` into ``nxt`` (which holds u[n-1]): the
        stencil, then the row's source terms, then its column edges. ``params`` holds what
        is the same for every row of a call (see ``_leapfrog_steps_py``)."""
        (
            fb_kind,
            boundary,
            cx2,
            cy2,
            dt2,
            fb_strength,
            mur_x,
            row_ptr,
            src_col,
            src_weight,
            src_owner,
            drive,
        ) = params
        ny = cur.shape[1]
        im = i - 1 if i > 0 else ny - 1
        ip = i + 1 if i < ny - 1 else 0
        row_update(
            fb_kind,
            cur[k, i],
            cur[k, im],
            cur[k, ip],
            nxt[k, i],
            cx2,
            cy2,
            pc,
            inv,
            dt2,
            fb_strength,
            boundary == 1,
        )
        _row_sources(nxt[k, i], k, i, s, row_ptr, src_col, src_weight, src_owner, drive)
        if boundary != 1:
            _row_edges(boundary, nxt[k, i], cur[k, i], mur_x)

    return step_row


_step_row = _make_step_row(_row_update)


def _make_sweep_parts(step_row: Any) -> tuple[Any, Any]:
    """The two parts of a blocked sweep built on ``step_row``, inlined by numba.

    ``step_level`` computes step ``s + lev`` of one row: even steps of a sweep write into
    the buffer that held u[n-1], odd ones into the one that held u[n].
    ``band_edges`` fills in, after a sweep of ``d`` steps, what the bands of member ``k``
    left out: step by step in order, the rows of each band within ``lev`` of its edges,
    then the outer rows.
    """

    @njit(inline="always")
    def step_level(params, prv, cur, k, r, s, lev, pc, inv):
        if lev % 2 == 0:
            step_row(params, prv, cur, k, r, s + lev, pc, inv)
        else:
            step_row(params, cur, prv, k, r, s + lev, pc, inv)

    @njit(inline="always")
    def band_edges(params, prv, cur, k, s, d, bands, r0, nrows, pc, inv, mur_y):
        boundary = params[1]
        for lev in range(d):
            if lev > 0:
                for b in range(bands):
                    lo, hi = _band(b, bands, r0, nrows)
                    n_low = min(lev, hi - lo)
                    high_start = max(hi - lev, lo + n_low)
                    for j in range(n_low + hi - high_start):
                        r = lo + j if j < n_low else high_start + j - n_low
                        step_level(params, prv, cur, k, r, s, lev, pc, inv)
            if lev % 2 == 0:
                _outer_rows(boundary, prv, cur, k, mur_y)
            else:
                _outer_rows(boundary, cur, prv, k, mur_y)

    return step_level, band_edges


@njit(inline="always")
def _outer_rows(boundary, nxt, cur, k, mur_y):
    """Rows 0 and ny-1 of u[n+1] (fixed: zero; absorbing: Mur, corners included)."""
    ny = nxt.shape[1]
    if boundary == 0:
        nxt[k, 0, :] = 0
        nxt[k, ny - 1, :] = 0
    elif boundary == 2:
        for j in range(nxt.shape[2]):
            nxt[k, 0, j] = cur[k, 1, j] + mur_y * (nxt[k, 1, j] - cur[k, 0, j])
            nxt[k, ny - 1, j] = cur[k, ny - 2, j] + mur_y * (nxt[k, ny - 2, j] - cur[k, ny - 1, j])


def _band(b, bands, r0, nrows):
    """Rows [lo, hi) of band ``b`` of ``bands`` over the ``nrows`` stepped rows."""
    return r0 + (b * nrows) // bands, r0 + ((b + 1) * nrows) // bands


_band = njit(inline="always")(_band)
_step_level, _band_edges = _make_sweep_parts(_step_row)


def _leapfrog_steps_py(  # noqa: PLR0913 - a flat signature keeps the kernel cacheable
    u,
    u_prev,
    cx2,
    cy2,
    prev_coef,
    inv_denom,
    dt2,
    boundary,
    mur_x,
    mur_y,
    fb_kind,
    fb_strength,
    row_ptr,
    src_col,
    src_weight,
    src_owner,
    drive,
    bands,
    depth,
):
    nb, ny, nx = u.shape
    cur = u
    prv = u_prev
    r0 = 0 if boundary == 1 else 1
    nrows = ny - 2 * r0
    bands = max(1, min(bands, nrows))
    n_steps = drive.shape[0]
    params = (
        fb_kind,
        boundary,
        cx2,
        cy2,
        dt2,
        fb_strength,
        mur_x,
        row_ptr,
        src_col,
        src_weight,
        src_owner,
        drive,
    )
    s = 0
    swapped = False
    # ``depth`` steps per sweep over memory (temporal blocking, one parallel region per
    # sweep). Each band of rows walks up its rows once; at row i it computes step s + l
    # of row i - l for l = 0 .. d-1 (a wavefront one row behind per step), writing
    # u[n+1] over u[n-1] as a single step does: step l of a row overwrites step l - 2 of
    # that row only after every stepped row that reads it is done. A band computes step l
    # only on its rows [lo + l, hi - l), which read nothing a neighbouring band writes in
    # the sweep; the rows left out (a triangle at each band edge) and the outer rows are
    # filled in after the sweep, inside it when a member is one band.
    while s < n_steps:
        d = min(depth, n_steps - s)
        for task in prange(nb * bands):
            k = task // bands
            lo, hi = _band(task % bands, bands, r0, nrows)
            pc = prev_coef[k]
            inv = inv_denom[k]
            for i in range(lo, hi):
                for lev in range(min(d, (i - lo) // 2 + 1)):  # step lev from row lo + 2 lev
                    _step_level(params, prv, cur, k, i - lev, s, lev, pc, inv)
            if bands == 1:
                _band_edges(params, prv, cur, k, s, d, 1, r0, nrows, pc, inv, mur_y)
        if bands > 1:
            for k in range(nb):
                pc = prev_coef[k]
                inv = inv_denom[k]
                _band_edges(params, prv, cur, k, s, d, bands, r0, nrows, pc, inv, mur_y)
        if d % 2 == 1:
            cur, prv = prv, cur
            swapped = not swapped
        s += d
    return swapped


_builtin_kernel = njit(parallel=True, nogil=True, fastmath=STENCIL_FASTMATH, cache=True)(
    _leapfrog_steps_py
)
_custom_kernels: dict[int, Any] = {}


def _custom_kernel(fn: Callable[[float], float]) -> Any:
    """The kernel compiled with the user's scalar feedback f(u) in place of the built-ins.

    The kernel's code is reused with ``_row_update`` rebound to a row update that calls
    the user function, so the call is inlined in the inner loop. Not cached on disk
    (numba cannot cache a kernel that depends on an arbitrary function); compiled once
    per function and process.
    """
    key = id(fn)
    if key not in _custom_kernels:
        user = fn if hasattr(fn, "py_func") else njit(fn)

        @njit(inline="always")
        def term(x, k):
            return user(x)

        row = _make_row_update(term)

        @njit(inline="always")
        def row_update(kind, row_, up, dn, out, cx2, cy2, pc, inv, dt2, k, periodic):
            row(row_, up, dn, out, cx2, cy2, pc, inv, dt2, k, periodic)

        step_level, band_edges = _make_sweep_parts(_make_step_row(row_update))
        scope = dict(_leapfrog_steps_py.__globals__, _step_level=step_level, _band_edges=band_edges)
        py = types.FunctionType(_leapfrog_steps_py.__code__, scope, "leapfrog_steps_custom")
        kernel = njit(parallel=True, nogil=True, fastmath=STENCIL_FASTMATH)(py)
        _custom_kernels[key] = (fn, kernel)  # keep fn alive so its id stays unique
    return _custom_kernels[key][1]


def leapfrog_steps(
    u: np.ndarray,
    u_prev: np.ndarray,
    coeffs: LeapfrogCoefficients,
    sources: SourceStencil,
    drive: np.ndarray,
    feedback_fn: Callable[[float], float] | None = None,
    *,
    bands: int | None = None,
    depth: int | None = None,
) -> bool:
    """Advance ``drive.shape[0]`` leapfrog steps in one compiled call.

    ``bands`` (row bands per member, default one per thread for a single field and one per
    member for a batch) and ``depth`` (steps per sweep over memory, default
    :func:`sweep_depth`) change only the order of the work, never the result; they are
    here for tests.
    """
    t = u.dtype.type
    kernel = _builtin_kernel
    if coeffs.feedback == 3 and feedback_fn is not None:
        kernel = _custom_kernel(feedback_fn)
    row_ptr, col, weight, owner = _sources_by_row(sources, u.shape[1], u.shape[2])
    if bands is None:
        # One band of rows per thread for a single field; one per member for a batch.
        bands = -(-numba.get_num_threads() // u.shape[0])
    if depth is None:
        depth = sweep_depth(u.shape[1], bands)
    return bool(
        kernel(
            u,
            u_prev,
            t(coeffs.cx2),
            t(coeffs.cy2),
            coeffs.prev_coef.astype(u.dtype),
            coeffs.inv_denom.astype(u.dtype),
            t(coeffs.dt2),
            coeffs.boundary,
            t(coeffs.mur_x),
            t(coeffs.mur_y),
            coeffs.feedback,
            t(coeffs.feedback_strength),
            row_ptr,
            col,
            weight,
            owner,
            drive,
            bands,
            depth,
        )
    )


def sweep_depth(ny: int, bands: int) -> int:
    """Steps per sweep over memory for ``bands`` row bands of an ``ny``-row field.

    A band computes step l of a sweep on all but l rows at each of its edges; those rows
    are filled in after the sweep (serially when a member has several bands), about
    depth**2 rows per band edge. An eighth of a band's rows, between 2 and 16 steps,
    keeps that under a tenth of the work while a sweep keeps depth + 2 rows of each
    buffer in cache. Measured (``resonance bench solver``, float32, 2 threads, passive
    waiting): 2 steps per sweep 4.7 Gcell/s at 1024^2, 8-16 steps 5.7-6.4.
    """
    return max(2, min(16, (ny // max(1, bands)) // 8))


def _sources_by_row(
    sources: SourceStencil, ny: int, nx: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The source cells grouped by row: (row_ptr (ny+1,), column, weight, owner).

    The entries of row ``i`` are ``row_ptr[i]:row_ptr[i+1]``; a stable sort keeps the
    order in which overlapping sources add to one cell (and so the rounding).
    """
    order = np.argsort(sources.cells, kind="stable")
    cells = sources.cells[order]
    row_ptr = np.searchsorted(cells // nx, np.arange(ny + 1)).astype(np.int64)
    return row_ptr, cells % nx, sources.weight[order], sources.owner[order]


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _triad_kernel(a, b, c, scale):
    # a plain parallel loop: the chunked form this replaced ran at a third of this rate
    # (0.6 vs 2.4 Gelem/s at 4096^2 on 2 threads) and made the stencil/triad ratio look
    # better than it is
    for i in prange(a.shape[0]):
        a[i] = b[i] + scale * c[i]


def triad(a: np.ndarray, b: np.ndarray, c: np.ndarray, scale: float) -> None:
    """a = b + scale * c over flat arrays (memory-bandwidth reference for benchmarks)."""
    _triad_kernel(a, b, c, a.dtype.type(scale))


@njit(parallel=True, fastmath=STENCIL_FASTMATH, cache=True)
def _plain_stencil_kernel(a, b, c, n_steps, coef):
    ny, nx = a.shape
    for _ in range(n_steps):
        for i in prange(1, ny - 1):
            for j in range(1, nx - 1):
                c[i, j] = (
                    b[i, j]
                    + b[i, j]
                    - a[i, j]
                    + coef * (b[i, j - 1] + b[i, j + 1] + b[i - 1, j] + b[i + 1, j] - 4 * b[i, j])
                )
        a, b, c = b, c, a


def plain_stencil_steps(a: np.ndarray, b: np.ndarray, c: np.ndarray, n_steps: int) -> None:
    """``n_steps`` of the plainest leapfrog stencil (benchmark reference).

    Three (ny, nx) buffers used modulo 3, one parallel loop over rows per step, no damping,
    sources or boundary handling: the kernel a user would write first. The solver's kernel
    is measured against it in the same run (``resonance bench solver``).
    """
    _plain_stencil_kernel(a, b, c, n_steps, a.dtype.type(0.2))
