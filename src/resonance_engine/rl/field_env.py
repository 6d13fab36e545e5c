"""WaveFieldEnv: one wave field as a gymnasium environment.

A tick of the environment steps the field ``steps_per_tick`` solver steps (one compiled
call) and measures it once with the :class:`~resonance_engine.metrics.ComplexityAnalyzer`
(the same measure the swarm uses). The agent moves the drive of the field's sources
(:mod:`resonance_engine.rl.actions`) and observes the field's measures
(:mod:`resonance_engine.rl.features`).

Observation (float32, shape (13,), every entry in [-10, 10]):

====== ================================================================
0-4    features of (D, C, G, tau, CI) relative to the reference field
5-9    their change since the previous tick
10     ln(drive gain)
11     ln(frequency factor)
12     ln(target) (0 with ``reward="max"``)
====== ================================================================

Reward per tick, on the feature f of the measure ``reward_measure`` (CI by default; f is
``ln(CI / CI_reference)``, see the table above): ``reward="target"`` gives ``-|f - ln(target)|``
(0 when the measure is ``target`` times the reference's); ``reward="max"`` gives ``f``; both
minus ``action_cost * mean(a^2)``. (For D and C the feature is a difference, and the target
term ``-|f - ln(target)|`` still applies to it.)

An episode starts (``reset``) from a field at rest driven by the default pond of
:func:`resonance_engine.config.default_pond` with source phases drawn from the episode's
seed and a drive gain log-uniform in [1/gain_spread, gain_spread], runs ``warmup_ticks``
ticks without actions (a field growing from rest is not yet representative), and ends
with ``truncated`` after ``episode_ticks`` ticks, or with ``terminated`` if the field
diverges (reward -10 for that tick).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from resonance_engine.config import SimulationConfig, default_pond
from resonance_engine.errors import ConfigError, DivergenceError
from resonance_engine.field.solver import WaveSolver2D
from resonance_engine.loop import RunLoop
from resonance_engine.metrics import ComplexityAnalyzer, MeasureTracker, MetricsConfig
from resonance_engine.rl.actions import ACTION_SIZE, ActionLimits, DriveActuator
from resonance_engine.rl.features import (
    FEATURE_LIMIT,
    MEASURE_NAMES,
    MeasureReference,
    features,
    measure_vector,
)
from resonance_engine.swarm.agent import CouplingRule, SwarmAgent

__all__ = [
    "WaveFieldEnv",
    "measure_reference",
    "advance",
    "field_measure",
    "write_drive",
    "TRAINING_SEEDS",
]

#: Episode seeds drawn by ``reset()`` without a seed are below this; seeds from TRAINING_SEEDS
#: on are never met in training and serve as held-out seeds.
TRAINING_SEEDS = 2**31

RewardMode = Literal["target", "max"]


def advance(solver: WaveSolver2D, measure: MeasureTracker, steps: int) -> np.ndarray:
    """One environment tick of a field: ``steps`` solver steps through the run loop
    (:class:`~resonance_engine.loop.RunLoop`, one compiled call) and one measurement by the
    loop's :class:`~resonance_engine.metrics.MeasureTracker` at the end.

    Returns
    -------
    ndarray, shape (5,)
        (D, C, G, tau, CI) (order of :data:`~resonance_engine.rl.features.MEASURE_NAMES`).

    Raises
    ------
    KeyboardInterrupt
        When the loop was interrupted.
    """
    run = RunLoop(solver, [measure], steps=steps).run()
    if run.status == "interrupted":
        raise KeyboardInterrupt
    return measure_vector(measure.history[-1])


def field_measure(metrics: dict[str, Any] | None, steps: int) -> MeasureTracker:
    """A fresh measuring tracker (its analyzer holds the dwell history of one episode)."""
    analyzer = ComplexityAnalyzer(MetricsConfig(**(metrics or {})))
    return MeasureTracker(analyzer, interval=steps, keep_history=False)


def measure_reference(
    simulation: SimulationConfig,
    steps_per_tick: int,
    warmup_ticks: int,
    metrics: dict[str, Any] | None = None,
    ticks: int = 16,
) -> MeasureReference:
    """Measures of the nominal field (the scenario as given, gain 1): medians over
    ``ticks`` ticks after ``warmup_ticks`` ticks."""
    solver = simulation.build()
    measure = field_measure(metrics, steps_per_tick)
    rows = [advance(solver, measure, steps_per_tick) for _ in range(warmup_ticks + ticks)]
    return MeasureReference.from_values(np.array(rows[warmup_ticks:]))


def write_drive(solver: WaveSolver2D, agents: list[SwarmAgent]) -> None:
    """Hand each agent's drive (gain, frequency, phase now) to its solver member for the
    next tick (what the swarm does for its agents)."""
    t0 = solver.t
    for agent in agents:
        m = agent.member
        solver.drive_amplitude[m] = agent.amplitude
        solver.drive_frequency[m] = agent.frequency
        solver.drive_phase[m] = agent.phase - 2 * np.pi * agent.frequency * t0


class WaveFieldEnv(gym.Env[np.ndarray, np.ndarray]):
    """One driven wave field; the agent moves its drive to steer its complexity index.

    Parameters
    ----------
    size : int
        Cells per side of the default pond (>= 16).
    steps_per_tick : int
        Solver steps per environment step.
    episode_ticks : int
        Environment steps per episode (then ``truncated``).
    warmup_ticks : int
        Ticks run by ``reset`` before the first observation.
    reward : {"target", "max"}
        Track ``target`` x the reference CI, or maximise CI (see the module docstring).
    target : float
        Target as a multiple of the reference field's value of the measure (> 0).
    reward_measure : {"ci", "gain", "fractal_dim", "coherence", "dwell"}
        The measure the reward is computed on (default CI).
    action_cost : float
        Weight of ``mean(a^2)`` subtracted from the reward.
    gain_spread : float
        Initial drive gain log-uniform in [1/gain_spread, gain_spread] (>= 1).
    limits : ActionLimits or dict, optional
        Scale and bounds of the actions (a dict: ActionLimits keyword arguments).
    metrics : dict, optional
        ``MetricsConfig`` keyword arguments of the measure.
    backend : str
        Solver backend ("auto", "numba", "numpy").
    simulation : SimulationConfig, optional
        Scenario instead of ``default_pond(size, seed)``; then the episode seed draws only
        the initial gain.
    reference : MeasureReference, optional
        Scales of the observation; measured on the nominal field when not given.
    render_mode : None
        No rendering (``metadata["render_modes"]`` is empty).

    Examples
    --------
    >>> env = WaveFieldEnv(size=48, episode_ticks=8)          # doctest: +SKIP
    >>> obs, info = env.reset(seed=1)                        # doctest: +SKIP
    >>> obs, reward, terminated, truncated, info = env.step(
    ...     env.action_space.sample())                       # doctest: +SKIP
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        size: int = 64,
        steps_per_tick: int = 10,
        episode_ticks: int = 64,
        warmup_ticks: int = 20,
        reward: RewardMode = "target",
        target: float = 2.0,
        reward_measure: str = "ci",
        action_cost: float = 0.01,
        gain_spread: float = 2.0,
        limits: ActionLimits | dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        backend: str = "auto",
        simulation: SimulationConfig | None = None,
        reference: MeasureReference | None = None,
        render_mode: None = None,
    ) -> None:
        if reward_measure not in MEASURE_NAMES:
            raise ConfigError(
                f"reward_measure must be one of {', '.join(MEASURE_NAMES)}, got {reward_measure!r}"
            )
        if reward not in ("target", "max"):
            raise ConfigError(f"reward must be 'target' or 'max', got {reward!r}")
        for name, value, low in (
            ("steps_per_tick", steps_per_tick, 1),
            ("episode_ticks", episode_ticks, 1),
            ("warmup_ticks", warmup_ticks, 0),
        ):
            if not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        if not (math.isfinite(target) and target > 0):
            raise ConfigError(
                f"target must be a finite multiple of the reference CI > 0, got {target!r}"
            )
        if not (math.isfinite(action_cost) and action_cost >= 0):
            raise ConfigError(f"action_cost must be finite and >= 0, got {action_cost!r}")
        if not (math.isfinite(gain_spread) and gain_spread >= 1):
            raise ConfigError(f"gain_spread must be >= 1, got {gain_spread!r}")
        if render_mode is not None:
            raise ConfigError(f"WaveFieldEnv has no render modes, got render_mode={render_mode!r}")
        if simulation is None and size < 16:
            raise ConfigError(f"size must be >= 16 cells, got {size}")
        self.size = size
        self.steps_per_tick = steps_per_tick
        self.episode_ticks = episode_ticks
        self.warmup_ticks = warmup_ticks
        self.reward_mode: RewardMode = reward
        self.target = float(target)
        self.reward_measure = reward_measure
        self._reward_index = MEASURE_NAMES.index(reward_measure)
        self.action_cost = float(action_cost)
        self.gain_spread = float(gain_spread)
        self.limits = limits if isinstance(limits, ActionLimits) else ActionLimits(**(limits or {}))
        self.metrics = dict(metrics or {})
        self.backend = backend
        self.simulation = simulation
        self.render_mode = render_mode
        self.reference = reference or measure_reference(
            self._scenario(0), steps_per_tick, warmup_ticks, self.metrics
        )
        self.observation_space = gym.spaces.Box(-FEATURE_LIMIT, FEATURE_LIMIT, (13,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_SIZE,), np.float32)
        self._solver: WaveSolver2D | None = None
        self._actuator: DriveActuator | None = None
        self._agent: SwarmAgent | None = None

    # ------------------------------------------------------------------ episode
    def _scenario(self, seed: int) -> SimulationConfig:
        base = self.simulation if self.simulation is not None else default_pond(self.size, seed)
        return base.model_copy(update={"backend": self.backend})

    def _observation(self) -> np.ndarray:
        assert self._actuator is not None
        obs = np.empty(13, dtype=np.float64)
        obs[0:5] = self._features
        obs[5:10] = self._features - self._previous
        obs[10] = self._actuator.theta[0]
        obs[11] = self._actuator.log_frequency[0]
        obs[12] = math.log(self.target) if self.reward_mode == "target" else 0.0
        return np.clip(obs, -FEATURE_LIMIT, FEATURE_LIMIT).astype(np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode.

        ``seed`` is this episode's seed and restarts the stream the seeds of the following
        episodes (reset without a seed) are drawn from, in [0, TRAINING_SEEDS).
        ``options={"target": x}`` sets the target for this and the following episodes.
        """
        super().reset(seed=seed)
        if options and "target" in options:
            target = float(options["target"])
            if not (math.isfinite(target) and target > 0):
                raise ConfigError(f"options['target'] must be finite and > 0, got {target!r}")
            self.target = target
        self.episode_seed = (
            int(seed) if seed is not None else int(self.np_random.integers(0, TRAINING_SEEDS))
        )
        rng = np.random.default_rng(self.episode_seed)
        solver = self._scenario(self.episode_seed).build()
        spread = math.log(self.gain_spread)
        lim = self.limits
        agent = SwarmAgent(
            0,
            0,
            solver.drive_amplitude[0],
            float(rng.uniform(-spread, spread)),
            CouplingRule(0.0, gain_min=lim.gain_min, gain_max=lim.gain_max),
            natural_frequency=solver.drive_frequency[0],
            phase=solver.drive_phase[0],
        )
        self._solver, self._agent = solver, agent
        self._measure = field_measure(self.metrics, self.steps_per_tick)
        self._actuator = DriveActuator([agent], lim)
        self._features = np.zeros(5)
        for _ in range(max(1, self.warmup_ticks)):
            self._previous = self._features
            self._features = features(self._tick(), self.reference)
        self.tick = 0
        return self._observation(), self._info(0, 0.0)

    def _tick(self) -> np.ndarray:
        assert self._solver is not None and self._agent is not None
        write_drive(self._solver, [self._agent])
        values = advance(self._solver, self._measure, self.steps_per_tick)
        self._agent.advance(self.steps_per_tick * self._solver.dt)
        return values

    def _info(self, invalid: int, cost: float) -> dict[str, Any]:
        assert self._actuator is not None and self._solver is not None
        return {
            "episode_seed": self.episode_seed,
            "ci_feature": float(self._features[4]),
            "reward_feature": float(self._features[self._reward_index]),
            "gain": float(math.exp(self._actuator.theta[0])),
            "frequency_factor": float(math.exp(self._actuator.log_frequency[0])),
            "invalid_actions": invalid,
            "action_cost": cost,
            "t": self._solver.t,
        }

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` (3 numbers in [-1, 1]), run one tick, return the gymnasium 5-tuple."""
        if self._solver is None or self._actuator is None:
            raise ConfigError("call reset() before step()")
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        applied, invalid = self._actuator.apply(
            a[None] if a.shape == (ACTION_SIZE,) else np.full((1, ACTION_SIZE), np.nan)
        )
        cost = self.action_cost * float(np.mean(applied**2))
        self.tick += 1
        truncated = self.tick >= self.episode_ticks
        try:
            values = self._tick()
        except DivergenceError:
            return self._observation(), -FEATURE_LIMIT, True, truncated, self._info(invalid, cost)
        if not np.isfinite(values[[2, 3]]).all():  # G and tau are defined for any finite field
            return self._observation(), -FEATURE_LIMIT, True, truncated, self._info(invalid, cost)
        self._previous, self._features = self._features, features(values, self.reference)
        value = self._features[self._reward_index]
        if self.reward_mode == "target":
            reward = -abs(value - math.log(self.target))
        else:
            reward = float(value)
        return (
            self._observation(),
            float(reward - cost),
            False,
            truncated,
            self._info(invalid, cost),
        )

    def close(self) -> None:
        self._solver = self._actuator = self._agent = None
