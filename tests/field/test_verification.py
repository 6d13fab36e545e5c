"""Numerical verification of the leapfrog scheme: convergence order and energy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend_helpers import skip_without_float64
from resonance_engine import FieldSource, WaveSolver2D


def _mms_error(n: int, backend: str) -> float:
    """L2 error at t = 0.5 s of the manufactured solution u = sin(pi x) sin(pi y) sin(w t).

    With damping g the source that makes it exact is
    s = X [(2 pi^2 c^2 - w^2) sin(w t) + g w cos(w t)] = X R sin(w t + phi),
    with X = sin(pi x) sin(pi y).
    """
    c, g, w = 1.3, 0.7, 5.0
    dx = 1.0 / (n - 1)
    x = np.arange(n) * dx
    profile = np.outer(np.sin(np.pi * x), np.sin(np.pi * x))
    a, b = 2 * np.pi**2 * c**2 - w**2, g * w
    source = FieldSource(
        profile, amplitude=math.hypot(a, b), frequency=w / (2 * np.pi), phase=math.atan2(b, a)
    )
    solver = WaveSolver2D(
        n,
        n,
        dx=dx,
        wave_speed=c,
        damping=g,
        boundary="fixed",
        courant=0.5,
        sources=[source],
        dtype="float64",
        backend=backend,
    )
    t_end = 0.5
    steps = round(t_end / solver.dt)
    solver.dt = t_end / steps  # land exactly on t_end (still below the CFL limit)
    solver.set_state(0 * profile, profile * math.sin(-w * solver.dt))
    solver.step(steps)
    exact = profile * math.sin(w * solver.t)
    return float(np.sqrt(np.mean((solver.u - exact) ** 2)))


def test_manufactured_solution_converges_at_second_order(float64_backend: str) -> None:
    errors = [_mms_error(n, float64_backend) for n in (17, 33, 65, 129)]
    orders = [math.log2(errors[i] / errors[i + 1]) for i in range(len(errors) - 1)]
    assert all(abs(order - 2.0) <= 0.2 for order in orders), (errors, orders)


@pytest.mark.parametrize("boundary", ["fixed", "periodic"])
# README: "drifts by less than 1e-13 relative over 1000 steps in float64" (measured:
# 4e-16 on numpy, numba and wgpu); float32 measured 1.5e-7 to 3.6e-7
@pytest.mark.parametrize(("dtype", "tolerance"), [("float64", 1e-13), ("float32", 1e-5)])
def test_undamped_closed_box_conserves_discrete_energy(
    request: pytest.FixtureRequest,
    field_backend: str,
    boundary: str,
    dtype: str,
    tolerance: float,
) -> None:
    if dtype == "float64":
        skip_without_float64(request, field_backend)
    solver = WaveSolver2D(
        96, 80, dx=0.05, dy=0.04, boundary=boundary, dtype=dtype, backend=field_backend
    )
    solver.set_gaussian_pulse(40, 30, 4.0)
    start = solver.energy()
    worst = 0.0
    for _ in range(10):
        solver.step(100)
        worst = max(worst, abs(solver.energy() - start) / start)
    assert worst < tolerance


def test_energy_decays_with_damping() -> None:
    solver = WaveSolver2D(64, 64, dx=0.1, boundary="fixed", damping=0.5, dtype="float64")
    solver.set_gaussian_pulse(32, 32, 3.0)
    energies = [solver.energy()]
    for _ in range(20):
        solver.step(25)
        energies.append(solver.energy())
    assert all(b <= a * (1 + 1e-12) for a, b in zip(energies, energies[1:], strict=False))
    assert energies[-1] < 0.5 * energies[0]


def test_absorbing_boundary_lets_a_pulse_leave(field_backend: str) -> None:
    n = 128
    solver = WaveSolver2D(n, n, dx=1.0, boundary="absorbing", backend=field_backend)
    solver.set_gaussian_pulse(n / 2, n / 2, 4.0)
    start = solver.energy()
    crossing_twice = 2 * n * solver.dx / solver.wave_speed
    solver.step(math.ceil(crossing_twice / solver.dt))
    # README: "less than 0.01% of its energy left after two crossing times" (measured
    # 5.9e-5 of it on numpy, numba and wgpu)
    assert solver.energy() < 1e-4 * start


def test_fixed_boundary_keeps_the_pulse_inside() -> None:
    n = 128
    solver = WaveSolver2D(n, n, dx=1.0, boundary="fixed", dtype="float64")
    solver.set_gaussian_pulse(n / 2, n / 2, 4.0)
    start = solver.energy()
    solver.step(math.ceil(2 * n / solver.dt))
    assert solver.energy() == pytest.approx(start, rel=1e-9)
