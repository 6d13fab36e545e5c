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


@settings(max_examples=40, deadline=None)
@given(
    nx=st.integers(1, 80),
    ny=st.integers(1, 80),
    batch=st.integers(1, 3),
    levels=st.integers(0, 6),
    boundary=st.booleans(),
    base=st.sampled_from([2, 3]),
    shifted=st.booleans(),
    sparse=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_shifted_box_counts_match_the_reference_exactly(
    nx: int, ny: int, batch: int, levels: int, boundary: bool, base: int, shifted: bool,
    sparse: bool, seed: int,
) -> None:
    """The calibrated D: counts over shifted grids (mean over the tight ones), base 2 or 3."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(batch, ny, nx)).cumsum(axis=1).cumsum(axis=2).astype(np.float32)
    if sparse:  # a set that does not span the grid: the tight shifts are a few of them
        keep = np.zeros(u.shape, dtype=bool)
        keep[:, ny // 5 : ny // 5 + ny // 2 + 1, nx // 4 : nx // 4 + nx // 3 + 1] = True
        u *= keep
    levels = min(levels, 3) if base == 3 else levels
    threshold = np.abs(u.reshape(batch, -1)[:, rng.integers(0, nx * ny)])
    got = _gpu_kernels().shifted_box_counts(u, threshold, levels, boundary, base, shifted)
    want = reference.shifted_box_counts(u, threshold, levels, boundary, base, shifted)
    np.testing.assert_array_equal(got, want)


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


# ---------------------------------------------------------------- measure kernels
def _gpu_kernels() -> Any:
    from resonance_engine.backends.wgpu_gpu import metrics as gpu

    return gpu


def _field(rng: np.random.Generator, shape: tuple[int, ...], dtype: str = "float32") -> np.ndarray:
    # smooth structure plus noise and an offset, so that moments do not vanish
    u = rng.normal(size=shape).cumsum(axis=-1) * 0.3 + rng.normal(size=shape) + 0.5
    return u.astype(dtype)


@settings(max_examples=20, deadline=None)
@given(
    nx=st.integers(1, 40),
    ny=st.integers(1, 40),
    batch=st.integers(1, 2),
    half=st.integers(0, 5),
    seed=st.integers(0, 2**31),
)
def test_gain_matches_the_reference(nx: int, ny: int, batch: int, half: int, seed: int) -> None:
    u = _field(np.random.default_rng(seed), (batch, ny, nx))
    got, want = np.empty_like(u), np.empty_like(u)
    _gpu_kernels().gain(u, 2 * half + 1, got)
    reference.gain(u, 2 * half + 1, want)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6 * np.abs(u).max())


@settings(max_examples=20, deadline=None)
@given(
    nx=st.integers(1, 40),
    ny=st.integers(1, 40),
    batch=st.integers(1, 2),
    sigma=st.floats(0.3, 4.0),
    seed=st.integers(0, 2**31),
)
def test_local_variance_matches_the_reference(
    nx: int, ny: int, batch: int, sigma: float, seed: int
) -> None:
    from resonance_engine.metrics.coherence import gaussian_weights

    rng = np.random.default_rng(seed)
    u = _field(rng, (batch, ny, nx))
    weights = gaussian_weights(sigma, 3.0)
    shift = u.reshape(batch, -1).mean(axis=1, dtype=np.float64)
    got, want = np.empty_like(u), np.empty_like(u)
    _gpu_kernels().local_variance(u, weights, shift, got)
    reference.local_variance(u, weights, shift, want)
    scale = float((u.astype(np.float64) - shift[:, None, None]).var()) + 1.0
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("normalize", ["frame", "bounded"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_coherence_modes_match_the_reference(
    wgpu_context: Any, normalize: str, dtype: str, rng: np.random.Generator
) -> None:
    if dtype == "float64" and not wgpu_context.has_f64:
        pytest.skip("no shader-f64")
    from resonance_engine.backends.wgpu_gpu import WgpuMetricFields
    from resonance_engine.metrics.coherence import gaussian_weights, normalize_coherence

    u = _field(rng, (2, 33, 47), dtype)
    u[1] *= 4.0
    weights = gaussian_weights(1.5, 3.0)
    shift = np.array([0.3, -0.1])
    state = _state(u)
    fields = WgpuMetricFields(state)
    fields.coherence(weights, shift, normalize, 0.05, 2.0)
    got = fields.read(fields.coherence_buffer)
    var = np.empty(u.shape)
    reference.local_variance(u, weights, shift, var)
    want = normalize_coherence(var, normalize, 0.05, 2.0, np.empty(u.shape))
    atol = 2e-5 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(got, want, atol=atol)
    if normalize == "frame":
        assert got.reshape(2, -1).min(axis=1) == pytest.approx([0, 0], abs=1e-6)
        assert got.reshape(2, -1).max(axis=1) == pytest.approx([1, 1], abs=1e-6)


def test_frame_coherence_of_a_constant_frame_is_one(wgpu_context: Any) -> None:
    from resonance_engine.backends.wgpu_gpu import WgpuMetricFields
    from resonance_engine.metrics.coherence import gaussian_weights

    u = np.full((1, 20, 30), 3.0, dtype=np.float32)
    fields = WgpuMetricFields(_state(u))
    fields.coherence(gaussian_weights(2.0), np.array([3.0]), "frame", 1e-6, 1.0)
    np.testing.assert_array_equal(fields.read(fields.coherence_buffer), 1.0)


@settings(max_examples=20, deadline=None)
@given(
    nx=st.integers(1, 30),
    ny=st.integers(1, 30),
    batch=st.integers(1, 2),
    history=st.integers(1, 5),
    lags=st.integers(0, 5),
    store=st.booleans(),
    quantized=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_dwell_matches_the_reference(
    nx: int,
    ny: int,
    batch: int,
    history: int,
    lags: int,
    store: bool,
    quantized: bool,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    u = _field(rng, (batch, ny, nx))
    lags = min(lags, history)
    if quantized:
        ring = rng.integers(-32767, 32768, size=(batch, history, ny, nx)).astype(np.int16)
        slot_scale = rng.uniform(0.5, 2.0, size=(batch, history)) * np.abs(u).max() / 32767
        store_scale = 32767.0 / np.abs(u).reshape(batch, -1).max(axis=1)
    else:
        ring = _field(rng, (batch, history, ny, nx))
        slot_scale = rng.uniform(0.5, 2.0, size=(batch, history))
        store_scale = np.ones(batch)
    slots = rng.permutation(history)[:lags].astype(np.int64)
    weights = rng.uniform(0.1, 1.0, size=lags)
    inv_h = rng.uniform(0.2, 3.0, size=batch)
    store_slot = int(rng.integers(0, history)) if store else -1
    got_ring, want_ring = ring.copy(), ring.copy()
    got, want = np.empty_like(u), np.empty_like(u)
    args = (slots, weights, slot_scale, inv_h, store_slot, store_scale)
    _gpu_kernels().dwell(u, got_ring, *args, got)
    reference.dwell(u, want_ring, *args, want)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1.0, weights.sum()))
    # the stored frame: the same int16 codes to one quantization step, the rest untouched
    diff = np.abs(got_ring.astype(np.float64) - want_ring.astype(np.float64))
    assert diff.max() <= (1.0 if quantized else 1e-6 * np.abs(u).max())


def test_combination_and_means_match_numpy(wgpu_context: Any, rng: np.random.Generator) -> None:
    from resonance_engine.backends.wgpu_gpu import WgpuMetricFields

    shape = (2, 37, 29)
    g, c = rng.uniform(0, 3, shape), rng.uniform(0, 1, shape)
    tau = rng.uniform(0, 4, shape)
    tau[0, :5] = rng.uniform(0, 1e-4, (5, 29))  # the small-tau branch of 1 - exp(-x)
    fields = WgpuMetricFields(_state(np.zeros(shape, dtype=np.float32)))
    queue = wgpu_context.device.queue
    for buffer, values in zip(
        (fields.gain_buffer, fields.coherence_buffer, fields.dwell_buffer), (g, c, tau), strict=True
    ):
        queue.write_buffer(buffer, 0, values.astype(np.float32))
    gamma = 1.7
    means = fields.combine(gamma)
    e = g * c * -np.expm1(-tau / gamma)
    np.testing.assert_allclose(fields.read(fields.ci_buffer), e, rtol=2e-6, atol=1e-7)
    want = np.stack([x.reshape(2, -1).mean(axis=1) for x in (g, c, tau, e)], axis=1)
    np.testing.assert_allclose(means, want, rtol=1e-5)


# ---------------------------------------------------------------- ComplexityAnalyzer
@pytest.mark.parametrize(
    ("normalize", "storage", "mode"),
    [
        ("frame", "int16", "occupancy"),
        ("bounded", "float", "boundary"),
        ("frame", "float", "occupancy"),
    ],
)
def test_analyzer_on_wgpu_matches_numpy(
    wgpu_context: Any, normalize: str, storage: str, mode: str, rng: np.random.Generator
) -> None:
    from resonance_engine.metrics import ComplexityAnalyzer, MetricsConfig

    options = dict(
        coherence_normalize=normalize, dwell_storage=storage, dwell_history=3, fractal_mode=mode
    )
    cpu = ComplexityAnalyzer(MetricsConfig.blueprint(backend="numpy", **options), keep_fields=True)
    gpu = ComplexityAnalyzer(MetricsConfig.blueprint(backend="wgpu", **options), keep_fields=True)
    u = _field(rng, (2, 41, 52))
    for _ in range(5):  # more frames than the history: the ring wraps
        u = (u + rng.normal(size=u.shape) * 0.3).astype(np.float32)
        for want, got in zip(cpu.update(u), gpu.update(u), strict=True):
            for name in ("fractal_dim", "fractal_r2", "gain", "coherence", "dwell", "ci"):
                assert getattr(got, name) == pytest.approx(getattr(want, name), rel=1e-4, abs=1e-7)
            assert got.active_fraction == want.active_fraction
            np.testing.assert_array_equal(got.mask, want.mask)
            for name in ("gain_field", "coherence_field", "dwell_field", "ci_field"):
                a, b = getattr(got, name), getattr(want, name)
                np.testing.assert_allclose(a, b, atol=1e-5 * max(1.0, np.abs(b).max()))


def test_analyzer_observes_a_wgpu_solver_on_the_gpu(wgpu_context: Any) -> None:
    from resonance_engine.field.solver import WaveSolver2D
    from resonance_engine.field.sources import PointSource
    from resonance_engine.metrics import ComplexityAnalyzer, MetricsConfig

    sources = [PointSource(20, 20, 1.0, 0.1), PointSource(40, 30, 1.0, 0.13)]
    solvers = [
        WaveSolver2D(64, 48, sources=sources, backend=name, batch=2) for name in ("numpy", "wgpu")
    ]
    config = MetricsConfig.blueprint(coherence_normalize="bounded", dwell_history=2)
    analyzers = [ComplexityAnalyzer(config) for _ in solvers]
    for _ in range(4):
        results = []
        for solver, analyzer in zip(solvers, analyzers, strict=True):
            solver.step(30)
            results.append(analyzer.observe(solver))
        for want, got in zip(*results, strict=True):
            assert got.step == want.step and got.t == want.t
            for name in ("fractal_dim", "gain", "coherence", "dwell", "ci"):
                assert getattr(got, name) == pytest.approx(getattr(want, name), rel=1e-4, abs=1e-7)
    assert analyzers[1]._resident is not None and analyzers[0]._resident is None
    # host frames after GPU frames: the dwell history cannot follow
    from resonance_engine.errors import FieldError

    with pytest.raises(FieldError, match="reset"):
        ComplexityAnalyzer.update(analyzers[1], solvers[0].u)


def test_analyzer_on_wgpu_reports_nan_and_empty_masks(wgpu_context: Any) -> None:
    from resonance_engine.errors import FieldError
    from resonance_engine.metrics import ComplexityAnalyzer, MetricsConfig

    analyzer = ComplexityAnalyzer(MetricsConfig(backend="wgpu"))
    result = analyzer.update(np.zeros((32, 32), dtype=np.float32))
    assert np.isnan(result.fractal_dim) and np.isnan(result.ci) and "empty" in result.note
    assert result.coherence == pytest.approx(1.0)
    bad = np.ones((32, 32), dtype=np.float32)
    bad[3, 4] = np.inf
    with pytest.raises(FieldError, match="NaN or inf"):
        analyzer.update(bad)


def test_analyzer_on_wgpu_in_float64(wgpu_context: Any, rng: np.random.Generator) -> None:
    if not wgpu_context.has_f64:
        pytest.skip("no shader-f64")
    from resonance_engine.metrics import ComplexityAnalyzer, MetricsConfig

    cpu = ComplexityAnalyzer(MetricsConfig(backend="numpy", dwell_history=2))
    gpu = ComplexityAnalyzer(MetricsConfig(backend="wgpu", dwell_history=2))
    u = _field(rng, (37, 45), "float64")
    for _ in range(3):
        u = u + rng.normal(size=u.shape) * 0.3
        want, got = cpu.update(u), gpu.update(u)
        for name in ("fractal_dim", "gain", "coherence"):
            assert getattr(got, name) == pytest.approx(getattr(want, name), rel=1e-9)
        # the recursive dwell and CI take exp in float32 (Vulkan has no 64-bit exp)
        assert got.dwell == pytest.approx(want.dwell, rel=1e-6)
        assert got.ci == pytest.approx(want.ci, rel=1e-6)


@pytest.mark.parametrize(
    "options",
    [
        {},  # the calibrated defaults
        {"box_base": 3, "fractal_mode": "boundary", "coherence_normalize": "relative"},
        # (the seed's "frame" C, ill-conditioned in float32 where var -> 0, is checked on
        # random fields by test_analyzer_on_wgpu_matches_numpy)
        {"coherence_edge": "renormalize", "gain_scale": "rms"},
        {"coherence_normalize": "bounded", "fractal_offsets": "none", "gain_scale": "fixed",
         "gain_reference": 0.3},
    ],
)
def test_calibrated_forms_of_a_wgpu_solver_match_the_cpu(
    wgpu_context: Any, options: dict[str, Any]
) -> None:
    """Every calibrated form runs in WGSL on the resident field and gives the CPU's numbers."""
    from resonance_engine.field.solver import WaveSolver2D
    from resonance_engine.field.sources import PointSource
    from resonance_engine.metrics import ComplexityAnalyzer, MetricsConfig

    sources = [PointSource(20, 20, 1.0, 0.1), PointSource(40, 30, 1.0, 0.13)]
    solvers = [WaveSolver2D(70, 51, sources=sources, backend=name) for name in ("numpy", "wgpu")]
    analyzers = [ComplexityAnalyzer(MetricsConfig(**options), keep_fields=True) for _ in solvers]
    for n in range(4):
        results = []
        for solver, analyzer in zip(solvers, analyzers, strict=True):
            solver.step(30 + 7 * n)
            results.append(analyzer.observe(solver))
        want, got = results
        for name in ("fractal_dim", "fractal_r2", "gain", "coherence", "dwell", "ci"):
            assert getattr(got, name) == pytest.approx(getattr(want, name), rel=2e-4, abs=1e-7)
        assert got.fractal_scaling == want.fractal_scaling
        # the aliasing note's frequency is the field's on the CPU, the top source's on a GPU
        assert [x[:15] for x in (got.note or "").split("; ")] == [
            x[:15] for x in (want.note or "").split("; ")
        ]
        for name in ("gain_field", "coherence_field", "dwell_field", "ci_field"):
            a, b = getattr(got, name), getattr(want, name)
            np.testing.assert_allclose(a, b, atol=2e-4 * max(1e-3, np.abs(b).max()))
    assert analyzers[1]._resident is not None and analyzers[1]._resident.recursive == (
        MetricsConfig(**options).dwell_mode == "recursive"
    )


@settings(max_examples=25, deadline=None)
@given(
    nx=st.integers(1, 40),
    ny=st.integers(1, 40),
    batch=st.integers(1, 2),
    sigma=st.sampled_from([0.5, 2.0, 3.3]),
    inward=st.booleans(),
    relative=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_local_variance_inward_and_relative_match_the_reference(
    nx: int, ny: int, batch: int, sigma: float, inward: bool, relative: bool, seed: int
) -> None:
    from resonance_engine.metrics.coherence import gaussian_weights

    u = _field(np.random.default_rng(seed), (batch, ny, nx))
    weights = gaussian_weights(sigma, 3.0)
    shift = u.reshape(batch, -1).mean(axis=1, dtype=np.float64)
    got, want = np.empty_like(u), np.empty_like(u)
    _gpu_kernels().local_variance(u, weights, shift, got, inward, relative)
    reference.local_variance(u, weights, shift, want, inward, relative)
    if relative:  # var / m2: ill-conditioned where m2 is tiny against the frame
        m2 = reference.local_moments(u, weights, shift, inward)[1]
        resolved = m2 > 1e-4 * max(float(m2.max()), 1e-300)
        np.testing.assert_allclose(got[resolved], want[resolved], atol=1e-3)
        return
    scale = float((u.astype(np.float64) - shift[:, None, None]).var()) + 1.0
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * scale)


@settings(max_examples=25, deadline=None)
@given(
    nx=st.integers(1, 30),
    ny=st.integers(1, 30),
    batch=st.integers(1, 2),
    frames=st.integers(1, 5),
    dt=st.floats(1e-3, 1.0),
    seed=st.integers(0, 2**31),
)
def test_recursive_dwell_matches_the_reference(
    nx: int, ny: int, batch: int, frames: int, dt: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    u = _field(rng, (batch, ny, nx))
    states = [np.zeros((batch, 2, ny, nx), dtype=u.dtype) for _ in range(2)]
    inv_h = rng.uniform(0.2, 3.0, size=batch)
    lam = 0.1
    for n in range(frames):
        frame = (u + 0.3 * n * rng.standard_normal(u.shape)).astype(u.dtype)
        coefficients = (0.0, 0.0, 0.0) if n == 0 else (np.exp(-dt / lam), dt, dt / lam)
        got, want = np.empty_like(u), np.empty_like(u)
        _gpu_kernels().recursive_dwell(frame, states[0], inv_h, *coefficients, got)
        reference.recursive_dwell(frame, states[1], inv_h, *coefficients, want)
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * dt)
        np.testing.assert_allclose(states[0], states[1], rtol=2e-5, atol=2e-5 * dt)


@settings(max_examples=25, deadline=None)
@given(
    nx=st.integers(1, 40),
    ny=st.integers(1, 40),
    batch=st.integers(1, 2),
    levels=st.integers(1, 4),
    boundary=st.booleans(),
    base=st.sampled_from([2, 3]),
    local=st.booleans(),
    inward=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_analyze_frame_calibrated_matches_the_reference(
    nx: int, ny: int, batch: int, levels: int, boundary: bool, base: int, local: bool,
    inward: bool, seed: int,
) -> None:
    """The host-array analyze_frame with every calibrated form runs in WGSL (no CPU path)."""
    from resonance_engine.backends.base import FrameParams
    from resonance_engine.metrics.coherence import gaussian_weights

    rng = np.random.default_rng(seed)
    u = _field(rng, (batch, ny, nx))
    stats = reference.frame_stats(u)
    state = np.stack([rng.standard_normal(u.shape), rng.random(u.shape) * 0.05], axis=1)
    params = FrameParams(
        threshold=np.sqrt(stats[:, 1]), levels=min(levels, 2) if base == 3 else levels,
        boundary=boundary, gain_window=3, weights=gaussian_weights(1.0), shift=stats[:, 0],
        coh_a=4.0, coh_b=1.0, gamma=0.01, history=np.zeros((batch, 1, 1, 1), dtype=np.int16),
        slots=np.zeros(0, dtype=np.int64), lag_weights=np.zeros(0),
        slot_scale=np.ones((batch, 1)), inv_h=1.0 / (np.sqrt(stats[:, 1]) + 1e-3),
        store_slot=-1, store_scale=np.ones(batch), offsets=True, base=base, coh_local=local,
        inward=inward, moment_scale=np.full(batch, 0.5), recursive=state.astype(u.dtype),
        decay=float(np.exp(-0.1)), increment=0.01, decay_rate=0.1,
    )
    got_fields = tuple(np.empty_like(u) for _ in range(3))
    want_fields = tuple(np.empty_like(u) for _ in range(3))
    got_state = params.recursive.copy()
    got_sums, got_counts = _gpu_kernels().analyze_frame(
        u, params._replace(recursive=got_state), got_fields
    )
    want_sums, want_counts = reference.analyze_frame(u, params, want_fields)
    np.testing.assert_array_equal(got_counts, want_counts)
    np.testing.assert_allclose(got_state, params.recursive, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(got_fields[0], want_fields[0], rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(got_fields[2], want_fields[2], rtol=2e-5, atol=1e-6)
    m2 = reference.local_moments(u, params.weights, params.shift, inward)[1]
    resolved = m2 > 1e-4 * max(float(m2.max()), 1e-300)  # m1^2 / m2 is ill-conditioned below
    np.testing.assert_allclose(got_fields[1][resolved], want_fields[1][resolved], atol=1e-3)
    if not local or resolved.all():
        np.testing.assert_allclose(got_sums, want_sums, rtol=1e-3, atol=1e-6)
