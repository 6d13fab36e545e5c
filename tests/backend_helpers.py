"""Helpers shared by the backend tests (imported as ``backend_helpers``: ``tests/`` is on
``sys.path`` because of its ``conftest.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from resonance_engine import PointSource, WaveSolver2D

__all__ = ["skip_without_float64", "solver_pair"]


def skip_without_float64(request: pytest.FixtureRequest, backend: str) -> None:
    """Skip a float64 test on a GPU adapter without 64-bit floats (a hardware limit)."""
    if backend == "wgpu" and not request.getfixturevalue("wgpu_context").has_f64:
        pytest.skip("this GPU adapter has no 64-bit floats (shader-f64)")


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
