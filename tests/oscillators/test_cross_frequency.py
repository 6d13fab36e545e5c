"""Tort modulation index, its surrogate test and the comodulogram."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resonance_engine.errors import ConfigError
from resonance_engine.oscillators import (
    binned_modulation_index,
    comodulogram,
    modulation_depth,
    modulation_index,
)

FS = 1000.0
T = np.arange(0, 60, 1 / FS)  # 60 s at 1 kHz


def drifting_phase(rng: np.random.Generator, freq: float, diffusion: float = 1.0) -> np.ndarray:
    """A rhythm's phase: 2 pi f t plus a random walk of diffusion D (rad^2/s)."""
    steps = math.sqrt(2 * diffusion / FS) * rng.standard_normal(T.size)
    return 2 * np.pi * freq * T + np.cumsum(steps)


def signals(seed: int) -> dict[str, np.ndarray]:
    """A 6 Hz rhythm plus an 80 Hz carrier whose envelope follows the 6 Hz phase
    (coupled), an unrelated 5.3 Hz rhythm (unrelated) or nothing (plain); white noise."""
    rng = np.random.default_rng(seed)
    slow = drifting_phase(rng, 6.0)
    other = drifting_phase(rng, 5.3)
    carrier = np.cos(2 * np.pi * 80 * T)
    noise = 0.5 * rng.standard_normal(T.size)
    return {
        "coupled": np.cos(slow) + 0.5 * (1 + np.cos(slow)) * carrier + noise,
        "unrelated": np.cos(slow) + 0.5 * (1 + np.cos(other)) * carrier + noise,
        "plain": np.cos(slow) + 0.5 * carrier + noise,
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coupling_is_detected_and_unrelated_modulation_is_not(seed: int) -> None:
    x = signals(seed)
    bands = ((4.0, 8.0), (60.0, 100.0))
    mi_c, p_c = modulation_index(x["coupled"], FS, *bands, surrogates=200, seed=seed)
    mi_u, p_u = modulation_index(x["unrelated"], FS, *bands, surrogates=200, seed=seed)
    mi_0, p_0 = modulation_index(x["plain"], FS, *bands, surrogates=200, seed=seed)
    assert p_c < 0.01 and mi_c > 0.03
    assert p_u > 0.05 and p_0 > 0.05
    # the unrelated modulation stays at the uncoupled level, far below the coupled MI
    assert mi_u < 0.01 * mi_c
    assert mi_u < 20 * mi_0 + 2e-4


def test_full_modulation_reads_depth_one_without_noise() -> None:
    phase = drifting_phase(np.random.default_rng(3), 6.0)
    amplitude = 1 + np.cos(phase - 0.7)
    mi, _, _ = binned_modulation_index(phase, amplitude)
    # continuous phase: KL = 1 - log 2 nats, MI = 0.1062; 18 bins of 20 degrees: 0.1045
    assert mi == pytest.approx((1 - math.log(2)) / math.log(18), rel=0.02)
    assert mi == pytest.approx(0.1045, abs=0.0002)
    assert modulation_depth(mi) == pytest.approx(1.0, abs=0.01)
    half = binned_modulation_index(phase, 1 + 0.25 * np.cos(phase))[0]
    assert modulation_depth(half) == pytest.approx(0.25, abs=0.01)


def test_channels_are_pooled_and_shifted_together() -> None:
    """Cells of one field share their lag: a strictly periodic coupling is not testable."""
    t = np.arange(0, 20, 1 / 200.0)
    offsets = np.linspace(0, 1, 16)[:, None]
    periodic = 2 * np.pi * 4 * t + offsets
    mi, p, null = binned_modulation_index(periodic, 1 + np.cos(periodic), surrogates=99, seed=0)
    assert mi > 0.09 and p > 0.5  # every shift keeps the phase relation (documented)
    rng = np.random.default_rng(4)
    drifting = periodic + np.cumsum(0.1 * rng.standard_normal(t.size))
    mi, p, null = binned_modulation_index(drifting, 1 + np.cos(drifting), surrogates=99, seed=0)
    assert p == pytest.approx(0.01) and null.max() < 0.2 * mi


def test_comodulogram_peaks_at_the_coupled_pair() -> None:
    x = signals(0)["coupled"][:20000]
    como = comodulogram(x, FS, phase_freqs=[3, 6, 10, 14], amplitude_freqs=[40, 80, 120])
    assert como.mi.shape == (4, 3)
    phase_f, amp_f, mi = como.peak()
    assert (phase_f, amp_f) == (6.0, 80.0)
    assert mi > 10 * np.median(como.mi)


def test_bad_input_is_refused() -> None:
    x = signals(0)["plain"][:5000]
    with pytest.raises(ConfigError, match="fs/2"):
        modulation_index(x, FS, (4, 8), (400, 600))
    with pytest.raises(ConfigError, match="n_bins"):
        modulation_index(x, FS, (4, 8), (60, 100), n_bins=1)
    with pytest.raises(ConfigError, match="non-finite"):
        modulation_index(np.full(100, np.nan), FS, (4, 8), (60, 100))
    with pytest.raises(ConfigError, match="fs"):
        modulation_index(x, 0.0, (4, 8), (60, 100))
    assert math.isnan(modulation_index(x, FS, (4, 8), (60, 100))[1])  # no surrogates
