"""Compiled oscillator kernels (see
:class:`~resonance_engine.backends.base.OscillatorKernels`).

Each oscillator carries its phase theta and its phasor z = exp(i theta). A step turns
the phasor by the phase increment d (z <- z exp(i d), theta <- theta + d), so the
coupling needs no sine of a phase difference:
``sum_j A_ij sin(theta_j - theta_i - alpha) = Im(conj(z_i) exp(-i alpha) (A z)_i)``.
The rotation exp(i d) is a Taylor polynomial, exact to rounding for |d| <= 0.8 rad (no
libm call, so the loop vectorizes); a call whose increments could be larger uses
``cos``/``sin``. The phasors are recomputed from the phases at the start of every call.

All-to-all networks use the mean field Z = sum_j z_j, which the Euler step accumulates
in the same pass that rotates the phasors: one pass over the oscillators per step.
A batch of many small networks runs one network per thread; a single large network
splits its oscillators over the threads.
"""

from __future__ import annotations

import math
import types
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from resonance_engine.backends.base import SparseCoupling
from resonance_engine.backends.numba_cpu.field import FASTMATH

__all__ = ["kuramoto_steps", "phase_binned_amplitude", "POLY_LIMIT", "PARALLEL_OSCILLATORS"]

#: Largest phase increment per step (rad) for which the rotation polynomial is used.
POLY_LIMIT = 0.8
#: From this many oscillators a single network is split over the threads.
PARALLEL_OSCILLATORS = 1 << 18

# Taylor coefficients of cos (up to d^14) and sin (up to d^15): the first omitted terms
# are below 1.3e-15 and 6e-17 for |d| <= 0.8.
_C = (1.0, -1 / 2, 1 / 24, -1 / 720, 1 / 40320, -1 / 3628800, 1 / 479001600, -1 / 87178291200)
_S = (
    1.0,
    -1 / 6,
    1 / 120,
    -1 / 5040,
    1 / 362880,
    -1 / 39916800,
    1 / 6227020800,
    -1 / 1307674368000,
)
C0, C1, C2, C3, C4, C5, C6, C7 = _C
S0, S1, S2, S3, S4, S5, S6, S7 = _S


@njit(fastmath=FASTMATH, inline="always")
def _turn(d, exact):
    """(cos d, sin d): the polynomial, or libm when ``exact``."""
    if exact:
        return math.cos(d), math.sin(d)
    d2 = d * d
    c = C0 + d2 * (C1 + d2 * (C2 + d2 * (C3 + d2 * (C4 + d2 * (C5 + d2 * (C6 + d2 * C7))))))
    s = d * (S0 + d2 * (S1 + d2 * (S2 + d2 * (S3 + d2 * (S4 + d2 * (S5 + d2 * (S6 + d2 * S7)))))))
    return c, s


def _start_py(theta, zr, zi):
    """Phasors from the phases; returns the mean-field sums."""
    sr = 0.0
    si = 0.0
    for i in prange(theta.size):
        c = math.cos(theta[i])
        s = math.sin(theta[i])
        zr[i] = c
        zi[i] = s
        sr += c
        si += s
    return sr, si


def _euler_mean_py(theta, omega, zr, zi, sr, si, kn, ca, sa, dt, noise, has_noise, exact):
    """One Euler step of an all-to-all network; returns the new mean-field sums."""
    wr = kn * (sr * ca + si * sa)
    wi = kn * (si * ca - sr * sa)
    tr = 0.0
    ti = 0.0
    for i in prange(theta.size):
        ar = zr[i]
        ai = zi[i]
        d = dt * (omega[i] + wi * ar - wr * ai)
        if has_noise:
            d += noise[i]
        theta[i] += d
        c, s = _turn(d, exact)
        nr = ar * c - ai * s
        ni = ar * s + ai * c
        zr[i] = nr
        zi[i] = ni
        tr += nr
        ti += ni
    return tr, ti


