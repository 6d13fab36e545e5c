"""Basin stability and mean first passage time: statistics, censoring, executors."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pytest

from resonance_engine.errors import ConfigError
from resonance_engine.swarm.basin import basin_stability, mean_first_passage_time
from resonance_engine.swarm.batched import Swarm, SwarmConfig

from .standin import standin_factory


@dataclass
class _Coordinator:
    cs: float = 1.0


@dataclass
class _Window:
    window: int = 4


@dataclass
class StubSwarm:
    """A swarm stand-in whose CS is scripted: it returns to sync iff the kick was small,
    and under noise escapes at tick ``escape_at`` (or never)."""

    escape_at: int | None = None
    config: _Window = field(default_factory=_Window)
    coordinator: _Coordinator = field(default_factory=_Coordinator)
    noise: float = 0.0
    kick: float = 0.0
    ticks: int = 0

    def perturb(self, strength: float, rng: np.random.Generator) -> None:
        self.kick = strength * abs(float(rng.standard_normal()))

    def reset_coordinator(self) -> None:
        self.coordinator = _Coordinator()

    def seed_noise(self, seed: int) -> None:
        pass

    def run(self, ticks: int) -> None:
        for _ in range(ticks):
            self.tick()

    def tick(self) -> None:
        self.ticks += 1
        noisy_ticks = self.ticks - self.config.window
        escaped = self.escape_at is not None and self.noise > 0 and noisy_ticks >= self.escape_at
        self.coordinator.cs = 0.2 if (self.kick > 1.0 or escaped) else 0.9


def test_basin_stability_counts_returns_and_reports_the_standard_error() -> None:
    with ThreadPoolExecutor(2) as pool:
        result = basin_stability(
            StubSwarm, n_samples=50, perturbation=1.0, horizon=4, executor=pool, seed=3
        )
    # success iff |N(0,1)| <= 1: reproduce the draws to know the expected count
    from resonance_engine.swarm.basin import _seeds

    kicks = [abs(float(np.random.default_rng(s).standard_normal())) for s in _seeds(3, 50)]
    expected = sum(k <= 1.0 for k in kicks)
    assert result.successes == expected and result.n_samples == 50
    p = expected / 50
    assert result.value == p
    assert result.stderr == pytest.approx(math.sqrt(p * (1 - p) / 50))
    assert result.baseline_cs == 0.9 and len(result.final_cs) == 50


def test_basin_stability_rejects_a_horizon_shorter_than_the_window() -> None:
    with ThreadPoolExecutor(1) as pool, pytest.raises(ConfigError, match="horizon"):
        basin_stability(StubSwarm, n_samples=1, horizon=2, executor=pool)


def test_first_passage_counts_censored_runs_separately() -> None:
    factories = [partial(StubSwarm, escape_at=t) for t in (5, 7, None, 9, None)]

    class Sequential:
        def __init__(self) -> None:
            self.calls = 0

        def submit(self, fn, factory, *args):  # type: ignore[no-untyped-def]
            from concurrent.futures import Future

            future: Future[object] = Future()
            future.set_result(fn(factories[self.calls], *args))
            self.calls += 1
            return future

    result = mean_first_passage_time(
        StubSwarm, noise=0.1, horizon=20, n_runs=5, executor=Sequential()
    )  # type: ignore[arg-type]
    assert result.times == (5, 7, None, 9, None)
    assert (result.n_escaped, result.n_censored) == (3, 2)
    assert result.mean_time == pytest.approx(7.0)  # censored runs are not averaged in
    assert result.restricted_mean == pytest.approx((5 + 7 + 20 + 9 + 20) / 5)
    assert result.stderr == pytest.approx(np.std([5, 7, 9], ddof=1) / math.sqrt(3))
    # exponential MLE with right censoring: time at risk over escapes
    assert result.censored_mean == pytest.approx((5 + 7 + 20 + 9 + 20) / 3)

    none = mean_first_passage_time(
        StubSwarm, noise=0.1, horizon=10, n_runs=3, executor=ThreadPoolExecutor(1)
    )
    assert none.n_censored == 3 and math.isnan(none.mean_time)
    assert math.isnan(none.censored_mean)


def test_an_unperturbed_restart_from_a_snapshot_gives_basin_stability_one() -> None:
    from resonance_engine.swarm.coupling import make_coupling

    config = SwarmConfig(size=64, steps_per_tick=10, window=8)
    # a locked kuramoto swarm with the default measure (the analyzer's dwell memory)
    swarm = Swarm(3, config, coupling=make_coupling("kuramoto", 40.0), seed=1).run(40)
    factory = partial(Swarm.from_snapshot, swarm.snapshot())
    with ThreadPoolExecutor(2) as pool:
        result = basin_stability(factory, n_samples=3, perturbation=0.0, horizon=8,
                                 threshold=0.9, executor=pool)
    # the original swarm, continued with a fresh window, is what every restart reproduces
    swarm.reset_coordinator()
    swarm.run(8)
    assert swarm.coordinator is not None and swarm.coordinator.cs > 0.9
    assert result.value == 1.0 and result.stderr == 0.0
    assert result.final_cs == (swarm.coordinator.cs,) * 3
    assert result.baseline_cs == swarm.coordinator.cs


def test_basin_stability_of_a_real_swarm_in_the_default_process_pool() -> None:
    config = SwarmConfig(size=32, steps_per_tick=8, window=8)
    swarm = Swarm(3, config, coupling=0.2, seed=1, measure=standin_factory).run(10)
    factory = partial(Swarm.from_snapshot, swarm.snapshot())
    result = basin_stability(factory, n_samples=2, perturbation=0.3, horizon=8, seed=0)
    assert result.n_samples == 2 and len(result.final_cs) == 2
    assert all(-1.0 <= c <= 1.0 for c in result.final_cs)
    assert 0.0 <= result.value <= 1.0 and -1.0 <= result.baseline_cs <= 1.0
    # the same samples in threads give the same numbers (seeded kicks)
    with ThreadPoolExecutor(2) as pool:
        again = basin_stability(
            factory, n_samples=2, perturbation=0.3, horizon=8, seed=0, executor=pool
        )
    np.testing.assert_allclose(again.final_cs, result.final_cs, rtol=1e-6)


def test_first_passage_of_a_real_swarm_under_noise() -> None:
    config = SwarmConfig(size=32, steps_per_tick=4, window=4)
    swarm = Swarm(3, config, coupling=0.1, seed=2, measure=standin_factory).run(6)
    factory = partial(Swarm.from_snapshot, swarm.snapshot())
    with ThreadPoolExecutor(2) as pool:
        result = mean_first_passage_time(
            factory, noise=0.5, horizon=12, n_runs=3, executor=pool, threshold=0.99
        )
    assert result.n_escaped + result.n_censored == 3 == len(result.times)
    escaped = [t for t in result.times if t is not None]
    assert all(1 <= t <= 12 for t in escaped)
    if escaped:
        assert result.mean_time == pytest.approx(np.mean(escaped))
    assert result.restricted_mean <= 12
