"""Oscillator kernels written as plain numpy expressions (the reference).

See :class:`~resonance_engine.backends.base.OscillatorKernels`. The coupling term of
oscillator i is ``Im(exp(-i (theta_i + alpha)) G_i)`` with ``G = A @ exp(i theta)``
(``G_i = sum_j exp(i theta_j)`` for all-to-all), which equals
``sum_j A_ij sin(theta_j - theta_i - alpha)``.
"""

from __future__ import annotations

import numpy as np

from resonance_engine.backends.base import SparseCoupling

__all__ = ["kuramoto_steps", "kuramoto_rates", "phase_binned_amplitude"]


def kuramoto_rates(
    theta: np.ndarray,
    omega: np.ndarray,
    coupling: np.ndarray,
    phase_lag: np.ndarray,
    adjacency: SparseCoupling | None,
) -> np.ndarray:
    """d theta / dt of every oscillator (rad/s), shape (b, n)."""
    z = np.exp(1j * theta)
    if adjacency is None:
        field = z.sum(axis=1, keepdims=True)
    else:
        indptr, indices, data = adjacency
        rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
        field = np.zeros_like(z)
        for k in range(z.shape[0]):
            field[k] = np.bincount(rows, data * z[k, indices].real, minlength=z.shape[1])
            field[k] += 1j * np.bincount(rows, data * z[k, indices].imag, minlength=z.shape[1])
    pull = np.exp(-1j * (theta + phase_lag[:, None])) * field
    rates: np.ndarray = omega + coupling[:, None] * pull.imag
    return rates


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

    def rate(th: np.ndarray) -> np.ndarray:
        return kuramoto_rates(th, omega, coupling, phase_lag, adjacency)

    for step in range(steps):
        if method == "euler":
            theta += dt * rate(theta)
        else:
            k1 = rate(theta)
            k2 = rate(theta + 0.5 * dt * k1)
            k3 = rate(theta + 0.5 * dt * k2)
            k4 = rate(theta + dt * k3)
            theta += dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        if noise is not None:
            theta += noise[step]


def phase_binned_amplitude(
    bins: np.ndarray, amplitude: np.ndarray, n_bins: int, shifts: np.ndarray
) -> np.ndarray:
    """Amplitude summed per phase bin for each time shift, shape (s, n_bins)."""
    out = np.zeros((shifts.shape[0], n_bins))
    flat_bins = bins.ravel()
    for m, row in enumerate(shifts):
        shifted = np.stack([np.roll(a, -int(k)) for a, k in zip(amplitude, row, strict=True)])
        out[m] = np.bincount(flat_bins, shifted.ravel(), minlength=n_bins)
    return out
