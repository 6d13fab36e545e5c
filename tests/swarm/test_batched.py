"""Swarm and SwarmAgent: batched agents, the coupling rule, determinism, traffic."""

from __future__ import annotations

import math
import pickle
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from resonance_engine.errors import ConfigError
from resonance_engine.swarm.agent import CouplingRule, SwarmAgent, SwarmAggregate
from resonance_engine.swarm.batched import Swarm, SwarmConfig
from resonance_engine.swarm.bus import InProcessBus
from resonance_engine.swarm.measure import AnalyzerMeasure

from .standin import standin_factory

SMALL = SwarmConfig(size=32, steps_per_tick=8, window=16)


def test_coupling_rule_moves_theta_toward_the_swarm_and_clamps() -> None:
    rule = CouplingRule(strength=0.5)
    assert rule.step(0.0, ci_own=1.0, ci_swarm=2.0) == pytest.approx(0.25)
    assert rule.step(0.0, ci_own=3.0, ci_swarm=2.0) == pytest.approx(-0.25)
    assert CouplingRule(10.0).step(0.0, 1.0, 2.0) == pytest.approx(math.log(4.0))
    assert CouplingRule(10.0).step(0.0, 3.0, 1.0) == pytest.approx(math.log(0.25))
    assert rule.step(0.3, ci_own=float("nan"), ci_swarm=1.0) == 0.3
    assert CouplingRule(0.0).step(0.3, 1.0, 2.0) == 0.3
    with pytest.raises(ConfigError):
        CouplingRule(-1.0)
    with pytest.raises(ConfigError):
        CouplingRule(1.0, gain_min=2.0)


def test_agent_adapts_from_its_last_signature() -> None:
    agent = SwarmAgent(3, 0, np.array([1.0, 2.0]), 0.0, CouplingRule(0.1))

    class M:
        fractal_dim, coherence, gain, dwell, ci = 1.5, 0.5, 1.0, 0.2, 1.0

    sig = agent.signature(7, M())
    assert (sig.agent, sig.step) == (3, 7) and sig.drive_phases == ()  # gain shares no drive
    CouplingRule(0.1).adapt(
        SimpleNamespace(agents=[agent]), SwarmAggregate(7, 4, 1.5, 0.5, 1.0, 0.2, ci=2.0), 0, 0.1
    )
    assert agent.theta == pytest.approx(0.05)
    np.testing.assert_allclose(agent.amplitude, np.array([1.0, 2.0]) * math.exp(0.05))


def test_swarm_steps_all_agents_in_one_batched_solver() -> None:
    swarm = Swarm(4, SMALL, coupling=0.0, seed=1, measure=standin_factory)
    assert swarm.solver.batch == 4 and swarm.solver.u.shape == (4, 32, 32)
    theta0 = swarm.theta.copy()
    swarm.run(5)
    # distinct random agents, independent when K = 0
    assert len(set(np.round(theta0, 6))) == 4
    np.testing.assert_array_equal(swarm.theta, theta0)
    assert swarm.ci_series().shape == (5, 4)
    assert swarm.coordinator is not None and swarm.coordinator.ticks == 5
    assert swarm.traffic_per_tick()["signature"] == 4 * 64


def test_same_seed_same_swarm_and_different_seed_differs() -> None:
    a = Swarm(3, SMALL, coupling=0.2, seed=5, measure=standin_factory).run(6)
    b = Swarm(3, SMALL, coupling=0.2, seed=5, measure=standin_factory).run(6)
    c = Swarm(3, SMALL, coupling=0.2, seed=6, measure=standin_factory).run(6)
    np.testing.assert_array_equal(a.ci_series(), b.ci_series())
    assert not np.allclose(a.ci_series(), c.ci_series())


def test_coupled_agents_move_toward_the_swarm_ci_and_conserve_mean_theta() -> None:
    swarm = Swarm(4, SMALL, coupling=0.02, seed=2, measure=standin_factory)
    theta0 = swarm.theta.copy()
    info = swarm.tick()
    assert info.aggregate is not None and info.aggregate.agents == 4
    # each agent's drive gain moved in the direction of the swarm's CI ...
    error = info.aggregate.ci - info.ci
    np.testing.assert_array_equal(np.sign(swarm.theta - theta0), np.sign(error))
    np.testing.assert_allclose(
        swarm.theta - theta0, 0.02 * error / abs(info.aggregate.ci), rtol=1e-5, atol=1e-12
    )
    # ... and the relative errors sum to zero, so the mean log gain is conserved (unclamped)
    swarm.run(10)
    assert swarm.theta.mean() == pytest.approx(theta0.mean(), abs=1e-6)
    assert not np.allclose(swarm.theta, theta0)


