"""The complexity fingerprint: shape, invariances, use of metric fields, and meaning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from resonance_engine import default_pond
from resonance_engine.errors import FieldError
from resonance_engine.store import FINGERPRINT_LAYOUT, fingerprint

SIZE, STEPS = 64, 300


def pond_field(seed: int, **changes: Any) -> np.ndarray:
    config = default_pond(SIZE, seed=seed)
    freqs = changes.pop("frequencies", None)
    if freqs is not None:
        for source, f in zip(config.sources, freqs, strict=True):
            source.frequency = f
    # the numpy reference backend: no compilation, and 64x64 is small
    solver = config.model_copy(update={"backend": "numpy", **changes}).build()
    solver.step(STEPS)
    return np.array(solver.u)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return 1.0 - float(np.dot(a.astype(np.float64), b.astype(np.float64)))


def test_same_scenario_is_closer_than_other_scenarios() -> None:
    # the same pond with different source phases (seeds) ...
    same = [fingerprint(pond_field(seed)) for seed in range(4)]
    # ... against other frequencies, stronger damping, other boundaries
    others = {
        "lower frequencies": fingerprint(pond_field(0, frequencies=[5.0, 6.5, 8.5])),
        "higher frequencies": fingerprint(pond_field(0, frequencies=[14.0, 18.0, 23.0])),
        "damping 3/s": fingerprint(pond_field(0, damping=3.0)),
        "fixed walls": fingerprint(pond_field(0, boundary="fixed")),
        "periodic": fingerprint(pond_field(0, boundary="periodic")),
    }
    within = max(distance(a, b) for i, a in enumerate(same) for b in same[i + 1 :])
    for name, other in others.items():
        between = min(distance(other, s) for s in same)
        assert between > within, (name, between, within)


def test_shape_norm_and_amplitude_invariance() -> None:
    u = np.random.default_rng(0).normal(size=(48, 80))
    fp = fingerprint(u)
    assert fp.dtype == np.float32 and fp.shape == (128,)
    assert np.linalg.norm(fp) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(fingerprint(7.5 * u), fp, atol=1e-6)
    start, stop = FINGERPRINT_LAYOUT["metrics"]
    assert not fp[start:stop].any()  # no metrics given


def test_zero_field_has_a_finite_fingerprint() -> None:
    fp = fingerprint(np.zeros((32, 32)))
    assert np.all(np.isfinite(fp)) and np.linalg.norm(fp) == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [np.zeros(16), np.zeros((2, 32)), np.full((8, 8), np.nan)])
def test_bad_fields(bad: np.ndarray) -> None:
    with pytest.raises(FieldError):
        fingerprint(bad)


@dataclass(frozen=True)
class FakeMetrics:
    fractal_dim: float = 1.6
    gain: float = 0.3
    gain_field: Any = None
    coherence_field: Any = None
    dwell_field: Any = None
    ci_field: Any = None


def test_metric_fields_fill_their_block() -> None:
    rng = np.random.default_rng(3)
    u = rng.normal(size=(32, 32))
    plain = fingerprint(u)
    np.testing.assert_array_equal(fingerprint(u, FakeMetrics()), plain)  # None fields
    with_gain = fingerprint(u, FakeMetrics(gain_field=rng.exponential(size=(32, 32))))
    mapping = fingerprint(u, {"gain_field": rng.exponential(size=(32, 32))})
    start, stop = FINGERPRINT_LAYOUT["metrics"]
    assert with_gain[start : start + 8].any() and not with_gain[start + 8 : stop].any()
    assert mapping[start : start + 8].any()
    assert distance(with_gain, plain) > 0
