"""Compiled leapfrog step (see :class:`~resonance_engine.backends.base.FieldKernels`).

One kernel call advances many steps without returning to Python. The update writes
u[n+1] over u[n-1] in place, so each interior cell costs two loads and one store
(12 bytes in float32). ``fastmath`` is on without ``nnan``/``ninf``: NaN detection
still works.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit, prange

from resonance_engine.backends.base import LeapfrogCoefficients, SourceStencil

__all__ = ["leapfrog_steps", "triad", "FASTMATH"]

#: LLVM fast-math flags: reassociation and friends, but NaN/inf semantics kept.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


@njit(inline="always", cache=True)
def _feedback_term(x: Any, kind: int, strength: Any) -> Any:
    if kind == 1:
        return -strength * x * x * x
    if kind == 2:
        return strength * np.tanh(x)
    return x - x


def _leapfrog_steps_py(  # noqa: PLR0913 - a flat signature keeps the kernel cacheable
    u, u_prev, cx2, cy2, prev_coef, inv_denom, dt2, boundary, mur_x, mur_y,
    fb_kind, fb_strength, src_index, src_weight, src_owner, drive,
):  # type: ignore[no-untyped-def]
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
            pc = prev_coef[k]
            inv = inv_denom[k]
            row = cur[k, i]
            up = cur[k, im]
            dn = cur[k, ip]
            out = prv[k, i]
            for j in range(1, nx - 1):
                c = row[j]
                lap = cx2 * (row[j - 1] + row[j + 1] - c - c) + cy2 * (up[j] + dn[j] - c - c)
                out[j] = (c + c - pc * out[j] + lap + dt2 * _feedback_term(c, fb_kind, fb_strength)) * inv
            if periodic:
                for j in (0, nx - 1):
                    jm = j - 1 if j > 0 else nx - 1
                    jp = j + 1 if j < nx - 1 else 0
                    c = row[j]
                    lap = cx2 * (row[jm] + row[jp] - c - c) + cy2 * (up[j] + dn[j] - c - c)
                    out[j] = (
                        c + c - pc * out[j] + lap + dt2 * _feedback_term(c, fb_kind, fb_strength)
                    ) * inv
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


_builtin_kernel = njit(parallel=True, fastmath=FASTMATH, cache=True)(_leapfrog_steps_py)
_custom_kernels: dict[int, Any] = {}


def _custom_kernel(fn: Callable[[float], float]) -> Any:
    """The kernel compiled with the user's scalar feedback in place of the built-ins.

    The kernel's code is reused with ``_feedback_term`` rebound to the user function,
    so the feedback call is inlined in the inner loop. Not cached on disk (numba cannot
    cache a kernel that depends on an arbitrary function); compiled once per function.
    """
    key = id(fn)
    if key not in _custom_kernels:
        user = fn if hasattr(fn, "py_func") else njit(fn)

        @njit(inline="always")
        def term(x, kind, strength):  # type: ignore[no-untyped-def]
            return user(x)

        scope = dict(_leapfrog_steps_py.__globals__, _feedback_term=term)
        py = types.FunctionType(_leapfrog_steps_py.__code__, scope, "leapfrog_steps_custom")
        _custom_kernels[key] = (fn, njit(parallel=True, fastmath=FASTMATH)(py))
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
            u, u_prev, t(coeffs.cx2), t(coeffs.cy2),
            coeffs.prev_coef.astype(u.dtype), coeffs.inv_denom.astype(u.dtype),
            t(coeffs.dt2), coeffs.boundary, t(coeffs.mur_x), t(coeffs.mur_y),
            coeffs.feedback, t(coeffs.feedback_strength),
            sources.index, sources.weight, sources.owner, drive,
        )
    )


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _triad_kernel(a, b, c, scale):  # type: ignore[no-untyped-def]
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
