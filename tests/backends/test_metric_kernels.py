"""The numba metric kernels reproduce the numpy reference on random inputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resonance_engine.backends import metric_kernels
from resonance_engine.backends.base import FrameParams
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
    fast = FAST.frame_stats(u)
    ref = REF.frame_stats(u)
    np.testing.assert_allclose(fast[:, :2], ref[:, :2], rtol=1e-9, atol=1e-300)
    # max |u| is taken in float32 (exact for float32 fields, rounded for float64)
    np.testing.assert_allclose(fast[:, 2], ref[:, 2], rtol=6e-8, atol=0)


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


@settings(max_examples=40, deadline=None)
@given(
    fields(),
    st.integers(1, 4),
    st.booleans(),
    st.sampled_from(["frame", "bounded"]),
    st.sampled_from([1, 3, 5, 11]),  # 11: the float64 running sums of a wide gain window
    st.sampled_from([0.7, 2.0]),
)
def test_analyze_frame(
    u: np.ndarray, levels: int, boundary: bool, mode: str, window: int, sigma: float
) -> None:
    b = u.shape[0]
    stats = REF.frame_stats(u)
    history = 3
    rng = np.random.default_rng(7)
    ring = (rng.standard_normal((b, history, *u.shape[1:])) * 1000).astype(np.int16)
    maxabs = stats[:, 2]
    params = FrameParams(
        threshold=np.sqrt(stats[:, 1]),
        levels=levels,
        boundary=boundary,
        gain_window=window,
        weights=gaussian_weights(sigma),
        shift=stats[:, 0],
        coh_a=1.0 if mode == "frame" else 2.0,
        coh_b=1e-6 if mode == "frame" else 1.0,
        gamma=1.5,
        history=ring,
        slots=np.array([2, 0], dtype=np.int64),
        lag_weights=np.array([0.8, 0.5]),
        slot_scale=np.full((b, history), 1e-3),
        inv_h=1.0 / (np.sqrt(stats[:, 1]) + 1e-3),
        store_slot=1,
        store_scale=np.where(maxabs > 0, 32767.0 / np.where(maxabs > 0, maxabs, 1), 1.0),
    )
    fast_fields = tuple(np.empty_like(u) for _ in range(3))
    ref_fields = tuple(np.empty_like(u) for _ in range(3))
    fast_ring = ring.copy()
    sums_fast, counts_fast = FAST.analyze_frame(u, params._replace(history=fast_ring), fast_fields)
    sums_ref, counts_ref = REF.analyze_frame(u, params, ref_fields)
    np.testing.assert_array_equal(counts_fast, counts_ref)
    rtol = 2e-4 if u.dtype == np.float32 else 1e-7
    scale = float(np.abs(u).max()) + 1e-30
    np.testing.assert_allclose(fast_fields[0], ref_fields[0], rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(fast_fields[2], ref_fields[2], rtol=rtol, atol=1e-5)
    # C = 1/(a var + b) is ill-conditioned where var is tiny against E[u^2]: compare var
    var_fast = (1.0 / fast_fields[1].astype(np.float64) - params.coh_b) / params.coh_a
    var_ref = (1.0 / ref_fields[1].astype(np.float64) - params.coh_b) / params.coh_a
    m2 = float(((u.astype(np.float64) - stats[:, 0, None, None]) ** 2).max()) + 1e-30
    resolution = 4 * np.finfo(u.dtype).eps / (params.coh_a * ref_fields[1].astype(np.float64))
    tol = (2e-5 if u.dtype == np.float32 else 1e-10) * m2
    assert np.all(np.abs(var_fast - var_ref) <= tol + resolution)
    # the sums are those of the fields the kernel wrote
    g, c, tau = (f.astype(np.float64) for f in fast_fields)
    h = -np.expm1(-tau / 1.5)
    own = np.stack(
        [
            g.sum((1, 2)),
            c.sum((1, 2)),
            tau.sum((1, 2)),
            (g * c * h).sum((1, 2)),
            (g * h).sum((1, 2)),
            c.min((1, 2)),
            c.max((1, 2)),
        ],
        axis=1,
    )
    np.testing.assert_allclose(sums_fast, own, rtol=1e-6, atol=1e-12)
    assert np.abs(fast_ring.astype(np.int32) - ring.astype(np.int32)).max() <= 1


@pytest.mark.parametrize("shape", [(1, 67, 53), (3, 40, 33), (2, 130, 17)])
def test_parallel_bands_match_the_serial_kernel(
    shape: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small inputs run serially; force the banded parallel path on odd shapes."""
    import resonance_engine.backends.numba_cpu.metrics as fast_module

    rng = np.random.default_rng(3)
    u = rng.standard_normal(shape).astype(np.float32)
    stats = REF.frame_stats(u)
    b = shape[0]
    ring = (rng.standard_normal((b, 2, *shape[1:])) * 1000).astype(np.int16)
    params = FrameParams(
        threshold=np.sqrt(stats[:, 1]),
        levels=3,
        boundary=False,
        gain_window=5,
        weights=gaussian_weights(2.0),
        shift=stats[:, 0],
        coh_a=1.0,
        coh_b=1e-6,
        gamma=1.0,
        history=ring,
        slots=np.array([1, 0], dtype=np.int64),
        lag_weights=np.array([0.8, 0.5]),
        slot_scale=np.full((b, 2), 1e-3),
        inv_h=np.ones(b),
        store_slot=0,
        store_scale=np.full(b, 1000.0),
    )
    serial = FAST.analyze_frame(u, params._replace(history=ring.copy()), None)
    monkeypatch.setattr(fast_module, "SERIAL_CELLS", 0)
    monkeypatch.setattr(fast_module, "MIN_BAND_ROWS", 4)
    monkeypatch.setattr(fast_module.numba, "get_num_threads", lambda: 4)
    parallel = FAST.analyze_frame(u, params._replace(history=ring.copy()), None)
    np.testing.assert_array_equal(parallel[1], serial[1])
    np.testing.assert_allclose(parallel[0], serial[0], rtol=1e-6)
    out = np.empty_like(u)
    ref = np.empty_like(u)
    FAST.gain(u, 5, out)
    REF.gain(u, 5, ref)
    np.testing.assert_allclose(out, ref, rtol=2e-5, atol=1e-6)


