"""The 2D CFL condition of the leapfrog scheme with the 5-point Laplacian.

The scheme is stable when the Courant number

    courant = c dt sqrt(1/dx^2 + 1/dy^2) <= 1,

i.e. c dt / dx <= 1/sqrt(2) on square cells. (The 1D condition c dt / dx <= 1 that the
blueprint uses is not enough in 2D: at c dt / dx = 0.8 the checkerboard mode grows.)
"""

from __future__ import annotations

import math

from resonance_engine.errors import CFLViolation, ConfigError

__all__ = ["courant_number", "max_stable_dt", "validate_stability"]


def courant_number(wave_speed: float, dt: float, dx: float, dy: float) -> float:
    """c dt sqrt(1/dx^2 + 1/dy^2) (dimensionless)."""
    return wave_speed * dt * math.hypot(1.0 / dx, 1.0 / dy)  # hypot: no overflow


def max_stable_dt(wave_speed: float, dx: float, dy: float) -> float:
    """The largest stable time step 1 / (c sqrt(1/dx^2 + 1/dy^2)) (s)."""
    if wave_speed <= 0:
        raise ConfigError(f"wave_speed must be > 0, got {wave_speed!r}")
    return 1.0 / (wave_speed * math.hypot(1.0 / dx, 1.0 / dy))


def validate_stability(wave_speed: float, dt: float, dx: float, dy: float) -> float:
    """Return the Courant number, or raise :class:`CFLViolation` when it exceeds 1."""
    number = courant_number(wave_speed, dt, dx, dy)
    if number > 1.0 + 1e-12:
        raise CFLViolation(number, dt, max_stable_dt(wave_speed, dx, dy))
    return number
