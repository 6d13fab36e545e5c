"""Multi-band analyzer: band filters, the nesting gate, CI_total."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resonance_engine.errors import ConfigError, FieldError
from resonance_engine.metrics import MetricsConfig, MultiBandAnalyzer
from resonance_engine.metrics.multiband import BandFilter

FS = 200.0  # frames per second
SLOW = (2.0, 6.0)
FAST = (20.0, 40.0)


def _run(
    coupled: bool,
    frames: int = 600,
    n: int = 24,
    depth: float = 1.0,
    drift: float = 2.0,
    seed: int = 0,
) -> MultiBandAnalyzer:
    """Slow 4 Hz waves plus a 30 Hz carrier whose amplitude follows the slow phase
    (coupled) or an unrelated 5.3 Hz rhythm with other spatial phases (independent).
    Both rhythms' phases drift (diffusion ``drift`` rad^2/s; 0: strictly periodic)."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(math.sqrt(2 * drift / FS) * rng.standard_normal((2, frames)), axis=1)
    y, x = np.mgrid[0:n, 0:n]
    theta = 0.2 * x + 0.1 * y
    mb = MultiBandAnalyzer([FAST, SLOW], frame_rate=FS, weights=[0.5, 2.0])
    for k in range(frames):
        t = k / FS
        slow = np.cos(2 * np.pi * 4.0 * t + walk[0, k] + theta)
        other = np.cos(2 * np.pi * 5.3 * t + walk[1, k] + 1.7 * theta + 0.9)
        fast = (1 + depth * (slow if coupled else other)) * np.cos(
            2 * np.pi * 30.0 * t + 0.5 * theta
        )
        result = mb.update((slow + 0.5 * fast).astype(np.float32), t=t)
    mb.last = result  # type: ignore[attr-defined]
    return mb


def test_coupled_bands_open_the_gate_and_independent_ones_close_it() -> None:
    coupled = _run(True).last  # type: ignore[attr-defined]
    independent = _run(False).last  # type: ignore[attr-defined]
    assert coupled.gates[0] == 1.0  # the slowest band is the carrier
    assert coupled.gates[1] > 0.75 and coupled.gate_p_values[1] < 0.05
    # no significant coupling: the gate is exactly 0
    assert independent.gates[1] == 0.0 and independent.gate_p_values[1] > 0.05
    # CI_total = CI_base + sum w_i g_i CI_i, with the bands sorted slow to fast
    assert coupled.weights == (2.0, 0.5)
    expected = coupled.base.ci + sum(
        w * g * b.ci for w, g, b in zip(coupled.weights, coupled.gates, coupled.bands, strict=True)
    )
    assert coupled.ci_total == pytest.approx(expected)
    assert independent.ci_total == pytest.approx(
        independent.base.ci + 2.0 * independent.bands[0].ci
    )
    assert coupled.as_dict()["gate_band1"] == coupled.gates[1]
    assert coupled.as_dict()["gate_p_band1"] == coupled.gate_p_values[1]


def test_the_gate_reads_the_modulation_depth() -> None:
    quarter = _run(True, depth=0.25, seed=1).last  # type: ignore[attr-defined]
    assert quarter.gates[1] == pytest.approx(0.25, abs=0.07)
    assert quarter.gate_p_values[1] < 0.05


def test_strictly_periodic_nesting_is_not_testable_and_keeps_the_gate_shut() -> None:
    """The documented limit of time-shift surrogates."""
    periodic = _run(True, frames=400, drift=0.0).last  # type: ignore[attr-defined]
    assert periodic.gates[1] == 0.0 and periodic.gate_p_values[1] > 0.05


def test_gate_is_zero_until_the_window_holds_three_slow_periods() -> None:
    mb = _run(True, frames=100)  # 0.5 s: two periods of 4 Hz
    assert mb.last.gates[1] == 0.0 and mb.last.gate_p_values[1] is None  # type: ignore[attr-defined]


def test_band_filter_passes_its_band_and_rejects_others() -> None:
    def steady_gain(freq: float) -> float:
        filt = BandFilter(FAST, FS, (1, 1, 1))
        amp = []
        for k in range(800):
            z = filt.update(np.full((1, 1, 1), math.cos(2 * np.pi * freq * k / FS), np.float32))
            amp.append(2 * abs(complex(z[0, 0, 0])))
        return float(np.mean(amp[-200:]))

    assert steady_gain(30.0) == pytest.approx(1.0, abs=0.02)  # unit gain at the centre
    # about -3 dB at the edges on average; the zero at 0 Hz tilts the response up
    low, high = steady_gain(20.0), steady_gain(40.0)
    assert low < high < 1.0
    assert 0.55 < math.sqrt(low * high) < 0.8
    assert steady_gain(4.0) < 0.05  # the slow band does not leak in
    assert steady_gain(0.0) < 1e-3  # nor a static offset


def test_band_filter_is_stable_on_noise() -> None:
    filt = BandFilter(SLOW, FS, (2, 8, 8), stages=3)
    rng = np.random.default_rng(0)
    for _ in range(2000):
        z = filt.update(rng.standard_normal((2, 8, 8)).astype(np.float32))
    assert np.isfinite(z).all() and np.abs(z).max() < 10


def test_batches_give_one_result_per_member() -> None:
    mb = MultiBandAnalyzer([SLOW, FAST], FS)
    u = np.random.default_rng(1).standard_normal((3, 16, 16)).astype(np.float32)
    out = mb.update(u)
    assert isinstance(out, list) and len(out) == 3
    with pytest.raises(FieldError):
        mb.update(u[:2])


def test_bad_bands_are_rejected() -> None:
    with pytest.raises(ConfigError, match="frame_rate/2"):
        MultiBandAnalyzer([(2.0, 150.0)], FS)
    with pytest.raises(ConfigError):
        MultiBandAnalyzer([(6.0, 2.0)], FS)
    with pytest.raises(ConfigError, match="weights"):
        MultiBandAnalyzer([SLOW, FAST], FS, weights=[1.0])
    with pytest.raises(ConfigError):
        MultiBandAnalyzer([], FS)
    with pytest.raises(ConfigError, match="gate_alpha"):
        MultiBandAnalyzer([SLOW, FAST], FS, gate_alpha=1.5)
    with pytest.raises(ConfigError, match="pac_window"):
        MultiBandAnalyzer([SLOW, FAST], FS, pac_window=4)
    MultiBandAnalyzer([SLOW], FS, config=MetricsConfig(coherence_normalize="bounded"))
