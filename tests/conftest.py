"""Shared fixtures: a seeded random generator and the compute backends.

Tests that take ``field_backend`` run on every backend of the solver (numpy, numba,
wgpu); ``compiled_backend`` is every backend that is checked against the numpy
reference. Under CI (``CI=true``) a missing ``wgpu`` package or GPU adapter fails the
wgpu tests: ``.ci/run`` installs the lavapipe software adapter. Elsewhere they are
skipped with the reason.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from resonance_engine import PointSource, WaveSolver2D


@pytest.fixture
def rng() -> np.random.Generator:
    """A random generator with a fixed seed, so failures reproduce."""
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def wgpu_context() -> Any:
    """The wgpu backend's GPU context (fails under CI, skips elsewhere when unusable)."""
    try:
        from resonance_engine.backends.wgpu_gpu import gpu_context

        return gpu_context()
    except Exception as exc:  # ImportError (no wgpu) or BackendError (no adapter)
        reason = f"wgpu backend unusable: {type(exc).__name__}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (.ci/run installs wgpu and lavapipe)")
        pytest.skip(reason)


def _activate(request: pytest.FixtureRequest, backend: str) -> str:
    if backend == "wgpu":
        request.getfixturevalue("wgpu_context")
    return backend


@pytest.fixture(params=["numpy", "numba", "wgpu"])
def field_backend(request: pytest.FixtureRequest) -> str:
    """Each backend of the solver in turn."""
    return _activate(request, request.param)


@pytest.fixture(scope="session", params=["numba", "wgpu"])
def compiled_backend(request: pytest.FixtureRequest) -> str:
    """Each backend that must reproduce the numpy reference (session-scoped, so that
    hypothesis tests may use it)."""
    return _activate(request, request.param)


@pytest.fixture(scope="session")
def compiled_float64_backend(request: pytest.FixtureRequest, compiled_backend: str) -> str:
    """Each compiled backend that can run float64."""
    skip_without_float64(request, compiled_backend)
    return compiled_backend


def skip_without_float64(request: pytest.FixtureRequest, backend: str) -> None:
    """Skip a float64 test on a GPU adapter without 64-bit floats (a hardware limit)."""
    if backend == "wgpu" and not request.getfixturevalue("wgpu_context").has_f64:
        pytest.skip("this GPU adapter has no 64-bit floats (shader-f64)")


@pytest.fixture
def float64_backend(request: pytest.FixtureRequest, field_backend: str) -> str:
    """Each solver backend that can run float64."""
    skip_without_float64(request, field_backend)
    return field_backend


def solver_pair(
    compiled: str,
    nx: int,
    ny: int,
    batch: int | None,
    boundary: str,
    damping: float,
    feedback: str | None,
    seed: int,
    dtype: str,
    n_sources: int = 2,
) -> list[WaveSolver2D]:
    """A numpy and a ``compiled`` solver in the same random state with random sources."""
    rng = np.random.default_rng(seed)
    state = rng.normal(size=(ny, nx) if batch is None else (batch, ny, nx))
    prev = state + 0.01 * rng.normal(size=state.shape)
    sources = [
        PointSource(
            x=rng.uniform(0, nx - 1) * 0.1,
            y=rng.uniform(0, ny - 1) * 0.1,
            amplitude=rng.uniform(1, 50),
            frequency=rng.uniform(0.5, 3),
            phase=rng.uniform(0, 6),
        )
        for _ in range(n_sources)
    ]
    dampings = damping * rng.uniform(0.5, 1.5, size=batch) if batch else damping
    solvers = []
    for backend in ("numpy", compiled):
        s = WaveSolver2D(
            nx,
            ny,
            dx=0.1,
            damping=dampings,
            boundary=boundary,
            feedback=feedback,
            feedback_strength=0.5,
            sources=sources,
            batch=batch,
            dtype=dtype,
            backend=backend,
            courant=0.9,
        )
        s.set_state(state, prev)
        solvers.append(s)
    return solvers
