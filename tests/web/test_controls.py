"""Validation of the live controls: refused values leave the solver as it was."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resonance_engine.config import default_pond
from resonance_engine.errors import CFLViolation, ConfigError
from resonance_engine.field.stability import courant_number
from resonance_engine.web.controls import (
    control_limits,
    max_damping,
    max_frequency,
    max_wave_speed,
    set_damping,
    set_frequency,
    set_wave_speed,
)


@pytest.fixture
def solver():
    s = default_pond(32).build()
    s.step(7)
    return s


def test_damping_is_set(solver) -> None:
    assert set_damping(solver, 0.5) == 0.5
    assert solver.damping == 0.5


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, "1", None, True])
def test_bad_damping_is_refused(solver, bad) -> None:
    with pytest.raises(ConfigError, match="damping"):
        set_damping(solver, bad)
    assert solver.damping == 0.1


def test_damping_above_two_over_dt_is_refused(solver) -> None:
    limit = max_damping(solver)
    assert limit == pytest.approx(2 / solver.dt)
    set_damping(solver, limit)
    with pytest.raises(ConfigError, match="flips the sign"):
        set_damping(solver, limit * 1.01)
    assert solver.damping == limit


def test_wave_speed_within_cfl_is_set(solver) -> None:
    number = set_wave_speed(solver, 1.2)
    assert solver.wave_speed == 1.2
    assert number == pytest.approx(courant_number(1.2, solver.dt, solver.dx, solver.dy))
    assert solver.courant_number == number
    solver.step(20)  # still stable
    assert np.isfinite(solver.u).all()


def test_wave_speed_above_cfl_is_refused(solver) -> None:
    limit = max_wave_speed(solver)
    assert courant_number(limit, solver.dt, solver.dx, solver.dy) == pytest.approx(1.0)
    with pytest.raises(CFLViolation, match="largest stable wave speed") as info:
        set_wave_speed(solver, limit * 1.5)
    assert info.value.courant_number == pytest.approx(1.5)
    assert solver.wave_speed == 1.0


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan])
def test_non_positive_wave_speed_is_refused(solver, bad) -> None:
    with pytest.raises(ConfigError, match="wave_speed"):
        set_wave_speed(solver, bad)
    assert solver.wave_speed == 1.0


def test_frequency_change_keeps_the_drive_continuous(solver) -> None:
    def drive() -> np.ndarray:
        return np.sin(2 * np.pi * solver.drive_frequency * solver.t + solver.drive_phase)

    before = drive()
    frequencies = set_frequency(solver, 11.5, source=1)
    assert frequencies[0].tolist() == [10.0, 11.5, 17.0]
    np.testing.assert_allclose(drive(), before, atol=1e-9)
    set_frequency(solver, 4.0)
    assert solver.drive_frequency[0].tolist() == [4.0, 4.0, 4.0]
    np.testing.assert_allclose(drive(), before, atol=1e-9)


def test_bad_frequencies_are_refused(solver) -> None:
    before = solver.drive_frequency.copy()
    with pytest.raises(ConfigError, match=">= 0"):
        set_frequency(solver, -1.0)
    with pytest.raises(ConfigError, match="not resolved"):
        set_frequency(solver, max_frequency(solver) * 1.1)
    with pytest.raises(ConfigError, match="source must be an index"):
        set_frequency(solver, 5.0, source=3)
    with pytest.raises(ConfigError, match="source must be an index"):
        set_frequency(solver, 5.0, source=True)  # type: ignore[arg-type]
    np.testing.assert_array_equal(solver.drive_frequency, before)


def test_no_sources_no_frequency() -> None:
    from resonance_engine.field.solver import WaveSolver2D

    with pytest.raises(ConfigError, match="no sources"):
        set_frequency(WaveSolver2D(16, 16), 1.0)


def test_limits_match_the_checks(solver) -> None:
    limits = control_limits(solver)
    assert limits["damping"]["max"] == max_damping(solver)
    assert limits["wave_speed"]["max"] == max_wave_speed(solver)
    assert limits["frequency"]["max"] == max_frequency(solver)
