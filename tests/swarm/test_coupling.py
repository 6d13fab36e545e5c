"""Coupling mechanisms: each rule against its analytic behaviour, its traffic, the registry."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pytest

from resonance_engine.errors import ConfigError
from resonance_engine.swarm.agent import SwarmAgent, SwarmAggregate
from resonance_engine.swarm.batched import Swarm, SwarmConfig
from resonance_engine.swarm.coupling import (
    COUPLING_MODES,
    CIFeedbackCoupling,
    Coupling,
    make_coupling,
    register_coupling,
)

from .standin import standin_factory

SMALL = SwarmConfig(size=32, steps_per_tick=8, window=16)


def _phase_gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * (a - b)))


def test_every_documented_mode_is_registered() -> None:
    assert {"gain", "kuramoto", "ci-feedback", "common-drive", "diffusive"} <= set(COUPLING_MODES)
    assert make_coupling("kuramoto", 3.0).unit == "1/s"
    with pytest.raises(ConfigError, match="unknown coupling mode 'telepathy'"):
        make_coupling("telepathy", 1.0)
    with pytest.raises(ConfigError, match="kuramoto coupling strength"):
        make_coupling("kuramoto", -1.0)


def test_two_kuramoto_agents_lock_at_the_analytic_phase_gap() -> None:
    # two oscillators in the mean field: d(phi2 - phi1)/dt = dw - K sin(phi2 - phi1), so
    # they lock iff K >= |dw|, at the gap arcsin(dw / K) (no frequency pull here)
    coupling = make_coupling("kuramoto", 40.0, frequency_pull=0.0)
    swarm = Swarm(2, SMALL, coupling=coupling, seed=3, measure=standin_factory)
    a, b = swarm.agents
    dw = 2 * np.pi * (b.natural_frequency - a.natural_frequency)
    assert np.all(np.abs(dw) < 40.0) and np.any(np.abs(dw) > 1.0)
    swarm.run(150)
    np.testing.assert_allclose(_phase_gap(b.phase, a.phase), np.arcsin(dw / 40.0), atol=0.02)
    np.testing.assert_allclose(swarm.drive_order_parameter(), np.cos(np.arcsin(dw / 40.0) / 2))
    # each drive now runs at the common frequency (the mean of the pair)
    np.testing.assert_allclose(a.frequency, b.frequency, rtol=1e-3)
    np.testing.assert_allclose(a.frequency, (a.natural_frequency + b.natural_frequency) / 2,
                               rtol=1e-3)


def test_below_the_locking_strength_the_kuramoto_pair_drifts() -> None:
    coupling = make_coupling("kuramoto", 0.5, frequency_pull=0.0)
    swarm = Swarm(2, SMALL, coupling=coupling, seed=3, measure=standin_factory)
    a, b = swarm.agents
    gaps = []
    for _ in range(120):
        swarm.tick()
        gaps.append(_phase_gap(b.phase, a.phase))
    spread = np.ptp(np.unwrap(np.array(gaps), axis=0), axis=0)
    assert np.all(spread > np.pi)  # the gap keeps slipping: no lock


def test_frequency_pull_brings_natural_frequencies_to_the_conserved_mean() -> None:
    k, pull = 5.0, 0.2
    swarm = Swarm(4, SMALL, coupling=make_coupling("kuramoto", k, frequency_pull=pull),
                  seed=1, measure=standin_factory)
    w0 = np.array([a.natural_frequency[0] for a in swarm.agents])
    swarm.run(40)
    w = np.array([a.natural_frequency[0] for a in swarm.agents])
    assert w.mean() == pytest.approx(w0.mean(), rel=1e-3)
    # the spread decays at about pull K (the phasor mean lags the plain mean a little)
    expected = np.exp(-pull * k * 40 * swarm.tick_seconds)
    assert np.std(w) / np.std(w0) == pytest.approx(expected, rel=0.15)


def test_kuramoto_signatures_stay_64_bytes_and_carry_the_drive() -> None:
    swarm = Swarm(3, SMALL, coupling=make_coupling("kuramoto", 10.0, frequency_pull=0.0),
                  seed=0, measure=standin_factory)
    seen = []
    swarm.bus.subscribe(seen.append)
    swarm.run(3)
    assert swarm.traffic_per_tick() == {"signature": 3 * 64, "state": 0}
    sig = seen[-1]
    agent = swarm.agents[sig.agent]
    assert len(sig.drive_phases) == 3
    np.testing.assert_allclose(sig.drive_phases, agent.phase, atol=2 * np.pi / 65536)
    assert sig.drive_omega == pytest.approx(2 * np.pi * agent.natural_frequency[0], rel=1e-6)


def test_common_drive_entrains_without_any_exchange() -> None:
    k = 40.0
    swarm = Swarm(3, SMALL, coupling=make_coupling("common-drive", k, frequency_pull=0.0),
                  seed=2, measure=standin_factory)
    received = []
    swarm.bus.subscribe(received.append)
    swarm.run(150)
    t = swarm.solver.t
    rhythm = 2 * np.pi * swarm.reference_frequency * t + swarm.reference_phase
    for agent in swarm.agents:  # each lags the rhythm by arcsin((w_i - W) / K)
        dw = 2 * np.pi * (agent.natural_frequency - swarm.reference_frequency)
        np.testing.assert_allclose(_phase_gap(agent.phase, rhythm), np.arcsin(dw / k), atol=0.02)
    assert all(sig.drive_phases == () for sig in received)  # signatures carry no drive
    assert make_coupling("common-drive").channels == ()  # they only feed the coordinator


def test_ci_feedback_is_a_pi_law_on_the_relative_error() -> None:
    coupling = CIFeedbackCoupling(0.5, integral_time=2.0)
    agent = SwarmAgent(0, 0, np.ones(1), 0.1, coupling)

    class M:
        fractal_dim, coherence, gain, dwell, ci = 1.5, 0.5, 1.0, 0.2, 1.0

    agent.signature(0, M())
    swarm = SimpleNamespace(agents=[agent])
    aggregate = SwarmAggregate(0, 2, 1.5, 0.5, 1.0, 0.2, ci=1.25)
    coupling.adapt(swarm, aggregate, 0.1, 0.1)
    error = 0.25 / 1.25
    assert agent.theta == pytest.approx(0.1 + 0.5 * (error + error * 0.1 / 2.0))
    coupling.adapt(swarm, aggregate, 0.2, 0.1)  # the integral keeps growing
    assert agent.theta == pytest.approx(0.1 + 0.5 * (error + 2 * error * 0.1 / 2.0))


def test_diffusive_exchanges_boundary_strips_as_counted_state() -> None:
    w = 3
    swarm = Swarm(3, SMALL, coupling=make_coupling("diffusive", 1e6, strip_width=w), seed=0,
                  measure=standin_factory)
    swarm.run(4)
    traffic = swarm.traffic_per_tick()
    header = 13
    assert traffic["state"] == 3 * 2 * (header + 32 * w * 4)
    u = swarm.solver.u
    # K dt >> 1: each overlap relaxed to the neighbours' mean, so they match after exchange
    for i in range(3):
        j = (i + 1) % 3
        before = swarm.solver.u.copy()
        swarm.coupling.exchange(swarm, swarm.tick_seconds)
        u = swarm.solver.u
        mean = 0.5 * (before[i, :, -w:] + before[j, :, :w])
        np.testing.assert_allclose(u[i, :, -w:], mean, rtol=1e-5, atol=1e-6)
        swarm.tick_count += 1
    with pytest.raises(ConfigError, match="one process"):
        Swarm(3, SMALL, coupling=make_coupling("diffusive", 1.0), measure=standin_factory,
              agent_ids=(0, 1), coordinator=False)


def test_uncoupled_modes_leave_drives_alone() -> None:
    for mode in ("gain", "kuramoto", "ci-feedback", "common-drive", "diffusive"):
        swarm = Swarm(2, SMALL, coupling=0.0, coupling_mode=mode, seed=5,
                      measure=standin_factory).run(3)
        for agent in swarm.agents:
            np.testing.assert_array_equal(agent.frequency, agent.natural_frequency)
            assert agent.theta == agent.theta0


def test_an_aliased_swarm_says_so(caplog: pytest.LogCaptureFixture) -> None:
    averaged = Swarm(2, SMALL, seed=0, measure=standin_factory)
    assert not averaged.aliased and averaged.sampling()["ci_averaged_over_tick"]
    assert averaged.sampling()["frames_per_tick"] == SMALL.steps_per_tick  # dt is coarse here
    fine = Swarm(2, SwarmConfig(size=128, steps_per_tick=10), seed=0, measure=standin_factory)
    assert fine.measure_every > 1
    assert fine.sampling()["frames_per_fastest_period"] >= 4
    with caplog.at_level(logging.WARNING, logger="resonance_engine.swarm"):
        once = Swarm(2, SwarmConfig(size=32, steps_per_tick=8, ci_average=False), seed=0,
                     measure=standin_factory)
    assert once.aliased and once.sampling()["aliased"]
    assert "aliased" in caplog.text


def test_a_registered_mechanism_runs_by_name() -> None:
    @dataclass(frozen=True)
    class HalfGain(Coupling):
        mode: ClassVar[str] = "test-half-gain"
        unit: ClassVar[str] = "none"
        carries: ClassVar[str] = "nothing"

        def adapt(self, swarm: Any, aggregate: Any, t: float, dt: float) -> None:
            super().adapt(swarm, aggregate, t, dt)
            for agent in swarm.agents:
                agent.theta = self.clamp(math.log(0.5))

    register_coupling(HalfGain)
    try:
        swarm = Swarm(2, SMALL, coupling=1.0, coupling_mode="test-half-gain",
                      measure=standin_factory).run(2)
        assert all(a.gain == pytest.approx(0.5) for a in swarm.agents)
        with pytest.raises(ConfigError, match="registered already"):
            register_coupling(HalfGain)
    finally:
        del COUPLING_MODES["test-half-gain"]
