"""Measures of phase synchrony: the Kuramoto order parameter and the phase-locking value."""

from __future__ import annotations

from typing import Any

import numpy as np

from resonance_engine.errors import ConfigError

__all__ = ["order_parameter", "phase_locking_value"]


def _phases(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ConfigError(f"{name} must hold at least one phase along its last axis, got {value!r}")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{name} holds {int((~np.isfinite(arr)).sum())} non-finite phases")
    return arr


def order_parameter(phases: Any) -> tuple[Any, Any]:
    """Kuramoto order parameter r exp(i psi) = mean_j exp(i theta_j).

    Parameters
    ----------
    phases : array_like, shape (..., n)
        Phases (rad); the mean runs over the last axis (the oscillators).

    Returns
    -------
    r : float or ndarray, shape (...)
        Coherence in [0, 1]: 1 when all phases are equal, about n**-0.5 for n
        independent uniform phases.
    psi : float or ndarray, shape (...)
        Mean phase (rad, in (-pi, pi]).

    Examples
    --------
    >>> r, psi = order_parameter([0.1, 0.1, 0.1])
    >>> round(float(r), 12), round(float(psi), 12)
    (1.0, 0.1)
    >>> r, _ = order_parameter([0.0, np.pi])
    >>> bool(r < 1e-12)
    True
    """
    z = np.exp(1j * _phases("phases", phases)).mean(axis=-1)
    r, psi = np.abs(z), np.angle(z)
    if np.ndim(z) == 0:
        return float(r), float(psi)
    return r, psi


def phase_locking_value(a: Any, b: Any) -> Any:
    """Phase-locking value |mean_t exp(i (a_t - b_t))| of two phase series.

    Parameters
    ----------
    a, b : array_like, shape (..., t)
        Phases (rad) of two signals at the same instants; the mean runs over the last
        axis (time). Shapes must match.

    Returns
    -------
    float or ndarray, shape (...)
        1 when the phase difference is constant, about t**-0.5 for independent phases.

    Examples
    --------
    >>> t = np.linspace(0, 10, 1000)
    >>> round(phase_locking_value(5 * t, 5 * t + 1.0), 12)
    1.0
    """
    pa, pb = _phases("a", a), _phases("b", b)
    if pa.shape != pb.shape:
        raise ConfigError(f"a and b must have the same shape, got {pa.shape} and {pb.shape}")
    value = np.abs(np.exp(1j * (pa - pb)).mean(axis=-1))
    return float(value) if np.ndim(value) == 0 else value
