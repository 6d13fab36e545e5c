"""Reference leapfrog step in plain numpy (see ``backends.base.FieldKernels``).

Written for clarity, not speed: each step allocates its temporaries. The compiled
backends must reproduce it to rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from resonance_engine.backends.base import LeapfrogCoefficients, SourceStencil

__all__ = ["leapfrog_steps", "triad", "feedback_term"]


def feedback_term(
    u: np.ndarray, kind: int, strength: float, fn: Callable[[np.ndarray], np.ndarray] | None
) -> np.ndarray | float:
    """f(u) for the feedback code ``kind`` (0 none, 1 cubic -k u^3, 2 k tanh(u), 3 fn(u))."""
    if kind == 1:
        return -strength * u * u * u
    if kind == 2:
        return strength * np.tanh(u)
    if kind == 3 and fn is not None:
        return np.asarray(fn(u), dtype=u.dtype)
    return 0.0


def _apply_boundary(nxt: np.ndarray, cur: np.ndarray, coeffs: LeapfrogCoefficients) -> None:
    """Set the outer ring of ``nxt``: zero (fixed) or first-order Mur (absorbing)."""
    if coeffs.boundary == 0:
        nxt[:, 0, :] = 0.0
        nxt[:, -1, :] = 0.0
        nxt[:, :, 0] = 0.0
        nxt[:, :, -1] = 0.0
    elif coeffs.boundary == 2:
        mx, my = coeffs.mur_x, coeffs.mur_y
        # Columns first (interior rows), then full rows, corners included.
        nxt[:, 1:-1, 0] = cur[:, 1:-1, 1] + mx * (nxt[:, 1:-1, 1] - cur[:, 1:-1, 0])
        nxt[:, 1:-1, -1] = cur[:, 1:-1, -2] + mx * (nxt[:, 1:-1, -2] - cur[:, 1:-1, -1])
        nxt[:, 0, :] = cur[:, 1, :] + my * (nxt[:, 1, :] - cur[:, 0, :])
        nxt[:, -1, :] = cur[:, -2, :] + my * (nxt[:, -2, :] - cur[:, -1, :])


def leapfrog_steps(
    u: np.ndarray,
    u_prev: np.ndarray,
    coeffs: LeapfrogCoefficients,
    sources: SourceStencil,
    drive: np.ndarray,
    feedback_fn: Callable[[np.ndarray], np.ndarray] | None = None,
) -> bool:
    """Advance ``drive.shape[0]`` leapfrog steps (in place, alternating the two buffers)."""
    dtype = u.dtype
    prev_coef = coeffs.prev_coef.astype(dtype)[:, None, None]
    inv_denom = coeffs.inv_denom.astype(dtype)[:, None, None]
    cx2, cy2, dt2 = (dtype.type(v) for v in (coeffs.cx2, coeffs.cy2, coeffs.dt2))
    cur, prv = u, u_prev
    periodic = coeffs.boundary == 1
    n_steps = drive.shape[0]
    for s in range(n_steps):
        fb = feedback_term(cur, coeffs.feedback, coeffs.feedback_strength, feedback_fn)
        if periodic:
            lap = cx2 * (np.roll(cur, 1, axis=2) + np.roll(cur, -1, axis=2) - 2 * cur)
            lap += cy2 * (np.roll(cur, 1, axis=1) + np.roll(cur, -1, axis=1) - 2 * cur)
            nxt = (2 * cur - prev_coef * prv + lap + dt2 * fb) * inv_denom
        else:
            c = cur[:, 1:-1, 1:-1]
            lap = cx2 * (cur[:, 1:-1, :-2] + cur[:, 1:-1, 2:] - 2 * c)
            lap += cy2 * (cur[:, :-2, 1:-1] + cur[:, 2:, 1:-1] - 2 * c)
            fb_inner = fb if np.isscalar(fb) else fb[:, 1:-1, 1:-1]  # type: ignore[index]
            nxt = prv.copy()
            nxt[:, 1:-1, 1:-1] = (2 * c - prev_coef * prv[:, 1:-1, 1:-1] + lap + dt2 * fb_inner) * (
                inv_denom
            )
        if sources.cells.size:
            flat = nxt.reshape(nxt.shape[0], -1)
            for k in range(nxt.shape[0]):
                np.add.at(
                    flat[k],
                    sources.cells,
                    (sources.weight * drive[s, k, sources.owner]).astype(dtype),
                )
        _apply_boundary(nxt, cur, coeffs)
        prv[...] = nxt
        cur, prv = prv, cur
    return n_steps % 2 == 1


def triad(a: np.ndarray, b: np.ndarray, c: np.ndarray, scale: float) -> None:
    """a = b + scale * c (flat arrays of one dtype)."""
    np.multiply(c, a.dtype.type(scale), out=a)
    a += b
