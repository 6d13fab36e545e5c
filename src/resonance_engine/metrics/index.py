"""Complexity Index: CI = alpha * D^beta * G * C * (1 - exp(-tau / gamma))."""

from __future__ import annotations

import numpy as np

from resonance_engine.errors import ConfigError

__all__ = ["complexity_index"]


def complexity_index(
    D: float | np.ndarray,  # noqa: N803 - the blueprint's symbols
    G: float | np.ndarray,  # noqa: N803
    C: float | np.ndarray,  # noqa: N803
    tau: float | np.ndarray,
    alpha: float = 1.0,
    beta: float = 1.0,
    gamma: float = 1.0,
) -> float | np.ndarray:
    """The multiplicative Complexity Index of Resonance Complexity Theory.

    CI = alpha * D^beta * G * C * (1 - exp(-tau / gamma)). Every factor must be present:
    CI is 0 when any of D, G, C or tau is 0, and it grows with tau towards
    alpha * D^beta * G * C.

    Parameters
    ----------
    D : float or ndarray
        Fractal dimension (>= 0; NaN, for an undefined D, gives NaN).
    G, C, tau : float or ndarray
        Gain (units of u), coherence ([0, 1]), dwell (frames); fields broadcast.
    alpha, beta : float
        Scale and exponent of D.
    gamma : float
        Dwell scale (frames, > 0).

    Returns
    -------
    float or ndarray
        CI (units of u); a float when every input is a scalar.

    Examples
    --------
    >>> complexity_index(1.5, 2.0, 0.5, 0.0)
    0.0
    """
    if not gamma > 0:
        raise ConfigError(f"gamma must be > 0 (frames), got {gamma!r}")
    d = np.asarray(D, dtype=np.float64)
    if np.any(d < 0):
        raise ConfigError(f"the fractal dimension must be >= 0, got {D!r}")
    ci = alpha * d**beta * np.asarray(G) * np.asarray(C) * -np.expm1(-np.asarray(tau) / gamma)
    if np.ndim(ci) == 0:
        return float(ci)
    result: np.ndarray = ci
    return result
