"""The numba oscillator kernels reproduce the numpy reference on random inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resonance_engine.backends import oscillator_kernels
from resonance_engine.backends.base import SparseCoupling
from resonance_engine.errors import BackendError

REF = oscillator_kernels("numpy")
FAST = oscillator_kernels("numba")


def _random_graph(rng: np.random.Generator, n: int) -> SparseCoupling:
    """A random directed graph with a few empty rows and repeated weights."""
    indptr, indices = [0], []
    for _ in range(n):
        row = rng.choice(n, size=int(rng.integers(0, min(n, 5) + 1)), replace=False)
        indices.extend(sorted(row.tolist()))
        indptr.append(len(indices))
    data = rng.uniform(-1.0, 2.0, len(indices))
    return SparseCoupling(np.array(indptr, np.int64), np.array(indices, np.int64), data)


@settings(max_examples=60, deadline=None)
@given(
    b=st.integers(1, 3),
    n=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    method=st.sampled_from(["euler", "rk4"]),
    sparse=st.booleans(),
    noisy=st.booleans(),
    dt=st.sampled_from([0.01, 0.1, 1.5]),  # 1.5 s: increments above the polynomial's range
)
def test_kuramoto_steps_match_the_reference(
    b: int, n: int, seed: int, method: str, sparse: bool, noisy: bool, dt: float
) -> None:
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-10, 10, (b, n))
    omega = rng.normal(0, 2, (b, n))
    coupling = rng.uniform(-1, 3, b) / n
    lag = rng.uniform(-1.5, 1.5, b)
    adjacency = _random_graph(rng, n) if sparse else None
    steps = int(rng.integers(0, 30))
    noise = 0.1 * rng.standard_normal((steps, b, n)) if noisy and method == "euler" else None
    fast, ref = theta.copy(), theta.copy()
    FAST.kuramoto_steps(fast, omega, coupling, lag, dt, steps, noise, adjacency, method)
    REF.kuramoto_steps(ref, omega, coupling, lag, dt, steps, noise, adjacency, method)
    scale = 1.0 + np.abs(ref).max()
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-9 * scale * max(steps, 1))


def test_batched_and_single_large_networks_match(rng: np.random.Generator) -> None:
    """The thread-per-network path and the split-network path agree with the reference."""
    for b, n in ((6, 300), (1, 1 << 18)):
        theta = rng.uniform(0, 6.3, (b, n))
        omega = rng.normal(0, 1, (b, n))
        args = (omega, np.full(b, 1.5 / n), np.full(b, 0.2), 0.05, 3, None, None, "euler")
        fast, ref = theta.copy(), theta.copy()
        FAST.kuramoto_steps(fast, *args)
        REF.kuramoto_steps(ref, *args)
        np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    c=st.integers(1, 3),
    t=st.integers(1, 200),
    n_bins=st.integers(1, 20),
    seed=st.integers(0, 2**32 - 1),
)
def test_phase_binned_amplitude_matches_the_reference(
    c: int, t: int, n_bins: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    bins = rng.integers(0, n_bins, (c, t))
    amplitude = rng.exponential(1.0, (c, t))
    shifts = rng.integers(0, t, (int(rng.integers(1, 8)), c))
    np.testing.assert_allclose(
        FAST.phase_binned_amplitude(bins, amplitude, n_bins, shifts),
        REF.phase_binned_amplitude(bins, amplitude, n_bins, shifts),
        rtol=1e-12,
        atol=1e-12,
    )


def test_device_backend_has_no_oscillator_kernels() -> None:
    with pytest.raises(BackendError, match="no oscillator kernels"):
        oscillator_kernels("wgpu")
