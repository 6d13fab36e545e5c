"""Checking and applying the dashboard's live controls to a running solver.

Every change is validated first; a refused change raises
:class:`~resonance_engine.errors.ConfigError` (or its subclass
:class:`~resonance_engine.errors.CFLViolation`) whose message the page shows, and leaves
the solver as it was. The time step never changes during a run (the leapfrog history
would be inconsistent), so a faster wave speed is bounded by the CFL limit of that step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from resonance_engine.errors import CFLViolation, ConfigError
from resonance_engine.field.solver import WaveSolver2D
from resonance_engine.field.stability import courant_number, max_stable_dt

__all__ = [
    "CONTROL_PARAMETERS",
    "shown",
    "control_limits",
    "max_wave_speed",
    "max_damping",
    "max_frequency",
    "set_damping",
    "set_wave_speed",
    "set_frequency",
]

#: The parameters a ``set`` message may change.
CONTROL_PARAMETERS: tuple[str, ...] = ("damping", "wave_speed", "frequency")


def _number(name: str, value: Any) -> float:
    """``value`` as a finite float, or ConfigError (JSON integers of any length included:
    one with 400 digits does not fit in a float and is refused, not an OverflowError)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number, got {shown(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be a finite number, got {shown(value)}")
    return number


def shown(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters (an error message quotes what it saw)."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond sys.get_int_max_str_digits()
        return f"an integer of {value.bit_length()} bits"
    if len(text) <= limit:
        return text
    return f"{text[: limit - 3]}... ({len(text)} characters)"


def max_wave_speed(solver: WaveSolver2D) -> float:
    """The largest wave speed that keeps the solver's fixed time step stable (m/s)."""
    return solver.wave_speed / courant_number(solver.wave_speed, solver.dt, solver.dx, solver.dy)


def max_damping(solver: WaveSolver2D) -> float:
    """2 / dt (1/s): above it damping*dt/2 > 1 and the centred scheme flips the sign
    of the field every step (a spurious, non-physical mode)."""
    return 2.0 / solver.dt


def max_frequency(solver: WaveSolver2D) -> float:
    """The highest source frequency the grid resolves (Hz): two cells per wavelength,
    c / (2 max(dx, dy)), and below the time-step Nyquist limit 1 / (2 dt)."""
    return min(solver.wave_speed / (2 * max(solver.dx, solver.dy)), 1 / (2 * solver.dt))


def control_limits(solver: WaveSolver2D) -> dict[str, dict[str, float]]:
    """Ranges of the live controls (for the page's inputs)."""
    return {
        "damping": {"min": 0.0, "max": max_damping(solver)},
        "wave_speed": {"min": 0.0, "max": max_wave_speed(solver)},
        "frequency": {"min": 0.0, "max": max_frequency(solver)},
    }


def set_damping(solver: WaveSolver2D, value: Any) -> float:
    """Set the damping rate (1/s) of every field; return it.

    Refuses negative values (they pump energy in and the field grows without bound) and
    values above :func:`max_damping`.
    """
    gamma = _number("damping", value)
    if gamma < 0:
        raise ConfigError(
            f"damping {gamma:g} 1/s is negative: it feeds energy in and the field grows "
            "without bound; use a value >= 0"
        )
    limit = max_damping(solver)
    if gamma > limit:
        raise ConfigError(
            f"damping {gamma:g} 1/s exceeds 2/dt = {limit:.6g} 1/s: with damping*dt/2 > 1 the "
            "centred scheme flips the sign of the field every step; use a value <= "
            f"{limit:.6g}"
        )
    solver.damping = gamma
    return gamma


def set_wave_speed(solver: WaveSolver2D, value: Any) -> float:
    """Set the wave speed c (m/s); return the new Courant number.

    Refuses c <= 0 and any c that breaks the 2D CFL condition for the run's time step.
    """
    c = _number("wave_speed", value)
    if c <= 0:
        raise ConfigError(f"wave_speed must be > 0 m/s, got {c:g}")
    number = courant_number(c, solver.dt, solver.dx, solver.dy)
    if number > 1.0 + 1e-12:
        limit = max_wave_speed(solver)
        error = CFLViolation(number, solver.dt, max_stable_dt(c, solver.dx, solver.dy))
        error.args = (
            f"wave speed {c:g} m/s is unstable with this run's dt = {solver.dt:.6g} s: "
            f"Courant number c*dt*sqrt(1/dx^2+1/dy^2) = {number:.4g} > 1; the largest "
            f"stable wave speed is {limit:.6g} m/s",
        )
        raise error
    solver.wave_speed = c
    return number


def set_frequency(solver: WaveSolver2D, value: Any, source: int | None = None) -> np.ndarray:
    """Set the drive frequency (Hz) of one source, or of all when ``source`` is None.

    The phase is adjusted so that each drive sin(2 pi f t + phi) stays continuous at the
    current time (no jump in the source term). Returns the new frequencies, shape
    (batch, n_sources).
    """
    f = _number("frequency", value)
    n_sources = solver.drive_frequency.shape[1]
    if n_sources == 0:
        raise ConfigError("this simulation has no sources whose frequency could change")
    if source is not None and (
        isinstance(source, bool) or not isinstance(source, int) or not 0 <= source < n_sources
    ):
        raise ConfigError(
            f"source must be an index in [0, {n_sources - 1}] or null for all, got {shown(source)}"
        )
    if f < 0:
        raise ConfigError(f"frequency must be >= 0 Hz, got {f:g}")
    limit = max_frequency(solver)
    if f > limit:
        raise ConfigError(
            f"frequency {f:g} Hz is not resolved: the grid needs at least 2 cells per "
            f"wavelength and 2 steps per period; the largest usable frequency is {limit:.6g} Hz"
        )
    columns = slice(None) if source is None else slice(source, source + 1)
    old = solver.drive_frequency[:, columns]
    phase = solver.drive_phase[:, columns] + 2 * np.pi * (old - f) * solver.t
    solver.drive_phase[:, columns] = np.mod(phase, 2 * np.pi)
    solver.drive_frequency[:, columns] = f
    return solver.drive_frequency.copy()
