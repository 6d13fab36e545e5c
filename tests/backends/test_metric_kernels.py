"""The numba metric kernels reproduce the numpy reference on random inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from resonance_engine.backends import metric_kernels
from resonance_engine.metrics.coherence import gaussian_weights

REF = metric_kernels("numpy")
FAST = metric_kernels("numba")


@st.composite
def fields(draw: st.DrawFn, max_side: int = 40) -> np.ndarray:
    b = draw(st.integers(1, 3))
    ny = draw(st.integers(1, max_side))
    nx = draw(st.integers(1, max_side))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    offset = draw(st.sampled_from([0.0, 0.0, 5.0]))
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((b, ny, nx)) * scale + offset * scale
    if draw(st.booleans()):  # sparse: exercise empty boxes
        u *= rng.random((b, ny, nx)) < 0.1
    return np.ascontiguousarray(u.astype(dtype))


def _tol(u: np.ndarray) -> dict[str, float]:
    return {"rtol": 2e-5, "atol": 0.0} if u.dtype == np.float32 else {"rtol": 1e-10, "atol": 0.0}


@settings(max_examples=60, deadline=None)
@given(fields())
def test_frame_stats(u: np.ndarray) -> None:
    np.testing.assert_allclose(FAST.frame_stats(u), REF.frame_stats(u), rtol=1e-9, atol=1e-300)


@settings(max_examples=60, deadline=None)
@given(fields(), st.floats(0.0, 2.0), st.integers(0, 6), st.booleans())
def test_box_counts(u: np.ndarray, rel: float, levels: int, boundary: bool) -> None:
    theta = rel * np.sqrt(REF.frame_stats(u)[:, 1])
    np.testing.assert_array_equal(
        FAST.box_counts(u, theta, levels, boundary), REF.box_counts(u, theta, levels, boundary)
    )


@settings(max_examples=60, deadline=None)
@given(fields(), st.sampled_from([1, 3, 5, 7, 21, 101]))
def test_gain(u: np.ndarray, window: int) -> None:
    a = np.empty_like(u)
    b = np.empty_like(u)
    FAST.gain(u, window, a)
    REF.gain(u, window, b)
    scale = float(np.abs(u).max()) or 1.0
    np.testing.assert_allclose(a, b, rtol=_tol(u)["rtol"], atol=_tol(u)["rtol"] * scale)


@settings(max_examples=60, deadline=None)
@given(fields(), st.sampled_from([0.5, 1.0, 2.0, 3.3]))
def test_local_variance(u: np.ndarray, sigma: float) -> None:
    w = gaussian_weights(sigma)
    shift = REF.frame_stats(u)[:, 0]
    a = np.empty_like(u)
    b = np.empty_like(u)
    FAST.local_variance(u, w, shift, a)
    REF.local_variance(u, w, shift, b)
    # the error of E[u^2] - E[u]^2 is relative to E[u^2], not to the variance
    m2 = float(((u.astype(np.float64) - shift[:, None, None]) ** 2).max()) or 1.0
    tol = 1e-5 if u.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(a, b, rtol=0, atol=tol * m2)


@settings(max_examples=60, deadline=None)
@given(fields(max_side=24), st.integers(1, 6), st.booleans(), st.integers(0, 9))
def test_dwell(u: np.ndarray, history: int, quantized: bool, frames: int) -> None:
    rng = np.random.default_rng(frames)
    b = u.shape[0]
    hdtype = np.int16 if quantized else u.dtype
    ring_ref = (rng.standard_normal((b, history, *u.shape[1:])) * 1000).astype(hdtype)
    ring_fast = ring_ref.copy()
    n = min(frames, history)
    slots = rng.permutation(history)[:n].astype(np.int64)
    weights = np.exp(-np.arange(1, n + 1) / 3.0)
    slot_scale = rng.uniform(0.001, 0.01, (b, history)) if quantized else np.ones((b, history))
    inv_h = 1.0 / rng.uniform(0.1, 10.0, b)
    maxabs = np.abs(u).reshape(b, -1).max(axis=1)
    store = np.where(maxabs > 0, 32767.0 / np.where(maxabs > 0, maxabs, 1), 1.0)
    store = store if quantized else np.ones(b)
    store_slot = int(rng.integers(-1, history))
    a = np.empty_like(u)
    c = np.empty_like(u)
    FAST.dwell(u, ring_fast, slots, weights, slot_scale, inv_h, store_slot, store, a)
    REF.dwell(u, ring_ref, slots, weights, slot_scale, inv_h, store_slot, store, c)
    np.testing.assert_allclose(a, c, rtol=1e-4 if u.dtype == np.float32 else 1e-10, atol=1e-5)
    # the stored codes agree to one step (ties may round either way under FMA)
    assert np.abs(ring_fast.astype(np.float64) - ring_ref.astype(np.float64)).max() <= (
        1.0 if quantized else 1e-6 * (float(np.abs(u).max()) + 1)
    )
