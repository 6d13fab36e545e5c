"""The solver on the wgpu backend: batches and read-backs. (The verification tests of
tests/field run on every backend, wgpu included.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from resonance_engine import WaveSolver2D


@pytest.fixture(autouse=True)
def _gpu(wgpu_context: Any) -> Any:
    return wgpu_context


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
