"""The FieldState contract on the host backends (the solver's view of its two fields)."""

from __future__ import annotations

import numpy as np
import pytest

from resonance_engine import WaveSolver2D
from resonance_engine.backends import field_state
from resonance_engine.errors import ConfigError


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_host_state_is_live_arrays_and_round_trips(backend: str, rng: np.random.Generator) -> None:
    state = field_state(backend, (2, 5, 6), np.dtype("float64"))
    assert not state.resident
    u, prev = rng.normal(size=(2, 2, 5, 6))
    state.upload(u, prev)
    assert state.current() is state.current()  # no copy on the host
    np.testing.assert_array_equal(state.current(), u)
    np.testing.assert_array_equal(state.previous(), prev)
    state.current()[1, 2, 3] = np.nan
    assert state.finite_members().tolist() == [True, False]
    state.zero()
    assert not state.current().any() and not state.previous().any()


def test_frame_is_the_mean_of_full_blocks(rng: np.random.Generator) -> None:
    solver = WaveSolver2D(11, 7, batch=2, dtype="float64", backend="numpy")
    u = rng.normal(size=(2, 7, 11))
    solver.set_state(u, u)
    frame = solver.frame(3)
    assert frame.shape == (2, 2, 3)
    assert frame[1, 1, 2] == pytest.approx(u[1, 3:6, 6:9].mean())
    np.testing.assert_array_equal(solver.frame(1), u)
    single = WaveSolver2D(11, 7, dtype="float64", backend="numpy")
    single.set_state(u[0], u[0])
    np.testing.assert_allclose(single.frame(2), frame_of(u[0], 2))


def frame_of(u: np.ndarray, f: int) -> np.ndarray:
    ny, nx = u.shape[0] // f, u.shape[1] // f
    return u[: ny * f, : nx * f].reshape(ny, f, nx, f).mean(axis=(1, 3))


@pytest.mark.parametrize("factor", [0, 8, 2.5])
def test_bad_frame_factor_is_refused(factor: object) -> None:
    solver = WaveSolver2D(11, 7, backend="numpy")
    with pytest.raises(ConfigError, match="frame factor"):
        solver.frame(factor)  # type: ignore[arg-type]