def _cache_hits(kernel: str, cache_dir: str) -> int:
    """Run ``kernel`` on a small batch in a fresh process; its numba cache hits there."""
    code = (
        "import numpy as np\n"
        "import resonance_engine.backends.numba_cpu.metrics as m\n"
        f"k = m.{kernel}\n"
        "k(np.ones((1, 4, 4), dtype=np.float32), 1)\n"
        "print(sum(k.stats.cache_hits.values()))\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return int(done.stdout.split()[-1])


def test_serial_and_parallel_kernels_have_their_own_cache_entries(tmp_path: Path) -> None:
    """A parallel kernel must not load the cached serial build of the same code (numba's
    cache key ignores ``parallel``): it would then run on one thread."""
    import resonance_engine.backends.numba_cpu.metrics as fast_module

    cache = str(tmp_path)
    assert _cache_hits("_frame_stats_serial", cache) == 0
    assert _cache_hits("_frame_stats_parallel", cache) == 0  # compiled, not the serial entry
    assert _cache_hits("_frame_stats_parallel", cache) == 1  # its own entry
    names = {
        fast_module._analyze_serial.py_func.__qualname__,
        fast_module._analyze_parallel.py_func.__qualname__,
    }
    assert len(names) == 2


def _bits_in_fresh_process(code: str, cache_dir: str) -> str:
    """Run ``code`` (which prints a result last) in a fresh process with the numba cache
    in ``cache_dir``; its last printed word."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.split()[-1]


RECURSIVE_DWELL_BITS = (  # four recursive dwell updates of a fixed random frame
    "import numpy as np\n"
    "import resonance_engine.backends.numba_cpu.metrics as m\n"
    "u = np.random.default_rng(1).standard_normal((1, 48, 48)).astype(np.float32)\n"
    "state = np.zeros((1, 2, 48, 48), np.float32)\n"
    "out = np.empty_like(u)\n"
    "for i in range(4):\n"
    "    m.recursive_dwell(u * (1 + 0.1 * i), state, np.array([0.7]), 0.9, 0.01, 0.3, out)\n"
    "print(float(out.astype(np.float64).sum()).hex())\n"
)

FRAME_BITS = (  # every measure of three frames through the fused kernel
    "from resonance_engine.bench.metrics import bench_frames\n"
    "from resonance_engine.metrics import ComplexityAnalyzer, MetricsConfig\n"
    "a = ComplexityAnalyzer(MetricsConfig(backend='numba'))\n"
    "r = [a.update(f, t=0.01 * n) for n, f in enumerate(bench_frames(128, 'float32', 3))]\n"
    "print('/'.join(x.gain.hex() + x.coherence.hex() + x.dwell.hex() + x.ci.hex() for x in r))\n"
)


def test_compiled_and_cached_dwell_give_the_same_bits(tmp_path: Path) -> None:
    """The process that compiles the dwell and a later one that loads it from numba's disk
    cache compute the same tau to the bit (with "contract"/"reassoc" they differed in the
    9th digit, so a sweep's results depended on which process compiled first)."""
    cache = str(tmp_path)
    assert _bits_in_fresh_process(RECURSIVE_DWELL_BITS, cache) == _bits_in_fresh_process(
        RECURSIVE_DWELL_BITS, cache
    )


def test_compiled_and_cached_frame_give_the_same_bits(tmp_path: Path) -> None:
    """The same for the whole fused frame: the gain's one-pass window sums compiled with
    "reassoc" gave G 3e-8 apart between the compiling process and later ones (a killed and
    restarted dask worker then disagreed with the client)."""
    cache = str(tmp_path)
    assert _bits_in_fresh_process(FRAME_BITS, cache) == _bits_in_fresh_process(
        FRAME_BITS, cache
    )


@settings(max_examples=60, deadline=None)
@given(fields(), st.floats(0.0, 2.0), st.integers(0, 5), st.booleans(), st.sampled_from([2, 3]),
       st.booleans())
def test_shifted_box_counts(
    u: np.ndarray, rel: float, levels: int, boundary: bool, base: int, shifted: bool
) -> None:
    theta = rel * np.sqrt(REF.frame_stats(u)[:, 1])
    levels = min(levels, 3) if base == 3 else levels
    np.testing.assert_array_equal(
        FAST.shifted_box_counts(u, theta, levels, boundary, base, shifted),
        REF.shifted_box_counts(u, theta, levels, boundary, base, shifted),
    )


@settings(max_examples=60, deadline=None)
@given(fields(), st.sampled_from([0.5, 2.0, 3.3]), st.booleans(), st.booleans())
def test_local_variance_inward_and_relative(
    u: np.ndarray, sigma: float, inward: bool, relative: bool
) -> None:
    w = gaussian_weights(sigma)
    shift = REF.frame_stats(u)[:, 0]
    a = np.empty_like(u)
    b = np.empty_like(u)
    FAST.local_variance(u, w, shift, a, inward, relative)
    REF.local_variance(u, w, shift, b, inward, relative)
    if relative:  # var / m2 in [0, 1]: ill-conditioned where m2 is tiny against the frame
        m2 = REF.local_moments(u, w, shift, inward)[1]
        resolved = m2 > (1e-4 if u.dtype == np.float32 else 1e-10) * max(float(m2.max()), 1e-300)
        np.testing.assert_allclose(a[resolved], b[resolved], rtol=0, atol=1e-3)
        return
    m2 = float(((u.astype(np.float64) - shift[:, None, None]) ** 2).max()) or 1.0
    tol = 1e-5 if u.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(a, b, rtol=0, atol=tol * m2)


@pytest.mark.parametrize("inward", [False, True])
def test_local_variance_at_1024_columns_with_padded_ring_rows(inward: bool) -> None:
    """The ring rows are longer than the field's (no 4 KiB stride, which shares one cache
    set among the 16 rows a vertical block reads): both edges still match the reference."""
    from resonance_engine.backends.numba_cpu.gaussian_moments import (
        grouped_weights,
        moment_buffers,
    )

    dtype = np.dtype(np.float32)
    w = gaussian_weights(2.0)
    rings, _ = moment_buffers(2, grouped_weights(w, dtype), 1024, dtype)
    assert rings.strides[-2] % 4096 != 0
    u = np.random.default_rng(3).standard_normal((1, 40, 1024)).astype(np.float32)
    shift = REF.frame_stats(u)[:, 0]
    a = np.empty_like(u)
    b = np.empty_like(u)
    FAST.local_variance(u, w, shift, a, inward, False)
    REF.local_variance(u, w, shift, b, inward, False)
    m2 = float(((u.astype(np.float64) - shift[:, None, None]) ** 2).max())
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * m2)


@settings(max_examples=60, deadline=None)
@given(fields(max_side=24), st.integers(1, 6), st.floats(1e-3, 1.0))
def test_recursive_dwell(u: np.ndarray, frames: int, dt: float) -> None:
    rng = np.random.default_rng(frames)
    states = [np.zeros((u.shape[0], 2, *u.shape[1:]), dtype=u.dtype) for _ in range(2)]
    inv_h = 1.0 / (np.sqrt(REF.frame_stats(u)[:, 1]) + 1e-3)
    lam = 0.1
    for n in range(frames):
        frame = (u + 0.3 * n * rng.standard_normal(u.shape)).astype(u.dtype)
        decay, inc, rate = (0.0, 0.0, 0.0) if n == 0 else (np.exp(-dt / lam), dt, dt / lam)
        out = [np.empty_like(u) for _ in range(2)]
        FAST.recursive_dwell(frame, states[0], inv_h, decay, inc, rate, out[0])
        REF.recursive_dwell(frame, states[1], inv_h, decay, inc, rate, out[1])
        tol = 2e-5 if u.dtype == np.float32 else 1e-9
        np.testing.assert_allclose(out[0], out[1], rtol=tol, atol=tol * dt)
        assert np.all(out[1] >= 0) and np.all(out[1] <= lam * (1 + 1e-6) + dt)


@settings(max_examples=40, deadline=None)
@given(fields(), st.integers(1, 4), st.booleans(), st.sampled_from([2, 3]), st.booleans())
def test_analyze_frame_calibrated(
    u: np.ndarray, levels: int, boundary: bool, base: int, inward: bool
) -> None:
    """The calibrated forms in the fused pass: shifted boxes, local C, recursive dwell."""
    b = u.shape[0]
    stats = REF.frame_stats(u)
    levels = min(levels, 2) if base == 3 else levels
    rng = np.random.default_rng(3)
    state = np.stack([rng.standard_normal(u.shape), rng.random(u.shape) * 0.05], axis=1)
    params = FrameParams(
        threshold=np.sqrt(stats[:, 1]), levels=levels, boundary=boundary, gain_window=3,
        weights=gaussian_weights(1.0), shift=stats[:, 0], coh_a=1.0, coh_b=1.0, gamma=0.01,
        history=np.zeros((b, 1, 1, 1), dtype=np.int16), slots=np.zeros(0, dtype=np.int64),
        lag_weights=np.zeros(0), slot_scale=np.ones((b, 1)),
        inv_h=1.0 / (np.sqrt(stats[:, 1]) + 1e-3), store_slot=-1, store_scale=np.ones(b),
        offsets=True, base=base, coh_local=True, inward=inward,
        moment_scale=np.full(b, 0.5), recursive=state.astype(u.dtype),
        decay=float(np.exp(-0.1)), increment=0.01, decay_rate=0.1,
    )
    fast_fields = tuple(np.empty_like(u) for _ in range(3))
    ref_fields = tuple(np.empty_like(u) for _ in range(3))
    fast_state = params.recursive.copy()
    sums_fast, counts_fast = FAST.analyze_frame(
        u, params._replace(recursive=fast_state), fast_fields
    )
    sums_ref, counts_ref = REF.analyze_frame(u, params, ref_fields)
    np.testing.assert_array_equal(counts_fast, counts_ref)
    rtol = 2e-4 if u.dtype == np.float32 else 1e-7
    np.testing.assert_allclose(fast_fields[2], ref_fields[2], rtol=rtol, atol=1e-6)
    np.testing.assert_allclose(fast_state, params.recursive, rtol=rtol, atol=1e-6)
    # C = m1^2 / m2 is ill-conditioned where m2 is tiny against the frame's scale
    m2 = REF.local_moments(u, params.weights, params.shift, inward)[1]
    resolved = m2 > (1e-4 if u.dtype == np.float32 else 1e-10) * max(float(m2.max()), 1e-300)
    np.testing.assert_allclose(fast_fields[1][resolved], ref_fields[1][resolved], atol=1e-3)


@pytest.mark.parametrize(("dtype", "tol"), [(np.float32, 1e-6), (np.float64, 1e-12)])
def test_exp_helper_keeps_its_relative_precision_for_tiny_arguments(
    dtype: type, tol: float
) -> None:
    """exp(-x) and exp(-x) - 1 of the compiled kernels (the recursive dwell, tau's h):
    relative errors within ``tol`` from 1e-12 to the clip at 40, where 1 - exp(-x) computed
    as a difference would cancel and exp(-x) as a power of exp(-x / 512) would lose 9 bits."""
    from numba import njit

    import resonance_engine.backends.numba_cpu.metrics as fast_module

    helper = fast_module._exp_pair

    @njit
    def evaluate(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e = np.empty_like(x)
        p = np.empty_like(x)
        for j in range(x.shape[0]):
            e[j], p[j] = helper(x[j], x.dtype.type)
        return e, p

    x = np.concatenate([[0.0], np.logspace(-12, np.log10(40.0), 3000), [41.0, 1e3]]).astype(dtype)
    e, p = (v.astype(np.float64) for v in evaluate(x))
    clipped = np.minimum(x.astype(np.float64), 40.0)
    assert p[0] == 0.0 and e[0] == 1.0
    np.testing.assert_allclose(p[1:], np.expm1(-clipped[1:]), rtol=tol, atol=0)
    np.testing.assert_allclose(e, np.exp(-clipped), rtol=tol, atol=0)


@settings(max_examples=40, deadline=None)
@given(fields(), st.sampled_from(["local", "frame", "bounded"]), st.sampled_from([3, 5, 11]))
def test_sums_without_fields_match_the_stored_fields(
    u: np.ndarray, mode: str, window: int
) -> None:
    """Without fields to write and without the C range, C is summed without being stored
    (another loop): the same sums as when the fields are written, and the reference's to
    1e-5; c_min and c_max are then +inf and -inf."""
    b = u.shape[0]
    stats = REF.frame_stats(u)
    rng = np.random.default_rng(5)
    state = np.stack([rng.standard_normal(u.shape), rng.random(u.shape) * 0.05], axis=1)
    params = FrameParams(
        threshold=np.sqrt(stats[:, 1]), levels=1, boundary=False, gain_window=window,
        weights=gaussian_weights(2.0), shift=stats[:, 0],
        coh_a=1.0 if mode == "frame" else 2.0, coh_b=1e-6 if mode == "frame" else 1.0,
        gamma=0.01, history=np.zeros((b, 1, 1, 1), dtype=np.int16),
        slots=np.zeros(0, dtype=np.int64), lag_weights=np.zeros(0), slot_scale=np.ones((b, 1)),
        inv_h=1.0 / (np.sqrt(stats[:, 1]) + 1e-3), store_slot=-1, store_scale=np.ones(b),
        coh_local=mode == "local", moment_scale=np.full(b, 0.5),
        recursive=state.astype(u.dtype), decay=float(np.exp(-0.1)), increment=0.01,
        decay_rate=0.1,
    )
    fields = tuple(np.empty_like(u) for _ in range(3))
    stored, _ = FAST.analyze_frame(u, params._replace(recursive=params.recursive.copy()), fields)
    bare, _ = FAST.analyze_frame(
        u, params._replace(recursive=params.recursive.copy(), c_range=False), None
    )
    ref, _ = REF.analyze_frame(u, params._replace(recursive=params.recursive.copy()), None)
    np.testing.assert_allclose(bare[:, :5], stored[:, :5], rtol=1e-6, atol=1e-12)
    assert np.all(bare[:, 5] == np.inf) and np.all(bare[:, 6] == -np.inf)
    if mode == "local":  # C = m1^2 / m2 is ill-conditioned where m2 is tiny: checked above
        return
    # the reference's float64 sums: G, tau and the h-weighted ones to 1e-5 (float32)
    rtol = 1e-5 if u.dtype == np.float32 else 1e-9
    cols = [0, 2, 4]
    np.testing.assert_allclose(bare[:, cols], ref[:, cols], rtol=rtol, atol=1e-9)