def _rates_py(zr, zi, omega, kn, ca, sa, sparse, indptr, indices, data, out):
    """d theta / dt from the phasors (mean field or sparse A), written to ``out``."""
    n = zr.size
    if sparse:
        for i in prange(n):
            gr = 0.0
            gi = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                gr += data[p] * zr[j]
                gi += data[p] * zi[j]
            wr = kn * (gr * ca + gi * sa)
            wi = kn * (gi * ca - gr * sa)
            out[i] = omega[i] + wi * zr[i] - wr * zi[i]
    else:
        sr = 0.0
        si = 0.0
        for i in prange(n):
            sr += zr[i]
            si += zi[i]
        wr = kn * (sr * ca + si * sa)
        wi = kn * (si * ca - sr * sa)
        for i in prange(n):
            out[i] = omega[i] + wi * zr[i] - wr * zi[i]


def _advance_py(theta, zr, zi, rate, dt, noise, has_noise, exact):
    """theta += dt rate (+ noise), turning the phasors with it."""
    for i in prange(theta.size):
        d = dt * rate[i]
        if has_noise:
            d += noise[i]
        theta[i] += d
        c, s = _turn(d, exact)
        ar = zr[i]
        ai = zi[i]
        zr[i] = ar * c - ai * s
        zi[i] = ar * s + ai * c


def _trial_py(zr, zi, rate, h, exact, yr, yi):
    """y = z exp(i h rate): the phasors of an intermediate Runge-Kutta stage."""
    for i in prange(zr.size):
        c, s = _turn(h * rate[i], exact)
        yr[i] = zr[i] * c - zi[i] * s
        yi[i] = zr[i] * s + zi[i] * c


def _member_py(
    theta, omega, kn, ca, sa, dt, steps, noise, has_noise, sparse, indptr, indices, data,
    rk4, exact, work,
):  # fmt: skip
    """``steps`` steps of one network; ``work`` is scratch of shape (6, n)."""
    zr, zi, rate, acc, yr, yi = work[0], work[1], work[2], work[3], work[4], work[5]
    sr, si = _start(theta, zr, zi)
    for step in range(steps):
        row = noise[step] if has_noise else noise[0]
        if not rk4 and not sparse:
            sr, si = _euler_mean(theta, omega, zr, zi, sr, si, kn, ca, sa, dt, row, has_noise,
                                 exact)  # fmt: skip
        elif not rk4:
            _rates(zr, zi, omega, kn, ca, sa, sparse, indptr, indices, data, rate)
            _advance(theta, zr, zi, rate, dt, row, has_noise, exact)
        else:
            _rates(zr, zi, omega, kn, ca, sa, sparse, indptr, indices, data, acc)
            _trial(zr, zi, acc, 0.5 * dt, exact, yr, yi)
            _rates(yr, yi, omega, kn, ca, sa, sparse, indptr, indices, data, rate)
            for i in prange(rate.size):
                acc[i] += 2.0 * rate[i]
            _trial(zr, zi, rate, 0.5 * dt, exact, yr, yi)
            _rates(yr, yi, omega, kn, ca, sa, sparse, indptr, indices, data, rate)
            for i in prange(rate.size):
                acc[i] += 2.0 * rate[i]
            _trial(zr, zi, rate, dt, exact, yr, yi)
            _rates(yr, yi, omega, kn, ca, sa, sparse, indptr, indices, data, rate)
            for i in prange(rate.size):
                acc[i] = (acc[i] + rate[i]) / 6.0
            _advance(theta, zr, zi, acc, dt, row, has_noise, exact)


def _variant(py_func: Any, parallel: bool, helpers: dict[str, Any]) -> Any:
    """``py_func`` compiled serial or parallel, its helper names bound to ``helpers``.

    ``prange`` is ``range`` in a serial compile. Each variant gets its own name (numba's
    cache files are named after it, as in ``metrics._renamed``) and its own globals, so
    that the serial member function calls the serial helpers.
    """
    name = py_func.__name__.removesuffix("_py") + ("_parallel" if parallel else "_serial")
    namespace = dict(py_func.__globals__)
    namespace.update(helpers)
    func = types.FunctionType(
        py_func.__code__, namespace, name, py_func.__defaults__, py_func.__closure__
    )
    func.__qualname__ = name
    return njit(parallel=parallel, fastmath=FASTMATH, cache=True)(func)


