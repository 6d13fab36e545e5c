"""WaveSolver2D: API contract, bad input, divergence, feedback and sources."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from resonance_engine import (
    CFLViolation,
    ConfigError,
    DivergenceError,
    FieldError,
    PointSource,
    WaveSolver2D,
    courant_number,
    max_stable_dt,
)
from resonance_engine.errors import BackendError


def test_default_dt_is_courant_times_the_2d_limit() -> None:
    solver = WaveSolver2D(32, 16, dx=0.1, dy=0.05, wave_speed=2.0, courant=0.8)
    limit = 1 / (2.0 * math.sqrt(1 / 0.1**2 + 1 / 0.05**2))
    assert solver.dt == pytest.approx(0.8 * limit)
    assert solver.courant_number == pytest.approx(0.8)
    assert max_stable_dt(2.0, 0.1, 0.05) == pytest.approx(limit)


def test_blueprint_1d_cfl_step_is_refused_with_the_numbers() -> None:
    dx, c = 0.01, 1.0
    with pytest.raises(CFLViolation) as info:
        WaveSolver2D(64, 64, dx=dx, wave_speed=c, dt=0.8 * dx / c)
    err = info.value
    assert err.courant_number == pytest.approx(0.8 * math.sqrt(2))
    assert err.max_stable_dt == pytest.approx(dx / math.sqrt(2))
    assert "1.131" in str(err) and "0.00707107" in str(err)


def test_blueprint_1d_cfl_step_really_diverges_in_2d() -> None:
    """Bypassing the check shows why it exists: c dt/dx = 0.8 blows up in 2D."""
    solver = WaveSolver2D(64, 64, dx=1.0, boundary="periodic", dtype="float64", check_interval=10)
    solver._dt = 0.8  # c dt / dx = 0.8, Courant number 1.13 (the dt setter refuses it)
    solver.set_state(np.random.default_rng(0).normal(size=(64, 64)) * 1e-3)
    with pytest.raises(DivergenceError) as info:
        solver.step(2000)
    assert info.value.step <= 2000


def test_setting_dt_or_wave_speed_rechecks_cfl() -> None:
    """Both were plain attributes: any value was taken after construction."""
    solver = WaveSolver2D(32, 32, dx=1.0, dtype="float64")
    solver.step(10)
    t, dt, c = solver.t, solver.dt, solver.wave_speed
    with pytest.raises(CFLViolation, match="largest stable dt"):
        solver.dt = 0.8
    with pytest.raises(CFLViolation):
        solver.wave_speed = 2.0
    with pytest.raises(ConfigError, match="finite"):
        solver.wave_speed = float("nan")
    assert (solver.dt, solver.wave_speed, solver.t) == (dt, c, t)
    solver.dt = dt / 2  # accepted; the simulated time of the current field is kept
    assert solver.t == pytest.approx(t) and solver.courant_number == pytest.approx(0.4)
    solver.step(4)
    assert solver.t == pytest.approx(t + 4 * dt / 2)
    solver.wave_speed = 1.5
    assert solver.courant_number == pytest.approx(0.6)


def test_courant_number_formula() -> None:
    assert courant_number(1.0, 0.5, 1.0, 1.0) == pytest.approx(0.5 * math.sqrt(2))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"nx": 0, "ny": 8}, "nx must be an integer >= 3"),
        ({"nx": 8, "ny": 2}, "ny must be an integer >= 3"),
        ({"dx": 0.0}, "dx must be > 0"),
        ({"dx": -1.0}, "dx must be > 0"),
        ({"dy": float("nan")}, "dy must be a finite number"),
        ({"wave_speed": 0.0}, "wave_speed must be > 0"),
        ({"boundary": "open"}, "unknown boundary 'open'"),
        ({"damping": -0.1}, "damping must be finite and >= 0"),
        ({"courant": 1.5}, "courant must be in (0, 1]"),
        ({"dtype": "float16"}, "dtype must be"),
        ({"feedback": "quadratic"}, "unknown feedback 'quadratic'"),
        ({"batch": 0}, "batch must be None or an integer >= 1"),
    ],
)
def test_bad_parameters_are_refused_clearly(kwargs: dict, fragment: str) -> None:
    params = {"nx": 8, "ny": 8} | kwargs
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        WaveSolver2D(**params)


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(BackendError, match="unknown backend 'cuda'"):
        WaveSolver2D(8, 8, backend="cuda")


def test_source_outside_the_grid_is_refused() -> None:
    with pytest.raises(ConfigError, match="outside the grid"):
        WaveSolver2D(8, 8, dx=1.0, sources=[PointSource(x=20.0, y=1.0)])


@pytest.mark.parametrize(
    ("state", "fragment"),
    [
        (np.zeros((8, 9)), r"shape \(8, 9\), expected \(8, 8\)"),
        (np.full((8, 8), np.nan), "64 non-finite values"),
        (np.full((8, 8), np.inf), "non-finite"),
        (np.zeros((2, 8, 8)), "expected"),
    ],
)
def test_bad_states_are_refused_and_the_old_state_is_kept(state: np.ndarray, fragment: str) -> None:
    solver = WaveSolver2D(8, 8)
    solver.set_gaussian_pulse(4, 4, 1.0)
    before = solver.u.copy()
    with pytest.raises(FieldError, match=fragment):
        solver.set_state(state)
    np.testing.assert_array_equal(solver.u, before)


def test_state_round_trip_and_reset() -> None:
    solver = WaveSolver2D(10, 12)
    u = np.arange(120.0).reshape(12, 10)
    solver.set_state(u, u * 0.5)
    np.testing.assert_allclose(solver.u, u)
    np.testing.assert_allclose(solver.u_prev, u * 0.5)
    assert not solver.u.flags.writeable
    solver.step(3)
    assert solver.step_count == 3 and solver.t == pytest.approx(3 * solver.dt)
    solver.reset()
    assert solver.step_count == 0 and solver.t == 0 and not solver.u.any()


def test_nan_appearing_during_a_run_is_reported_with_the_step() -> None:
    solver = WaveSolver2D(16, 16, check_interval=7)
    solver.set_gaussian_pulse(8, 8, 2.0)
    solver._cur[0, 5, 5] = np.nan  # simulate a fault injected from outside
    with pytest.raises(DivergenceError, match="non-finite") as info:
        solver.step(20)
    assert info.value.step == 7


def test_energy_limit_is_enforced() -> None:
    solver = WaveSolver2D(16, 16, energy_limit=1e-9, check_interval=1)
    solver.set_gaussian_pulse(8, 8, 2.0)
    with pytest.raises(DivergenceError, match="exceeds energy_limit"):
        solver.step(1)


def test_batch_members_are_independent_and_match_single_runs() -> None:
    dampings = [0.0, 0.3, 1.0]
    batch = WaveSolver2D(
        24,
        20,
        dx=0.1,
        damping=dampings,
        batch=3,
        dtype="float64",
        sources=[PointSource(1.0, 1.0, amplitude=5.0, frequency=2.0)],
    )
    batch.drive_amplitude[2] = 9.0
    batch.set_gaussian_pulse(10, 10, 2.0)
    batch.step(50)
    for k, g in enumerate(dampings):
        single = WaveSolver2D(
            24,
            20,
            dx=0.1,
            damping=g,
            dtype="float64",
            sources=[PointSource(1.0, 1.0, amplitude=5.0, frequency=2.0)],
        )
        single.drive_amplitude[0] = batch.drive_amplitude[k]
        single.set_gaussian_pulse(10, 10, 2.0)
        single.step(50)
        np.testing.assert_allclose(batch.u[k], single.u, rtol=1e-12, atol=1e-14)
    energies = batch.energy()
    assert energies.shape == (3,)


def test_point_source_radiates_at_its_frequency() -> None:
    solver = WaveSolver2D(
        64,
        64,
        dx=0.05,
        boundary="absorbing",
        dtype="float64",
        sources=[PointSource(1.6, 1.6, amplitude=50.0, frequency=2.0)],
    )
    probe = []
    steps = round(4.0 / solver.dt)
    for _ in range(steps):
        solver.step(1)
        probe.append(solver.u[40, 32])
    signal = np.asarray(probe[steps // 2 :])
    spectrum = np.abs(np.fft.rfft(signal - signal.mean()))
    freqs = np.fft.rfftfreq(signal.size, solver.dt)
    assert freqs[np.argmax(spectrum)] == pytest.approx(2.0, abs=0.3)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize(
    ("feedback", "term"),
    [("cubic", lambda u, k: -k * u**3), ("tanh", lambda u, k: k * math.tanh(u)), (None, None)],
)
def test_feedback_on_a_uniform_field_follows_the_scalar_recurrence(
    backend: str, feedback: str | None, term: object
) -> None:
    """A uniform periodic field has no Laplacian: u[n+1] = 2u[n] - u[n-1] + dt^2 f(u[n])."""
    k = 3.0
    solver = WaveSolver2D(
        8,
        8,
        dx=0.1,
        boundary="periodic",
        feedback=feedback,
        feedback_strength=k,
        dtype="float64",
        backend=backend,
    )
    solver.set_state(np.full((8, 8), 1.5), np.full((8, 8), 1.5))
    u, u_prev = 1.5, 1.5
    for _ in range(25):
        f = term(u, k) if term else 0.0  # type: ignore[operator]
        u, u_prev = 2 * u - u_prev + solver.dt**2 * f, u
    solver.step(25)
    np.testing.assert_allclose(solver.u, u, rtol=1e-12)
    if term is not None:
        assert abs(u - 1.5) > 1e-3  # the feedback really moved the field


def test_custom_feedback_matches_the_builtin_cubic() -> None:
    @njit
    def cubic(u):  # type: ignore[no-untyped-def]
        return -2.0 * u * u * u

    results = []
    for backend, feedback in [("numba", cubic), ("numba", "cubic"), ("numpy", cubic)]:
        solver = WaveSolver2D(
            32,
            32,
            dx=0.1,
            boundary="periodic",
            feedback=feedback,
            feedback_strength=2.0,
            dtype="float64",
            backend=backend,
        )
        solver.set_gaussian_pulse(16, 16, 3.0, amplitude=2.0)
        solver.step(30)
        results.append(solver.u.copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(results[0], results[2], rtol=1e-10, atol=1e-12)


def test_plain_python_custom_feedback_is_compiled_by_numba() -> None:
    """A plain lambda runs on numba and gives the numpy reference's field (the test used
    to check only that the field stayed finite)."""
    fields = {}
    for backend, feedback in [
        ("numba", lambda u: -0.5 * u),
        ("numpy", lambda u: -0.5 * u),
        ("numba", None),
    ]:
        solver = WaveSolver2D(16, 16, feedback=feedback, backend=backend, dtype="float64")
        solver.set_gaussian_pulse(8, 8, 2.0)
        solver.step(40)
        fields[backend, feedback is None] = solver.u.copy()
    np.testing.assert_allclose(
        fields["numba", False], fields["numpy", False], rtol=1e-12, atol=1e-14
    )
    # and the feedback acted: -0.5 u pulls the field back, unlike no feedback at all
    assert np.abs(fields["numba", False] - fields["numba", True]).max() > 1e-3
