"""ComplexityAnalyzer: single fields, batches, consistency with the public functions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resonance_engine.errors import FieldError
from resonance_engine.metrics import (
    ComplexityAnalyzer,
    ComplexityMetrics,
    DwellTimeTracker,
    MetricsConfig,
    RecursiveDwell,
    coherence_field,
    complexity_index,
    fractal_dimension,
    gain_field,
)


def _frames(n: int, shape: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    """A travelling interference pattern (float32)."""
    rng = np.random.default_rng(seed)
    ny, nx = shape[-2:]
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float32)
    k = rng.uniform(0.2, 0.5, (3, 2))
    frames = []
    for t in range(n):
        u = sum(np.sin(k[i, 0] * x + k[i, 1] * y - 0.3 * t * (i + 1)) for i in range(3))
        frames.append(np.broadcast_to(u, shape).astype(np.float32))
    return frames


def test_blueprint_analyzer_matches_the_public_functions(backend: str) -> None:
    config = MetricsConfig.blueprint(backend=backend, dwell_storage="float")
    analyzer = ComplexityAnalyzer(config, keep_fields=True)
    tracker = DwellTimeTracker((64, 80), 16, 4.0, storage="float", backend=backend)
    for u in _frames(5, (64, 80)):
        m = analyzer.update(u)
        tau = tracker.update(u)
    assert isinstance(m, ComplexityMetrics)
    fit = fractal_dimension(u, offsets="none", backend=backend)
    g = gain_field(u, 5, backend=backend)
    c = coherence_field(u, 2.0, "frame", edge="renormalize", backend=backend)
    ci = complexity_index(fit.dimension, g, c, tau)
    assert m.fractal_dim == pytest.approx(fit.dimension)
    assert m.fractal_r2 == pytest.approx(fit.r2)
    assert m.threshold == pytest.approx(fit.threshold)
    assert m.gain == pytest.approx(float(g.mean()), rel=1e-5)
    assert m.coherence == pytest.approx(float(c.mean()), rel=1e-4)
    assert m.dwell == pytest.approx(float(tau.mean()), rel=1e-5)
    assert m.ci == pytest.approx(float(np.mean(ci)), rel=1e-4)
    assert m.ci_field is not None and m.mask is not None
    np.testing.assert_allclose(m.ci_field, ci, rtol=1e-4, atol=1e-7)
    assert m.active_fraction == pytest.approx(float(m.mask.mean()))
    assert m.step == 4 and math.isnan(m.t)


def test_calibrated_analyzer_matches_the_public_functions(backend: str) -> None:
    config = MetricsConfig(backend=backend)
    analyzer = ComplexityAnalyzer(config, keep_fields=True)
    dwell = RecursiveDwell((64, 80), config.dwell_lambda, backend=backend)
    dt = 0.004
    for n, u in enumerate(_frames(5, (64, 80))):
        m = analyzer.update(u, t=n * dt)
        tau = dwell.update(u, dt)
    fit = fractal_dimension(u, backend=backend)
    g = gain_field(u, 5, backend=backend)
    c = coherence_field(u, 2.0, backend=backend)
    ci = complexity_index(fit.dimension, g, c, tau, gamma=config.gamma)
    assert m.fractal_dim == pytest.approx(fit.dimension)
    assert m.fractal_scaling == fit.scaling
    assert m.gain == pytest.approx(float(g.mean()), rel=1e-5)
    assert m.coherence == pytest.approx(float(c.mean()), rel=1e-4)
    assert m.dwell == pytest.approx(float(tau.mean()), rel=1e-5)
    assert m.ci == pytest.approx(float(np.mean(ci)), rel=1e-4)
    assert m.ci_field is not None
    np.testing.assert_allclose(m.ci_field, ci, rtol=1e-4, atol=1e-6)
    assert m.t == pytest.approx(4 * dt)


@pytest.mark.parametrize("preset", ["blueprint", "calibrated", "base3"])
def test_backends_agree_on_a_run(preset: str) -> None:
    results = {}
    for backend in ("numpy", "numba"):
        config = {
            "blueprint": MetricsConfig.blueprint(backend=backend),
            "calibrated": MetricsConfig(backend=backend),
            "base3": MetricsConfig(backend=backend, box_base=3, coherence_normalize="relative"),
        }[preset]
        analyzer = ComplexityAnalyzer(config)
        for n, u in enumerate(_frames(6, (2, 48, 40))):
            batch = analyzer.update(u, t=0.01 * n)
        results[backend] = batch
    for a, b in zip(results["numpy"], results["numba"], strict=True):
        for name in ("fractal_dim", "fractal_r2", "gain", "coherence", "dwell", "ci"):
            assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-4), name


def test_batch_gives_one_result_per_member_with_its_own_history() -> None:
    frames = _frames(4, (48, 48))
    analyzer = ComplexityAnalyzer()
    single = [ComplexityAnalyzer() for _ in range(2)]
    for n, u in enumerate(frames):
        pair = np.stack([u, frames[-1 - n]])  # the second member sees the frames backwards
        out = analyzer.update(pair, step=10 * n, t=0.5 * n)
        ref = [single[0].update(u, t=0.5 * n), single[1].update(frames[-1 - n], t=0.5 * n)]
    assert isinstance(out, list) and len(out) == 2
    for got, want in zip(out, ref, strict=True):
        assert got.ci == pytest.approx(want.ci, rel=1e-6)
        assert got.dwell == pytest.approx(want.dwell, rel=1e-6)
    assert out[0].step == 30 and out[0].t == 1.5
    assert out[0].gain_field is None  # fields only on request


@pytest.mark.parametrize("preset", ["blueprint", "calibrated"])
def test_a_batch_of_agents_measures_as_each_agent_alone(preset: str) -> None:
    """The swarm's case: 16 members in one call (the parallel kernel, whatever the members'
    amplitudes, an empty member among them) equal 16 analyzers of one field each."""
    def config() -> MetricsConfig:
        return MetricsConfig.blueprint() if preset == "blueprint" else MetricsConfig()

    b = 16
    base = _frames(4, (64, 64), seed=3)
    gains = np.geomspace(0.1, 10.0, b).astype(np.float32)
    batched = ComplexityAnalyzer(config())
    alone = [ComplexityAnalyzer(config()) for _ in range(b)]
    for n in range(4):
        fields = np.stack([np.roll(base[n], 5 * k, axis=k % 2) * gains[k] for k in range(b)])
        fields[3] = 0.0  # an empty mask: D undefined
        fields[7, :, :32] = 0.0  # half a field
        out = batched.update(fields, t=0.01 * n)
        ref = [alone[k].update(fields[k], t=0.01 * n) for k in range(b)]
    for got, want in zip(out, ref, strict=True):
        assert got.note == want.note and got.fractal_scaling == want.fractal_scaling
        for name in ("fractal_dim", "fractal_r2", "gain", "coherence", "dwell", "ci",
                     "active_fraction", "threshold"):
            assert getattr(got, name) == pytest.approx(
                getattr(want, name), rel=1e-6, nan_ok=True
            ), name
    assert math.isnan(out[3].fractal_dim) and "empty mask" in (out[3].note or "")


def test_steady_field_reaches_max_dwell_and_ci_grows() -> None:
    analyzer = ComplexityAnalyzer(MetricsConfig.blueprint(dwell_history=8))
    u = _frames(1, (64, 64))[0]
    series = [analyzer.update(u) for _ in range(10)]
    assert series[0].dwell == 0.0 and series[0].ci == 0.0
    assert series[-1].dwell == pytest.approx(analyzer.max_dwell, rel=1e-4)
    cis = [m.ci for m in series]
    assert all(b > a for a, b in zip(cis[:8], cis[1:9], strict=True))


def test_zero_field_reports_nan_with_a_reason() -> None:
    analyzer = ComplexityAnalyzer()
    m = analyzer.update(np.zeros((64, 64), dtype=np.float32))
    assert math.isnan(m.fractal_dim) and math.isnan(m.ci)
    assert m.note is not None and "empty mask" in m.note
    assert m.gain == 0.0 and m.coherence == 1.0
    assert m.as_dict()["note"] == m.note and "ci_field" not in m.as_dict()


def test_bad_frames_are_rejected() -> None:
    analyzer = ComplexityAnalyzer()
    u = _frames(1, (32, 32))[0]
    analyzer.update(u)
    with pytest.raises(FieldError, match="shape"):
        analyzer.update(np.zeros((32, 33), dtype=np.float32))
    bad = u.copy()
    bad[5, 5] = np.inf
    with pytest.raises(FieldError, match="NaN or inf"):
        analyzer.update(bad)
    with pytest.raises(FieldError):
        analyzer.update(np.zeros((2, 2, 32, 32)))
    analyzer.reset()
    analyzer.update(np.zeros((40, 40)))  # a new shape after reset


def test_observe_reads_a_solver() -> None:
    from resonance_engine import WaveSolver2D

    solver = WaveSolver2D(64, 64, dx=1.0)
    solver.set_gaussian_pulse(32, 32, 4)
    solver.step(20)
    m = ComplexityAnalyzer().observe(solver)
    assert isinstance(m, ComplexityMetrics)
    assert m.step == 20 and m.t == pytest.approx(solver.t)
    assert 0.5 < m.fractal_dim < 2.1


def test_analyzers_of_other_shapes_in_turn_measure_as_each_alone() -> None:
    """The compiled kernel keeps its moment buffers between frames (per thread, keyed by
    bands, width and dtype): analyzers of other shapes called in turn must not see each
    other's buffers. 300 x 300 runs on several bands (the parallel path)."""
    runs = {shape: _frames(4, shape, seed=1) for shape in [(300, 300), (64, 96)]}
    alone = {}
    for shape, frames in runs.items():
        analyzer = ComplexityAnalyzer(MetricsConfig(backend="numba"))
        alone[shape] = [analyzer.update(f, t=0.01 * n).ci for n, f in enumerate(frames)]
    together = {shape: ComplexityAnalyzer(MetricsConfig(backend="numba")) for shape in runs}
    for n in range(4):
        for shape, analyzer in together.items():
            got = analyzer.update(runs[shape][n], t=0.01 * n).ci
            assert got == alone[shape][n]
