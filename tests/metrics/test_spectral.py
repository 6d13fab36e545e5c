"""Structure factor S(q) and power spectrum on signals with known spectra."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resonance_engine import power_spectrum, structure_factor
from resonance_engine.errors import ConfigError, FieldError


def plane_wave(ny: int, nx: int, mx: int, my: int, dx: float = 1.0) -> np.ndarray:
    """cos(k . r) with k = 2 pi (mx / (nx dx), my / (ny dx)): periodic on the grid."""
    y, x = np.mgrid[0:ny, 0:nx] * dx
    return np.cos(2 * np.pi * (mx * x / (nx * dx) + my * y / (ny * dx)) + 0.3)


@pytest.mark.parametrize(("mx", "my"), [(12, 0), (0, 12), (9, 9), (-7, 11), (5, -20), (30, 17)])
def test_plane_wave_peaks_at_its_wave_number_in_any_direction(mx: int, my: int) -> None:
    n, dx = 128, 0.25
    sf = structure_factor(plane_wave(n, n, mx, my, dx), dx=dx)
    k = 2 * np.pi * math.hypot(mx, my) / (n * dx)
    dq = 2 * np.pi / (n * dx)
    assert abs(sf.peak_q - k) <= dq / 2  # the bin holding |k|
    peak_bin = int(np.argmax(sf.S))
    # all the power is in that one bin: the others are zero to rounding
    others = np.delete(sf.S * sf.counts, peak_bin)
    assert others.max() < 1e-9 * (sf.S * sf.counts)[peak_bin]


def test_rectangular_grid_and_anisotropic_cells() -> None:
    ny, nx, dx, dy = 60, 96, 0.5, 0.8
    y, x = np.mgrid[0:ny, 0:nx]
    k_x, k_y = 2 * np.pi * 10 / (nx * dx), 2 * np.pi * 6 / (ny * dy)
    u = np.sin(k_x * x * dx + k_y * y * dy)
    sf = structure_factor(u, dx=dx, dy=dy)
    dq = 2 * np.pi / max(nx * dx, ny * dy)
    assert abs(sf.peak_q - math.hypot(k_x, k_y)) <= dq / 2
    assert sf.counts.sum() == ny * nx


@pytest.mark.parametrize("window", [None, "hann"])
def test_sum_rule(window: str | None, rng: np.random.Generator) -> None:
    u = rng.normal(3.0, 2.0, size=(3, 50, 77))
    sf = structure_factor(u, window=window)
    x = u - u.mean(axis=(1, 2), keepdims=True)
    if window == "hann":
        # the documented taper: periodic Hann along each axis, scaled to mean(w^2) = 1
        wy = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(50) / 50)
        wx = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(77) / 77)
        w = np.outer(wy, wx)
        x = x * w / np.sqrt((w * w).mean())
    total = (sf.counts * sf.S).sum(axis=1)
    np.testing.assert_allclose(total, (x * x).sum(axis=(1, 2)), rtol=1e-10)


def test_white_noise_is_flat_within_its_sampling_error(rng: np.random.Generator) -> None:
    sigma = 1.7
    u = rng.normal(0.0, sigma, size=(256, 256))
    sf = structure_factor(u)
    keep = (sf.q > 0) & (sf.counts >= 50)
    # each |F|^2 / N of Gaussian noise is exponential with mean sigma^2: a bin average of
    # n modes has relative standard deviation about 1 / sqrt(n) (modes are pairs: x2)
    z = (sf.S[keep] / sigma**2 - 1.0) * np.sqrt(sf.counts[keep] / 2)
    assert abs(float(np.mean(sf.S[keep])) / sigma**2 - 1) < 0.02
    assert float(np.abs(z).max()) < 5.0
    assert 0.5 < float(np.std(z)) < 1.5


def test_batch_matches_members(rng: np.random.Generator) -> None:
    u = rng.normal(size=(2, 40, 40)).astype(np.float32)
    both = structure_factor(u)
    assert both.S.shape == (2, len(both.q))
    for k in range(2):
        one = structure_factor(u[k])
        np.testing.assert_allclose(both.S[k], one.S, rtol=1e-6)
        assert both.peak_q[k] == one.peak_q


def test_structure_factor_rejects_bad_input() -> None:
    with pytest.raises(FieldError):
        structure_factor(np.zeros(5))
    with pytest.raises(FieldError):
        structure_factor(np.array([[0.0, np.nan]]))
    with pytest.raises(ConfigError):
        structure_factor(np.zeros((8, 8)), dx=0.0)
    with pytest.raises(ConfigError):
        structure_factor(np.zeros((8, 8)), window="kaiser")


@pytest.mark.parametrize("f0", [3.0, 12.5, 31.0])
def test_sine_series_peaks_at_its_frequency(f0: float, rng: np.random.Generator) -> None:
    fs = 100.0
    t = np.arange(4096) / fs
    x = np.sin(2 * np.pi * f0 * t) + 0.1 * rng.normal(size=t.size)
    ps = power_spectrum(x, fs, nperseg=512)
    assert abs(ps.peak_frequency - f0) <= fs / 512
    assert ps.spectral_entropy < 0.3


def test_power_spectrum_columns_and_entropy_of_noise(rng: np.random.Generator) -> None:
    fs = 50.0
    t = np.arange(2000) / fs
    x = np.stack([np.sin(2 * np.pi * 4.0 * t), rng.normal(size=t.size)], axis=1)
    ps = power_spectrum(x, fs)
    assert ps.psd.shape == (len(ps.f), 2)
    assert abs(ps.peak_frequency[0] - 4.0) <= fs / 256
    assert ps.spectral_entropy[1] > 0.9 > 0.3 > ps.spectral_entropy[0]
    # Welch's density integrates to the variance (Parseval in time)
    df = ps.f[1] - ps.f[0]
    assert float(ps.psd[:, 1].sum() * df) == pytest.approx(float(x[:, 1].var()), rel=0.1)


def test_power_spectrum_rejects_bad_input() -> None:
    with pytest.raises(FieldError):
        power_spectrum(np.zeros(3), 1.0)
    with pytest.raises(ConfigError):
        power_spectrum(np.zeros(64), 0.0)
    with pytest.raises(ConfigError):
        power_spectrum(np.zeros(64), 1.0, nperseg=128)
