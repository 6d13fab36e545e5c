"""Gain, coherence, dwell and CI on fields whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from resonance_engine.errors import ConfigError, FieldError
from resonance_engine.metrics import (
    DwellTimeTracker,
    coherence_field,
    complexity_index,
    gain_field,
    local_variance,
)
from resonance_engine.metrics.coherence import gaussian_weights


def test_gain_is_the_window_mean_of_the_amplitude(backend: str, rng: np.random.Generator) -> None:
    u = rng.standard_normal((40, 50))
    g = gain_field(u, 7, backend=backend)
    expected = ndimage.uniform_filter(np.abs(u), 7, mode="constant")
    # interior: the plain window mean; near the edges the mean over in-grid cells
    np.testing.assert_allclose(g[3:-3, 3:-3], expected[3:-3, 3:-3], rtol=1e-10)
    assert g[0, 0] == pytest.approx(np.abs(u[:4, :4]).mean())
    assert g.shape == u.shape and g.dtype == u.dtype


def test_gain_of_a_constant_amplitude_is_that_amplitude(backend: str) -> None:
    u = np.full((3, 33, 17), -2.5, dtype=np.float32)
    u[:, ::2] *= -1  # the sign does not matter
    np.testing.assert_allclose(gain_field(u, 5, backend=backend), 2.5, rtol=1e-6)


def test_gain_rejects_even_windows() -> None:
    with pytest.raises(ConfigError, match="odd"):
        gain_field(np.ones((8, 8)), 4)


def test_local_variance_matches_weighted_moments(backend: str, rng: np.random.Generator) -> None:
    u = rng.standard_normal((30, 31)) + 5.0
    var = local_variance(u, 1.5, backend=backend)
    w = gaussian_weights(1.5)
    r = len(w) // 2
    w2 = np.outer(w, w)
    i, j = 15, 12
    patch = u[i - r : i + r + 1, j - r : j + r + 1]
    mean = (w2 * patch).sum()
    assert var[i, j] == pytest.approx((w2 * (patch - mean) ** 2).sum(), rel=1e-9)
    # the same Gaussian as scipy in the interior
    m1 = ndimage.gaussian_filter(u, 1.5, truncate=3.0)
    m2 = ndimage.gaussian_filter(u * u, 1.5, truncate=3.0)
    np.testing.assert_allclose(var[6:-6, 6:-6], (m2 - m1 * m1)[6:-6, 6:-6], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("normalize", ["frame", "bounded"])
def test_constant_field_has_maximal_coherence(normalize: str, backend: str) -> None:
    for dtype in (np.float32, np.float64):
        u = np.full((32, 48), 3.7, dtype=dtype)
        assert local_variance(u, backend=backend).max() == 0.0
        c = coherence_field(u, normalize=normalize, backend=backend)
        np.testing.assert_array_equal(c, 1.0)


def test_coherence_is_high_where_the_field_is_smooth(
    backend: str, rng: np.random.Generator
) -> None:
    u = np.zeros((64, 64))
    u[:, 32:] = rng.standard_normal((64, 32))  # noisy right half, flat left half
    for normalize in ("frame", "bounded"):
        c = coherence_field(u, 2.0, normalize, backend=backend)
        assert c.min() >= 0.0 and c.max() <= 1.0
        assert c[:, :20].mean() > 0.99
        assert c[:, 44:].mean() < 0.6


def test_bounded_coherence_is_frame_independent(backend: str, rng: np.random.Generator) -> None:
    u = rng.standard_normal((48, 48))
    loud = u.copy()
    loud[:, :10] *= 100.0  # frame normalization would rescale the quiet part
    c1 = coherence_field(u, normalize="bounded", scale=0.5, backend=backend)
    c2 = coherence_field(loud, normalize="bounded", scale=0.5, backend=backend)
    np.testing.assert_allclose(c1[:, 25:], c2[:, 25:], rtol=1e-9)
    var = local_variance(u, backend=backend)
    np.testing.assert_allclose(c1, 1.0 / (1.0 + var / 0.5), rtol=1e-12)


def test_frame_coherence_spans_zero_to_one(backend: str, rng: np.random.Generator) -> None:
    c = coherence_field(rng.standard_normal((40, 40)), normalize="frame", backend=backend)
    assert c.min() == pytest.approx(0.0, abs=1e-12) and c.max() == pytest.approx(1.0)


def test_coherence_rejects_bad_options() -> None:
    with pytest.raises(ConfigError):
        coherence_field(np.ones((8, 8)), normalize="global")
    with pytest.raises(ConfigError):
        coherence_field(np.ones((8, 8)), sigma=0.0)


@pytest.mark.parametrize("storage", ["int16", "float"])
def test_unchanging_field_drives_dwell_to_its_maximum(storage: str, backend: str) -> None:
    tracker = DwellTimeTracker((20, 30), history=6, lam=3.0, storage=storage, backend=backend)
    u = np.random.default_rng(1).standard_normal((20, 30)).astype(np.float32)
    taus = [float(tracker.update(u).mean()) for _ in range(10)]
    assert taus[0] == 0.0  # no past yet
    assert all(b > a for a, b in zip(taus[:6], taus[1:7], strict=True))  # grows while filling
    assert taus[-1] == pytest.approx(tracker.max_dwell, rel=1e-4)
    assert tracker.max_dwell == pytest.approx(sum(np.exp(-k / 3.0) for k in range(1, 7)))


def test_alternating_field_lowers_dwell(backend: str) -> None:
    u = np.random.default_rng(2).standard_normal((16, 16))
    steady = DwellTimeTracker((16, 16), history=8, backend=backend, dtype=np.float64)
    flip = DwellTimeTracker((16, 16), history=8, backend=backend, dtype=np.float64)
    for n in range(12):
        tau_steady = steady.update(u)
        tau_flip = flip.update(u if n % 2 == 0 else -u)
    assert tau_flip.mean() < 0.8 * tau_steady.mean()
    # only the even lags (the same sign) still count fully
    even = sum(np.exp(-k / 4.0) for k in range(2, 9, 2))
    assert tau_flip.min() >= even * (1 - 1e-3)  # int16 history: rounding of the codes


def test_dwell_similarity_is_bounded_and_scaled(backend: str) -> None:
    tracker = DwellTimeTracker(
        (1, 8, 8), history=1, lam=1.0, scale=1.0, storage="float", dtype=np.float64, backend=backend
    )
    a = np.ones((1, 8, 8))
    tracker.update(a)
    tau = tracker.update(a + 0.25)  # RMS of the new frame is 1.25: s = 1 - 0.25 / 1.25
    np.testing.assert_allclose(tau, np.exp(-1.0) * 0.8)
    tau = tracker.update(a - 1000.0)  # far away: similarity clipped at 0, never negative
    np.testing.assert_array_equal(tau, 0.0)


def test_dwell_tracker_checks_shapes() -> None:
    tracker = DwellTimeTracker((8, 8))
    with pytest.raises(FieldError, match="shape"):
        tracker.update(np.ones((8, 9)))
    with pytest.raises(ConfigError):
        DwellTimeTracker((8, 8), history=0)
    with pytest.raises(FieldError, match="NaN"):
        tracker.update(np.full((8, 8), np.nan))


def test_complexity_index_is_zero_when_a_factor_is_zero() -> None:
    assert complexity_index(0.0, 1.0, 1.0, 5.0) == 0.0
    assert complexity_index(1.5, 0.0, 1.0, 5.0) == 0.0
    assert complexity_index(1.5, 1.0, 0.0, 5.0) == 0.0
    assert complexity_index(1.5, 1.0, 1.0, 0.0) == 0.0
    taus = np.linspace(0.0, 10.0, 11)
    ci = complexity_index(1.6, 2.0, 0.5, taus, alpha=2.0, beta=1.3, gamma=2.0)
    assert isinstance(ci, np.ndarray)
    assert np.all(np.diff(ci) > 0)
    assert ci[-1] < 2.0 * 1.6**1.3 * 2.0 * 0.5
    assert complexity_index(1.6, 2.0, 0.5, 3.0, 2.0, 1.3, 2.0) == pytest.approx(
        2.0 * 1.6**1.3 * 2.0 * 0.5 * (1 - np.exp(-1.5))
    )
    with pytest.raises(ConfigError):
        complexity_index(1.0, 1.0, 1.0, 1.0, gamma=0.0)
