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

import numpy as np
from numba import njit, prange

from resonance_engine.backends.base import LeapfrogCoefficients, SourceStencil

__all__ = ["leapfrog_steps", "triad", "FASTMATH", "STENCIL_FASTMATH"]

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
    src_index,
    src_weight,
    src_owner,
    drive,
):
    nb, ny, nx = u.shape
    cur = u
    prv = u_prev
    periodic = boundary == 1
    r0 = 0 if periodic else 1
    nrows = ny - 2 * r0
    n_steps = drive.shape[0]
    for s in range(n_steps):
        for r in prange(nb * nrows):
            k = r // nrows
            i = r0 + r % nrows
            im = i - 1 if i > 0 else ny - 1
            ip = i + 1 if i < ny - 1 else 0
            _row_update(
                fb_kind,
                cur[k, i],
                cur[k, im],
                cur[k, ip],
                prv[k, i],
                cx2,
                cy2,
                prev_coef[k],
                inv_denom[k],
                dt2,
                fb_strength,
                periodic,
            )
        for k in range(nb):
            for m in range(src_index.shape[0]):
                flat = src_index[m]
                prv[k, flat // nx, flat % nx] += src_weight[m] * drive[s, k, src_owner[m]]
        if boundary == 0:
            for k in range(nb):
                prv[k, 0, :] = 0
                prv[k, ny - 1, :] = 0
                prv[k, :, 0] = 0
                prv[k, :, nx - 1] = 0
        elif boundary == 2:
            for k in range(nb):
                for i in range(1, ny - 1):
                    prv[k, i, 0] = cur[k, i, 1] + mur_x * (prv[k, i, 1] - cur[k, i, 0])
                    prv[k, i, nx - 1] = cur[k, i, nx - 2] + mur_x * (
                        prv[k, i, nx - 2] - cur[k, i, nx - 1]
                    )
                for j in range(nx):
                    prv[k, 0, j] = cur[k, 1, j] + mur_y * (prv[k, 1, j] - cur[k, 0, j])
                    prv[k, ny - 1, j] = cur[k, ny - 2, j] + mur_y * (
                        prv[k, ny - 2, j] - cur[k, ny - 1, j]
                    )
        tmp = cur
        cur = prv
        prv = tmp
    return n_steps % 2 == 1


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

        scope = dict(_leapfrog_steps_py.__globals__, _row_update=row_update)
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
) -> bool:
    """Advance ``drive.shape[0]`` leapfrog steps in one compiled call."""
    t = u.dtype.type
    kernel = _builtin_kernel
    if coeffs.feedback == 3 and feedback_fn is not None:
        kernel = _custom_kernel(feedback_fn)
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
            sources.cells,
            sources.weight,
            sources.owner,
            drive,
        )
    )


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _triad_kernel(a, b, c, scale):
    n = a.shape[0]
    chunk = 1 << 16
    for blk in prange((n + chunk - 1) // chunk):
        lo = blk * chunk
        hi = min(lo + chunk, n)
        for i in range(lo, hi):
            a[i] = b[i] + scale * c[i]


def triad(a: np.ndarray, b: np.ndarray, c: np.ndarray, scale: float) -> None:
    """a = b + scale * c over flat arrays (memory-bandwidth reference for benchmarks)."""
    _triad_kernel(a, b, c, a.dtype.type(scale))
