"""Actions: bounded drive changes, invalid actions clipped or refused, continuous drives."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resonance_engine.errors import ConfigError
from resonance_engine.rl.actions import ActionLimits, DriveActuator, sanitize_actions
from resonance_engine.rl.features import FEATURE_LIMIT, MeasureReference, features
from resonance_engine.swarm.agent import CouplingRule, SwarmAgent


def test_clip_mode_clips_out_of_bounds_and_zeroes_nan() -> None:
    clean, invalid = sanitize_actions(
        np.array([[2.0, -3.0, 0.5], [np.nan, 0.2, np.inf], [0.1, 0.2, 0.3]])
    )
    np.testing.assert_array_equal(clean, [[1.0, -1.0, 0.5], [0.0, 0.2, 0.0], [0.1, 0.2, 0.3]])
    assert invalid == 2


def test_refuse_mode_ignores_a_whole_invalid_row() -> None:
    clean, invalid = sanitize_actions(np.array([[2.0, 0.1, 0.1], [0.1, 0.2, 0.3]]), "refuse")
    np.testing.assert_array_equal(clean, [[0.0, 0.0, 0.0], [0.1, 0.2, 0.3]])
    assert invalid == 1


def test_wrong_shape_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"shape \(n, 3\)"):
        sanitize_actions(np.zeros((2, 4)))


def test_limits_are_validated() -> None:
    with pytest.raises(ConfigError, match="gain_min"):
        ActionLimits(gain_min=2.0)
    with pytest.raises(ConfigError, match="invalid"):
        ActionLimits(invalid="ignore")  # type: ignore[arg-type]


def _agents(n: int) -> list[SwarmAgent]:
    return [
        SwarmAgent(
            i,
            i,
            np.ones(3),
            0.0,
            CouplingRule(0.0),
            natural_frequency=np.array([10.0, 13.0, 17.0]),
            phase=np.zeros(3),
        )
        for i in range(n)
    ]


def test_actuator_moves_the_drive_by_the_scaled_action_and_keeps_the_bounds() -> None:
    agents = _agents(2)
    act = DriveActuator(agents, ActionLimits(gain_step=0.5, frequency_step=0.1, phase_step=0.3))
    act.apply(np.array([[1.0, 1.0, 1.0], [-1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(act.theta, [0.5, -0.5])
    np.testing.assert_allclose(agents[0].frequency, np.array([10.0, 13.0, 17.0]) * math.exp(0.1))
    np.testing.assert_allclose(agents[0].phase, 0.3)
    np.testing.assert_allclose(agents[1].frequency, [10.0, 13.0, 17.0])
    for _ in range(20):
        act.apply(np.array([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]))
    np.testing.assert_allclose(np.exp(act.theta), [4.0, 0.25])
    np.testing.assert_allclose(act.log_frequency, [math.log(2.0), math.log(0.5)])
    np.testing.assert_allclose(agents[1].natural_frequency, [5.0, 6.5, 8.5])
    assert ((agents[0].phase >= 0) & (agents[0].phase < 2 * np.pi)).all()


def test_actuator_reads_the_drive_afresh_after_a_coupling_moved_it() -> None:
    agents = _agents(1)
    act = DriveActuator(agents, ActionLimits(gain_step=0.1))
    agents[0].theta = 0.7  # e.g. the swarm's coupling after a tick
    act.apply(np.array([[1.0, 0.0, 0.0]]))
    assert agents[0].theta == pytest.approx(0.8)


def test_features_are_finite_and_bounded_for_any_measure() -> None:
    ref = MeasureReference(fractal_dim=1.5, coherence=0.5, gain=2.0, dwell=1.0, ci=0.1)
    values = np.array([[1.7, 0.6, 4.0, math.e, 0.1], [np.nan, np.inf, 0.0, -1.0, 1e300]])
    out = features(values, ref)
    np.testing.assert_allclose(out[0], [0.2, 0.1, math.log(2.0), 1.0, 0.0], atol=1e-12)
    assert np.isfinite(out).all() and np.abs(out).max() <= FEATURE_LIMIT
    assert out[1, 2] == -FEATURE_LIMIT  # G = 0: the weakest value, not "unknown"
    assert out[1, 4] == FEATURE_LIMIT


def test_per_source_nudges_move_each_phase_by_its_own_action_over_one_tick() -> None:
    """A per-source action (gain, frequency, one nudge per source) advances source k's
    phase by a_k phase_step over the next tick, continuously (through that tick's
    frequency), and leaves the natural frequencies alone."""
    nudged, still = _agents(2)
    dt = 0.2
    act = DriveActuator([nudged, still], ActionLimits(phase_step=0.3), "per-source", dt)
    assert act.size == 5
    act.apply(np.array([[0.0, 0.0, 1.0, -0.5, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(nudged.natural_frequency, still.natural_frequency)
    for agent in (nudged, still):
        agent.advance(dt)
    gap = np.angle(np.exp(1j * (nudged.phase - still.phase)))
    np.testing.assert_allclose(gap, [0.3, -0.15, 0.0], atol=1e-12)
    with pytest.raises(ConfigError, match="shape"):
        act.apply(np.zeros((2, 3)))
    with pytest.raises(ConfigError, match="tick_seconds"):
        DriveActuator(_agents(1), ActionLimits(), "per-source")