def test_state_exchange_traffic_is_measured_on_the_bus() -> None:
    swarm = Swarm(3, SMALL, seed=0, measure=standin_factory, exchange="state").run(4)
    traffic = swarm.traffic_per_tick()
    assert traffic["signature"] == 3 * 64
    assert traffic["state"] == 3 * 32 * 32 * 4


def test_split_swarm_on_one_bus_matches_the_whole_swarm() -> None:
    whole = Swarm(4, SMALL, coupling=0.3, seed=3, measure=standin_factory).run(8)
    bus = InProcessBus()
    halves = [
        Swarm(
            4,
            SMALL,
            coupling=0.3,
            seed=3,
            measure=standin_factory,
            bus=bus,
            agent_ids=ids,
            coordinator=False,
        )
        for ids in ((0, 1), (2, 3))
    ]
    threads = [threading.Thread(target=h.run, args=(8,)) for h in halves]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    split = np.concatenate([h.ci_series() for h in halves], axis=1)
    np.testing.assert_allclose(split, whole.ci_series(), rtol=1e-5)
    assert all(h.late_ticks == 0 for h in halves)


@pytest.mark.parametrize("mode", ["gain", "kuramoto", "ci-feedback"])
def test_snapshot_round_trip_continues_identically(mode: str) -> None:
    swarm = Swarm(3, SMALL, coupling=0.2, coupling_mode=mode, seed=4,
                  measure=standin_factory).run(5)
    snap = pickle.loads(pickle.dumps(swarm.snapshot()))  # as a process pool would see it
    copy = Swarm.from_snapshot(snap)
    np.testing.assert_array_equal(copy.theta, swarm.theta)
    np.testing.assert_array_equal(copy.solver.u, swarm.solver.u)
    assert copy.tick_count == 5 and copy.solver.t == pytest.approx(swarm.solver.t)
    swarm.run(4)
    copy.run(4)
    # the measure's memory (the stand-in's previous frame) travels too: identical CI
    np.testing.assert_array_equal(copy.ci_series(), swarm.ci_series()[-4:])


def test_snapshot_keeps_the_analyzers_dwell_memory() -> None:
    swarm = Swarm(2, SMALL, seed=4).run(6)  # default ComplexityAnalyzer
    copy = Swarm.from_snapshot(swarm.snapshot())
    swarm.run(3)
    copy.run(3)
    np.testing.assert_array_equal(copy.ci_series(), swarm.ci_series()[-3:])
    fresh = Swarm.from_snapshot(swarm.snapshot(), measure=AnalyzerMeasure())  # empty memory
    fresh.run(1)
    swarm.run(1)
    assert not np.array_equal(fresh.ci_series()[-1], swarm.ci_series()[-1])


def test_bad_swarm_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        Swarm(1, SMALL, measure=standin_factory)
    with pytest.raises(ConfigError):
        Swarm(3, SMALL, measure=standin_factory, agent_ids=(0, 5))
    with pytest.raises(ConfigError):
        Swarm(3, SMALL, measure=standin_factory, exchange="video")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        SwarmConfig(size=8)
    with pytest.raises(ConfigError):
        Swarm(3, SMALL, measure=standin_factory).run(-1)


def test_default_measure_is_the_complexity_analyzer() -> None:
    import pickle

    from resonance_engine.metrics import ComplexityMetrics
    from resonance_engine.swarm.measure import AnalyzerMeasure

    factory = pickle.loads(pickle.dumps(AnalyzerMeasure.with_config(dwell_history=4)))
    measure = factory()
    fields = np.random.default_rng(0).normal(size=(3, 32, 32)).astype(np.float32)
    metrics = measure(fields)
    assert len(metrics) == 3 and all(isinstance(m, ComplexityMetrics) for m in metrics)
    swarm = Swarm(2, SMALL, seed=0).run(3)  # default measure
    assert swarm.ci_series().shape == (3, 2)
    assert np.isfinite(swarm.ci_series()[-1]).all()
