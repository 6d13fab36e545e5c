"""The solver's verification tests on the wgpu backend: manufactured-solution order,
discrete energy conservation, absorbing edges, batches."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from resonance_engine import WaveSolver2D


@pytest.fixture(autouse=True)
def _gpu(wgpu_context: Any) -> Any:
    return wgpu_context


def _verification() -> ModuleType:
    """tests/field/test_verification.py, to run its manufactured solution on wgpu."""
    path = Path(__file__).parents[1] / "field" / "test_verification.py"
    spec = importlib.util.spec_from_file_location("field_verification", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_manufactured_solution_converges_at_second_order_on_wgpu(wgpu_context: Any) -> None:
    """The float64 MMS test of tests/field, unchanged, on the GPU."""
    if not wgpu_context.has_f64:
        pytest.skip(f"adapter {wgpu_context.description} has no shader-f64")
    mms_error = _verification()._mms_error
    errors = [mms_error(n, "wgpu") for n in (17, 33, 65, 129)]
    orders = [math.log2(errors[i] / errors[i + 1]) for i in range(len(errors) - 1)]
    assert all(abs(order - 2.0) <= 0.2 for order in orders), (errors, orders)
    reference = [mms_error(n, "numpy") for n in (17, 33)]
    np.testing.assert_allclose(errors[:2], reference, rtol=1e-9)


@pytest.mark.parametrize("boundary", ["fixed", "periodic"])
@pytest.mark.parametrize(("dtype", "tolerance"), [("float64", 1e-6), ("float32", 1e-3)])
def test_undamped_closed_box_conserves_discrete_energy_on_wgpu(
    wgpu_context: Any, boundary: str, dtype: str, tolerance: float
) -> None:
    if dtype == "float64" and not wgpu_context.has_f64:
        pytest.skip("no shader-f64")
    solver = WaveSolver2D(96, 80, dx=0.05, dy=0.04, boundary=boundary, dtype=dtype, backend="wgpu")
    solver.set_gaussian_pulse(30, 30, 4.0)
    start = solver.energy()
    worst = 0.0
    for _ in range(10):
        solver.step(100)
        worst = max(worst, abs(solver.energy() - start) / start)
    assert worst < tolerance
    assert np.abs(solver.u[1]).max() > 1e-3  # the waves did reach the edges


def test_absorbing_boundary_lets_a_pulse_leave_on_wgpu() -> None:
    n = 128
    solver = WaveSolver2D(n, n, dx=1.0, boundary="absorbing", backend="wgpu")
    solver.set_gaussian_pulse(n / 2, n / 2, 4.0)
    start = solver.energy()
    solver.step(math.ceil(2 * n * solver.dx / solver.wave_speed / solver.dt))
    assert solver.energy() < 0.01 * start


def test_batch_members_match_single_runs_on_wgpu() -> None:
    dampings = [0.0, 0.3, 1.0]
    batch = WaveSolver2D(24, 20, dx=0.1, damping=dampings, batch=3, backend="wgpu")
    batch.set_gaussian_pulse(10, 8, 2.0)
    batch.step(40)
    for k, damping in enumerate(dampings):
        single = WaveSolver2D(24, 20, dx=0.1, damping=damping, backend="wgpu")
        single.set_gaussian_pulse(10, 8, 2.0)
        single.step(40)
        np.testing.assert_array_equal(batch.u[k], single.u)
    assert np.abs(batch.u[0] - batch.u[2]).max() > 1e-3


def test_u_is_a_read_only_read_back() -> None:
    solver = WaveSolver2D(10, 12, backend="wgpu")
    u = np.arange(120.0).reshape(12, 10)
    solver.set_state(u, u * 0.5)
    np.testing.assert_allclose(solver.u, u)
    np.testing.assert_allclose(solver.u_prev, u * 0.5)
    assert not solver.u.flags.writeable
    solver.step(3)
    solver.reset()
    assert solver.step_count == 0 and not solver.u.any()
