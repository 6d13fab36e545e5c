"""The measure reductions on resident fields (frame statistics, box counts per scale)
agree with the numpy reference metric kernels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resonance_engine.backends import field_state
from resonance_engine.backends.numpy_ref import metrics as reference


@pytest.fixture(autouse=True)
def _gpu(wgpu_context: Any) -> Any:
    return wgpu_context


def _state(u: np.ndarray) -> Any:
    state = field_state("wgpu", u.shape, u.dtype)
    state.upload(u, np.zeros_like(u))
    return state


@settings(max_examples=30, deadline=None)
@given(
    nx=st.integers(1, 70),
    ny=st.integers(1, 70),
    batch=st.integers(1, 3),
    levels=st.integers(0, 7),
    boundary=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_box_counts_match_the_reference_exactly(
    nx: int, ny: int, batch: int, levels: int, boundary: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    # smooth-ish blobs so that large boxes are sometimes full, sometimes empty
    u = rng.normal(size=(batch, ny, nx)).cumsum(axis=1).cumsum(axis=2).astype(np.float32)
    threshold = np.abs(u.reshape(batch, -1)[:, rng.integers(0, nx * ny)])  # some |u| exactly
    got = _state(u).box_counts(threshold, levels, boundary)
    np.testing.assert_array_equal(got, reference.box_counts(u, threshold, levels, boundary))


def test_box_counts_in_float64(wgpu_context: Any, rng: np.random.Generator) -> None:
    if not wgpu_context.has_f64:
        pytest.skip("no shader-f64")
    u = rng.normal(size=(2, 45, 61))
    threshold = np.array([0.5, 1.0])
    for boundary in (False, True):
        got = _state(u).box_counts(threshold, 5, boundary)
        np.testing.assert_array_equal(got, reference.box_counts(u, threshold, 5, boundary))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_frame_stats_match_the_reference(
    wgpu_context: Any, dtype: str, rng: np.random.Generator
) -> None:
    if dtype == "float64" and not wgpu_context.has_f64:
        pytest.skip("no shader-f64")
    u = (rng.normal(size=(3, 50, 41)) * [[[0.1]], [[1.0]], [[30.0]]] + 2).astype(dtype)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(_state(u).frame_stats(), reference.frame_stats(u), rtol=rtol)
    u[1, 7, 9] = np.nan
    stats = _state(u).frame_stats()
    assert np.isfinite(stats[0]).all() and np.isfinite(stats[2]).all()
    assert not np.isfinite(stats[1]).all()