_HELPERS = {
    "_start": _start_py,
    "_euler_mean": _euler_mean_py,
    "_rates": _rates_py,
    "_advance": _advance_py,
    "_trial": _trial_py,
}
# The serial helpers under their plain names (what _member_py calls when serial) ...
_start, _euler_mean, _rates, _advance, _trial = (
    _variant(func, False, {}) for func in _HELPERS.values()
)
_member_serial = _variant(_member_py, False, {})
# ... and the parallel member function bound to parallel helpers.
_member_parallel = _variant(
    _member_py, True, {name: _variant(func, True, {}) for name, func in _HELPERS.items()}
)


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _batch(
    theta, omega, kn, ca, sa, dt, steps, noise, has_noise, sparse, indptr, indices, data,
    rk4, exact, work,
):  # fmt: skip
    """One network per thread."""
    for k in prange(theta.shape[0]):
        _member_serial(theta[k], omega[k], kn[k], ca[k], sa[k], dt, steps, noise[:, k],
                       has_noise, sparse, indptr, indices, data, rk4, exact, work[k])  # fmt: skip


def _max_increment(
    omega: np.ndarray,
    coupling: np.ndarray,
    dt: float,
    noise: np.ndarray | None,
    adjacency: SparseCoupling | None,
) -> float:
    """An upper bound of |d theta| per step (rad)."""
    n = omega.shape[1]
    if adjacency is None:
        row_sum = float(n)
    else:
        rows = np.repeat(np.arange(n), np.diff(adjacency.indptr))
        row_sum = float(np.bincount(rows, np.abs(adjacency.data), minlength=n).max())
    bound = dt * (float(np.abs(omega).max()) + float(np.abs(coupling).max()) * row_sum)
    if noise is not None and noise.size:
        bound += float(np.abs(noise).max())
    return bound


def kuramoto_steps(
    theta: np.ndarray,
    omega: np.ndarray,
    coupling: np.ndarray,
    phase_lag: np.ndarray,
    dt: float,
    steps: int,
    noise: np.ndarray | None,
    adjacency: SparseCoupling | None,
    method: str,
) -> None:
    """Advance the networks in place (see the protocol)."""
    b, n = theta.shape
    if steps == 0 or n == 0:
        return
    exact = _max_increment(omega, coupling, dt, noise, adjacency) > POLY_LIMIT
    has_noise = noise is not None
    noise_arr = noise if noise is not None else np.zeros((1, b, n))
    sparse = adjacency is not None
    if adjacency is None:
        indptr = np.zeros(1, dtype=np.int64)
        indices = np.zeros(0, dtype=np.int64)
        data = np.zeros(0)
    else:
        indptr, indices, data = adjacency
    ca = np.cos(phase_lag)
    sa = np.sin(phase_lag)
    rk4 = method == "rk4"
    work = np.empty((b, 6, n))
    args = (dt, int(steps))
    tail = (has_noise, sparse, indptr, indices, data, rk4, exact)
    if b > 1 and numba.get_num_threads() > 1 and n < PARALLEL_OSCILLATORS:
        _batch(theta, omega, coupling, ca, sa, *args, noise_arr, *tail, work)
        return
    member = (
        _member_parallel
        if n >= PARALLEL_OSCILLATORS and numba.get_num_threads() > 1
        else _member_serial
    )
    for k in range(b):
        member(theta[k], omega[k], coupling[k], ca[k], sa[k], *args, noise_arr[:, k], *tail,
               work[k])  # fmt: skip


@njit(parallel=True, cache=True)
def _binned(bins, amplitude, n_bins, shifts, out):
    c, t = bins.shape
    for m in prange(shifts.shape[0]):
        for ch in range(c):
            shift = shifts[m, ch]
            for i in range(t - shift):
                out[m, bins[ch, i]] += amplitude[ch, i + shift]
            for i in range(t - shift, t):
                out[m, bins[ch, i]] += amplitude[ch, i + shift - t]


def phase_binned_amplitude(
    bins: np.ndarray, amplitude: np.ndarray, n_bins: int, shifts: np.ndarray
) -> np.ndarray:
    """Amplitude summed per phase bin for each round of time shifts, shape (s, n_bins)."""
    out = np.zeros((shifts.shape[0], n_bins))
    _binned(
        np.ascontiguousarray(bins, dtype=np.int64),
        np.ascontiguousarray(amplitude, dtype=np.float64),
        int(n_bins),
        np.ascontiguousarray(shifts, dtype=np.int64),
        out,
    )
    return out
