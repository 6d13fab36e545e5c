"""Complexity synchronization: incremental Pearson CS vs numpy, MDEA on synthetic series."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resonance_engine.errors import ConfigError, MetricError
from resonance_engine.swarm.sync import (
    MDEAConfig,
    RunningCorrelation,
    mdea_delta,
    mdea_synchronization,
)


def _reference_mean(window: np.ndarray) -> float:
    corr = np.corrcoef(window.T)
    return float(corr[np.triu_indices(window.shape[1], 1)].mean())


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 12),
    window=st.integers(3, 40),
    ticks=st.integers(3, 150),
    offset=st.floats(-1e4, 1e4),
    seed=st.integers(0, 2**32 - 1),
)
def test_running_correlation_matches_corrcoef(
    n: int, window: int, ticks: int, offset: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    data = offset + rng.normal(size=(ticks, n)) + rng.normal(size=(ticks, 1))
    rc = RunningCorrelation(n, window)
    for x in data:
        rc.push(x)
    last = data[-window:]
    np.testing.assert_allclose(rc.window_values(), last, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(rc.matrix(), np.corrcoef(last.T), atol=1e-6)
    assert rc.mean() == pytest.approx(_reference_mean(last), abs=1e-6)


def test_running_correlation_tracks_every_tick() -> None:
    rng = np.random.default_rng(3)
    data = rng.normal(size=(300, 5)).cumsum(axis=0)
    rc = RunningCorrelation(5, 50)
    for t, x in enumerate(data):
        rc.push(x)
        if t >= 2:
            start = max(0, t + 1 - 50)
            assert rc.mean() == pytest.approx(_reference_mean(data[start : t + 1]), abs=1e-8)


def test_constant_series_are_left_out_and_perfect_sync_is_one() -> None:
    rc = RunningCorrelation(3, 10)
    for t in range(20):
        rc.push(np.array([math.sin(t), 2 * math.sin(t) + 1, 5.0]))
    corr = rc.matrix()
    assert np.isnan(corr[0, 2]) and np.isnan(corr[1, 2])
    assert rc.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(rc.per_series()[:2], 1.0)


def test_running_correlation_rejects_bad_input() -> None:
    with pytest.raises(ConfigError):
        RunningCorrelation(1, 10)
    with pytest.raises(ConfigError):
        RunningCorrelation(3, 2)
    with pytest.raises(MetricError, match="shape"):
        RunningCorrelation(3, 5).push(np.zeros(4))


def test_mdea_white_noise_diffuses_normally() -> None:
    # defaults, as the renewal test: white noise crossing stripes is Poisson-like
    for seed in range(3):
        result = mdea_delta(np.random.default_rng(seed).normal(size=50_000))
        assert result.delta == pytest.approx(0.5, abs=0.05)
        assert result.r2 > 0.95


def _renewal(mu: float, n: int, seed: int) -> np.ndarray:
    """A dichotomous signal that flips at the events of a renewal process with waiting
    times psi(t) = (mu - 1) T^(mu - 1) / (T + t)^mu (T = 1 sample: a power-law tail
    t^-mu), observed at unit resolution (a sample holding events flips once)."""
    rng = np.random.default_rng(seed)
    waits = rng.random(n) ** (-1 / (mu - 1)) - 1  # inverse of the survival (1 + t)^(1 - mu)
    times = np.cumsum(waits)
    events = np.zeros(n, dtype=bool)
    events[np.floor(times[times < n]).astype(int)] = True
    return np.where(np.cumsum(events) % 2 == 0, 1.0, -1.0)


def test_mdea_delta_follows_renewal_theory_with_defaults() -> None:
    # theory for rule 1: delta = 1 / (mu - 1) for 2 < mu < 3. One 50,000-sample series of
    # mu = 2.2 can hold a laminar phase as long as the series (about 1 in 12 do), so each
    # mu takes the median of three independent series. pymdea, the peer implementation,
    # does not install here (its releases require typing>=3.10, absent from PyPI).
    deltas = [
        float(np.median([mdea_delta(_renewal(mu, 50_000, seed)).delta for seed in range(3)]))
        for mu in (2.2, 2.5, 2.8)
    ]
    assert deltas[0] > deltas[1] > deltas[2]
    for delta, mu in zip(deltas, (2.2, 2.5, 2.8), strict=True):
        assert delta == pytest.approx(1 / (mu - 1), abs=0.12)


def test_mdea_constant_series_has_no_delta() -> None:
    result = mdea_delta(np.ones(100))
    assert math.isnan(result.delta) and result.events == 0
    with pytest.raises(MetricError, match="NaN"):
        mdea_delta(np.array([1.0, np.nan] * 20))


def _regimes(schedule: np.ndarray, block: int, rng: np.random.Generator) -> np.ndarray:
    """Blocks of white noise (delta ~ 1/2) and of a regular staircase (delta ~ 0)."""
    parts = []
    for noisy in schedule:
        t = np.arange(block)
        parts.append(rng.normal(size=block) if noisy else ((t + rng.integers(5)) // 5 % 10) / 10.0)
    return np.concatenate(parts)


def test_mdea_synchronization_detects_shared_scaling_regimes() -> None:
    rng = np.random.default_rng(2)
    cfg = MDEAConfig(window=128, hop=32)
    schedule = np.array([0, 1, 1, 0, 1, 0, 0, 1, 0, 1])
    shared = np.stack([_regimes(schedule, 256, rng) for _ in range(4)], axis=1)
    independent = np.stack(
        [_regimes(rng.permutation(schedule), 256, rng) for _ in range(4)], axis=1
    )
    # the raw series of the shared case are not correlated at all ...
    assert abs(_reference_mean(shared)) < 0.2
    # ... but their scaling indices move together
    synced = mdea_synchronization(shared, cfg)
    assert synced.score > 0.8
    assert mdea_synchronization(independent, cfg).score < synced.score - 0.4
    assert synced.deltas.shape == (1 + (2560 - 128) // 32, 4)
    with pytest.raises(MetricError, match="samples"):
        mdea_synchronization(shared[:100], cfg)


def test_surrogate_test_separates_shared_timing_from_chance() -> None:
    from resonance_engine.swarm.sync import series_cs, surrogate_test

    rng = np.random.default_rng(4)
    common = rng.normal(size=400)
    synced = common[:, None] + 0.7 * rng.normal(size=(400, 5))
    independent = rng.normal(size=(400, 5))
    yes = surrogate_test(synced, n_surrogates=99, seed=1)
    no = surrogate_test(independent, n_surrogates=99, seed=1)
    assert yes.observed == pytest.approx(series_cs(synced))
    assert yes.p_value == pytest.approx(0.01)  # beats every surrogate
    assert yes.observed > yes.quantile95
    assert no.p_value > 0.05
    assert yes.surrogates.shape == (99,)


def test_grouped_running_correlation_equals_separate_ones() -> None:
    rng = np.random.default_rng(5)
    data = rng.normal(size=(90, 2, 6)).cumsum(axis=0)
    data[:, 1, 2] = 3.0  # a constant series in the second group is left out
    grouped = RunningCorrelation(6, 20, groups=2)
    single = [RunningCorrelation(6, 20) for _ in range(2)]
    for x in data:
        grouped.push(x)
        for k in range(2):
            single[k].push(x[k])
        means = grouped.mean()
        assert means.shape == (2,)
        for k in range(2):
            a, b = means[k], single[k].mean()
            assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, abs=1e-9)
    np.testing.assert_allclose(grouped.matrix()[1], single[1].matrix(), atol=1e-9)
    np.testing.assert_allclose(grouped.per_series()[0], single[0].per_series(), atol=1e-9)
    assert grouped.window_values().shape == (20, 2, 6)
    for k in range(2):
        last = data[-20:, k]
        ok = last.std(axis=0) > 0
        ref = np.corrcoef(last[:, ok].T)[np.triu_indices(int(ok.sum()), 1)].mean()
        assert grouped.mean()[k] == pytest.approx(ref, abs=1e-8)


