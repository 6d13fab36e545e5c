"""SwarmEnv: a swarm of wave-field agents as a PettingZoo ParallelEnv.

Each PettingZoo agent is one swarm member (``"agent_0"`` ... ``"agent_{n-1}"``). All
members live in one :class:`~resonance_engine.swarm.batched.Swarm`, whose fields are ONE
batched :class:`~resonance_engine.field.solver.WaveSolver2D`: an environment step is one
swarm tick, i.e. one compiled stepping call for every field, one batched measurement, every
agent's 64-byte signature published on the in-process bus, and the coordinator's CS update.

What an agent observes (float32, shape (22,), entries in [-10, 10]) is only what it would
have in a distributed swarm: its own signature and the swarm's aggregate signature as
heard on the bus, never another agent's state:

====== ================================================================
0-4    features of its own (D, C, G, tau, CI) (see :mod:`~resonance_engine.rl.features`)
5-9    their change since the previous tick
10-14  features of the swarm aggregate (mean signature over the agents)
15-19  their change since the previous tick
20     ln(own drive gain)
21     ln(own frequency factor)
====== ================================================================

With ``observation="drive"`` (shape (23 + 2 n,), n the sources per agent) the signatures
carry each agent's drive frequency and source phases (the version-2 payload that the
``kuramoto`` coupling exchanges: **a drive phase is agent state**), and the agent also
observes, from its own signature and the aggregate:

============== ==========================================================
22             ln(W / w_i) / FREQUENCY_UNIT: the swarm's mean drive frequency W
               against its own w_i (source 0, rad/s), in units of 2 %
23 .. 22+n     R_k sin(Psi_k - phi_ik): the gap of its source k's phase phi_ik
               to the swarm's mean drive phasor R_k exp(i Psi_k)
23+n .. 22+2n  R_k cos(Psi_k - phi_ik)
============== ==========================================================

(the quantities of Kuramoto's rule: its pull on phase k is K R_k sin(Psi_k - phi_ik)). The
drive payload needs a coupling whose signatures carry it: ``coupling=0`` becomes the
``kuramoto`` mode at K = 0 (which moves nothing; its signatures carry the payload), and a
non-zero coupling must be one that shares the drive (``kuramoto``).

An action moves the agent's own drive (:mod:`~resonance_engine.rl.actions`): ``action=
"global"`` (the default) moves gain, frequency and all phases together; ``"per-source"``
moves gain and frequency and nudges each source's phase on its own (what a policy needs
to line every source up with the swarm's). The swarm's own coupling rule (``coupling``;
0 = none) still acts after each tick, so a policy can be trained on top of a hand-written
coupling or alone.

Reward (``reward=``, :data:`REWARD_MODES`):

================== ====================================================================
``shared``         (the default) every agent gets the swarm's CS, the mean pairwise Pearson
                   correlation of the agents' CI series over the last ``window`` ticks (0
                   while undefined), minus ``action_cost * mean(a^2)`` averaged over the
                   agents
``per_agent``      each agent gets its own mean correlation with the others minus its own
                   action cost
``diff``           as ``shared``, but of the *differenced* CI series (CI(t) - CI(t-1) over
                   the last ``window`` differences): a common trend (every agent lowering
                   its gain, every drive drifting the same way) makes the CI series
                   themselves correlate without any coordination, while its differences
                   are then nearly constant plus each agent's own fluctuations, which do
                   not correlate; only fluctuations that move together score
``diff_per_agent`` each agent's own mean correlation of differenced series, own cost
================== ====================================================================

``order_weight`` (default 0) adds a *shaping* term to every agent's reward: ``order_weight``
times the Kuramoto order parameter R of the agents' drive phases, averaged over the
sources (1 when every source is phase-locked across the swarm, about 1/sqrt(n) when the
phases are independent). It is computed by the environment from the agents' drives (the
trainer's view), not from what an agent observes; it pays the mechanism by which the
hand-written couplings synchronize, not CS itself, and evaluation reports CS separately.
With ``order_reward="own"`` each agent is paid for its own part in that order instead:
its alignment ``mean_k R_k cos(Psi_k - phi_ik)`` with the swarm's mean phase Psi_k of
every source k (R_k at most, R_k^2 on average over the agents, negative when it is
opposite), so an agent's shaping moves with its own phase rather than with everyone's.
``cs="mdea"`` replaces the Pearson CS by the MDEA-based CS of the whole episode, paid once
at its last tick (the MDEA fit needs long series; ``mdea`` sets its windows; shared only).
Every step's info holds the windowed Pearson CS (``cs``), the CS term that was paid
(``score``, the swarm-wide value) and R (``order``).

An episode (``reset``) builds the swarm's agents from the episode seed (the heterogeneous
drive gains, frequencies, phases and damping of :class:`~resonance_engine.swarm.batched.Swarm`),
runs ``warmup_ticks`` ticks without actions, starts the coordinator's window afresh and ends
with ``truncated`` for every agent after ``episode_ticks`` ticks, or ``terminated`` if a field
diverges (reward -10).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from pettingzoo import ParallelEnv

from resonance_engine.errors import ConfigError, DivergenceError, MetricError
from resonance_engine.loop import Callback
from resonance_engine.oscillators.phase import order_parameter
from resonance_engine.rl.actions import ActionLimits, ActionMode, DriveActuator, action_size
from resonance_engine.rl.features import FEATURE_LIMIT, MeasureReference, features
from resonance_engine.rl.field_env import TRAINING_SEEDS, measure_reference
from resonance_engine.swarm.agent import SwarmAggregate
from resonance_engine.swarm.batched import Swarm, SwarmConfig
from resonance_engine.swarm.coordinator import SwarmCoordinator
from resonance_engine.swarm.coupling import Coupling, make_coupling
from resonance_engine.swarm.health import HealthThresholds
from resonance_engine.swarm.measure import AnalyzerMeasure
from resonance_engine.swarm.signature import MAX_DRIVE_PHASES
from resonance_engine.swarm.sync import MDEAConfig

__all__ = [
    "SwarmEnv",
    "SwarmObserver",
    "SWARM_OBSERVATION_SIZE",
    "OBSERVATION_MODES",
    "FREQUENCY_UNIT",
    "observation_size",
    "REWARD_MODES",
    "ORDER_REWARDS",
    "window_correlations",
]

#: Length of one agent's observation with ``observation="measures"``.
SWARM_OBSERVATION_SIZE = 22
#: What an agent observes: its measures and the aggregate's, or those plus the drive gaps.
OBSERVATION_MODES = ("measures", "drive")
#: Unit of the observed frequency gap ln(W / w_i) (2 %, the default frequency step).
FREQUENCY_UNIT = 0.02

ObservationMode = Literal["measures", "drive"]
#: What the swarm's reward pays (module docs): raw or differenced CI series, shared or own.
REWARD_MODES = ("shared", "per_agent", "diff", "diff_per_agent")
RewardMode = Literal["shared", "per_agent", "diff", "diff_per_agent"]
#: Whom the order shaping pays (module docs): every agent the swarm's R, or each its own part.
ORDER_REWARDS = ("shared", "own")
OrderReward = Literal["shared", "own"]


def observation_size(mode: ObservationMode, n_sources: int) -> int:
    """Length of an agent's observation of ``mode`` with ``n_sources`` sources per agent."""
    if mode not in OBSERVATION_MODES:
        raise ConfigError(
            f"observation must be one of {', '.join(OBSERVATION_MODES)}, got {mode!r}"
        )
    return SWARM_OBSERVATION_SIZE + (1 + 2 * int(n_sources) if mode == "drive" else 0)


def window_correlations(series: np.ndarray, differenced: bool = False) -> np.ndarray:
    """Pearson correlations between the columns of ``series`` (T, n), or of their first
    differences along T, shape (n, n); NaN on the diagonal and wherever a column is
    constant or fewer than 3 rows are left.

    Examples
    --------
    A common trend correlates the series but not their differences:

    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(32.0)[:, None]
    >>> trend = t + rng.normal(0, 0.5, (32, 3))
    >>> bool(np.nanmean(window_correlations(trend)) > 0.9)
    True
    >>> bool(abs(np.nanmean(window_correlations(trend, differenced=True))) < 0.3)
    True
    """
    x = np.asarray(series, dtype=np.float64)
    if differenced:
        x = np.diff(x, axis=0)
    n = x.shape[1] if x.ndim == 2 else 0
    corr = np.full((n, n), np.nan)
    if x.ndim != 2 or x.shape[0] < 3 or n < 2:
        return corr
    x = x - x.mean(axis=0)
    norm = np.sqrt(np.sum(x * x, axis=0))
    scale = np.sqrt(x.shape[0]) * np.max(np.abs(x), axis=0, initial=0.0)
    ok = norm > 1e-9 * np.maximum(scale, np.finfo(float).tiny)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(ok, x / norm, np.nan)
    corr = np.clip(z.T @ z, -1.0, 1.0)
    np.fill_diagonal(corr, np.nan)
    return corr


def _aggregate_vector(aggregate: SwarmAggregate | None) -> np.ndarray:
    if aggregate is None:
        return np.full(5, np.nan)
    return np.array(
        [aggregate.fractal_dim, aggregate.coherence, aggregate.gain, aggregate.dwell, aggregate.ci]
    )


class SwarmObserver:
    """Builds the agents' observations from what each one hears on the bus.

    Shared by :class:`SwarmEnv` and the trained-policy controller, so that a policy sees
    in ``resonance swarm`` exactly what it saw in training.

    Parameters
    ----------
    reference : MeasureReference
    n_agents : int
        Agents hosted here.
    mode : {"measures", "drive"}
        ``drive`` adds the drive gaps read from the signatures' drive payload (module docs).
    n_sources : int
        Sources per agent (the length of the drive part).
    """

    def __init__(
        self,
        reference: MeasureReference,
        n_agents: int,
        mode: ObservationMode = "measures",
        n_sources: int = 0,
    ) -> None:
        self.reference = reference
        self.mode = mode
        self.size = observation_size(mode, n_sources)
        self.n_sources = int(n_sources)
        self._own = np.zeros((n_agents, 5))
        self._own_prev = np.zeros((n_agents, 5))
        self._agg = np.zeros(5)
        self._agg_prev = np.zeros(5)
        self._drive = np.zeros((n_agents, self.size - SWARM_OBSERVATION_SIZE))

    def update(self, swarm: Swarm, aggregate: SwarmAggregate | None) -> None:
        """Take the tick just run: the agents' last signatures and the aggregate."""
        sigs = [agent.last for agent in swarm.agents]
        own = np.array(
            [
                [s.fractal_dim, s.coherence, s.gain, s.dwell, s.ci] if s is not None
                else [np.nan] * 5
                for s in sigs
            ]
        )
        self._own_prev, self._own = self._own, features(own, self.reference)
        self._agg_prev, self._agg = (
            self._agg,
            features(_aggregate_vector(aggregate), self.reference),
        )
        if self.mode == "drive":
            self._drive = self._drive_gaps(sigs, aggregate)

    def _drive_gaps(self, sigs: list[Any], aggregate: SwarmAggregate | None) -> np.ndarray:
        """Frequency gap and R sin / R cos of each source's phase gap (0 where unheard)."""
        n = self.n_sources
        out = np.zeros((len(sigs), 1 + 2 * n))
        if aggregate is None or aggregate.drive_phasor is None:
            return out
        z = np.zeros(n, dtype=complex)
        heard = np.asarray(aggregate.drive_phasor)[:n]
        z[: heard.size] = heard
        for i, sig in enumerate(sigs):
            if sig is None or len(sig.drive_phases) < n or not sig.drive_omega > 0:
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                out[i, 0] = math.log(aggregate.drive_omega / sig.drive_omega) / FREQUENCY_UNIT
            gap = z * np.exp(-1j * np.asarray(sig.drive_phases[:n]))  # R_k exp(i(Psi_k - phi_k))
            out[i, 1 : 1 + n] = gap.imag
            out[i, 1 + n :] = gap.real
        return np.nan_to_num(out)

    def observations(self, theta: np.ndarray, log_frequency: np.ndarray) -> np.ndarray:
        """Every local agent's observation, float32 of shape (agents, size)."""
        n = self._own.shape[0]
        obs = np.empty((n, self.size))
        obs[:, 0:5] = self._own
        obs[:, 5:10] = self._own - self._own_prev
        obs[:, 10:15] = self._agg
        obs[:, 15:20] = self._agg - self._agg_prev
        obs[:, 20] = theta
        obs[:, 21] = log_frequency
        obs[:, SWARM_OBSERVATION_SIZE:] = self._drive
        return np.clip(obs, -FEATURE_LIMIT, FEATURE_LIMIT).astype(np.float32)


class SwarmEnv(ParallelEnv[str, np.ndarray, np.ndarray]):
    """N wave-field agents that learn to synchronize their complexity (see module docs).

    Parameters
    ----------
    n_agents : int
        Agents (>= 2).
    size : int
        Cells per side of every agent's field (>= 16).
    steps_per_tick : int
        Solver steps per environment step.
    episode_ticks : int
        Environment steps per episode.
    warmup_ticks : int
        Ticks run by ``reset`` before the first observation.
    window : int
        CS window in ticks (>= 3).
    coupling : float or Coupling
        Strength K of the swarm's own coupling acting after every tick (0: none), or a
        :class:`~resonance_engine.swarm.coupling.Coupling`.
    coupling_mode : str
        Mechanism of a numeric ``coupling`` ("gain", "kuramoto", "ci-feedback",
        "common-drive", "diffusive"; see :mod:`resonance_engine.swarm.coupling`).
    reward : {"shared", "per_agent", "diff", "diff_per_agent"}
        What the CS term pays (module docs; :data:`REWARD_MODES`).
    order_weight : float
        Weight (>= 0) of the shaping term: the drive phases' order parameter R (module docs).
    order_reward : {"shared", "own"}
        Whether the shaping pays every agent the swarm's R (default) or each agent its own
        alignment with the swarm's mean phases (module docs; :data:`ORDER_REWARDS`).
    cs : {"pearson", "mdea"}
    action_cost : float
        Weight of ``mean(a^2)``.
    limits : ActionLimits or dict, optional
        Scale and bounds of the actions (a dict: ActionLimits keyword arguments).
    metrics : dict, optional
        ``MetricsConfig`` keyword arguments of the measure.
    swarm : dict, optional
        More :class:`~resonance_engine.swarm.batched.SwarmConfig` fields (spreads of the
        agents' parameters, ``noise``, ``backend``).
    mdea : MDEAConfig, optional
        Windows of the MDEA fit with ``cs="mdea"`` (the episode must be at least
        ``window + 2 hop`` ticks long).
    reference : MeasureReference, optional
        Scales of the observations; measured on the nominal field when not given.
    observation : {"measures", "drive"}
        What an agent observes (module docs): its signature's measures and the aggregate's
        (default), or those plus its drive's frequency and phase gaps to the swarm's.
    action : {"global", "per-source"}
        Layout of an action (:mod:`~resonance_engine.rl.actions`): gain, frequency and one
        common phase jump (default), or gain, frequency and one phase nudge per source.
    render_mode : None
    """

    metadata: dict[str, Any] = {
        "name": "resonance_swarm_v0",
        "render_modes": [],
        "is_parallelizable": True,
    }

    def __init__(
        self,
        n_agents: int = 8,
        size: int = 64,
        steps_per_tick: int = 10,
        episode_ticks: int = 64,
        warmup_ticks: int = 20,
        window: int = 16,
        coupling: float | Coupling = 0.0,
        coupling_mode: str = "gain",
        reward: RewardMode = "shared",
        cs: Literal["pearson", "mdea"] = "pearson",
        action_cost: float = 0.01,
        limits: ActionLimits | dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        swarm: dict[str, Any] | None = None,
        mdea: MDEAConfig | None = None,
        reference: MeasureReference | None = None,
        observation: ObservationMode = "measures",
        action: ActionMode = "global",
        render_mode: None = None,
        order_weight: float = 0.0,
        order_reward: OrderReward = "shared",
    ) -> None:
        if not isinstance(n_agents, int) or n_agents < 2:
            raise ConfigError(f"SwarmEnv needs n_agents >= 2, got {n_agents!r}")
        if reward not in REWARD_MODES:
            raise ConfigError(
                f"reward must be one of {', '.join(REWARD_MODES)} (SwarmEnv), got {reward!r}"
            )
        if order_reward not in ORDER_REWARDS:
            raise ConfigError(
                f"order_reward must be one of {', '.join(ORDER_REWARDS)} (SwarmEnv), "
                f"got {order_reward!r}"
            )
        if cs not in ("pearson", "mdea"):
            raise ConfigError(f"cs must be 'pearson' or 'mdea', got {cs!r}")
        if cs == "mdea" and reward != "shared":
            raise ConfigError("cs='mdea' is a swarm-wide score: use it with reward='shared'")
        for name, value, low in (
            ("episode_ticks", episode_ticks, 1),
            ("warmup_ticks", warmup_ticks, 0),
        ):
            if not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        for name, weight in (("action_cost", action_cost), ("order_weight", order_weight)):
            if not (isinstance(weight, (int, float)) and math.isfinite(weight) and weight >= 0):
                raise ConfigError(f"{name} must be a finite number >= 0, got {weight!r}")
        if render_mode is not None:
            raise ConfigError(f"SwarmEnv has no render modes, got render_mode={render_mode!r}")
        self.mdea = mdea or MDEAConfig()
        if cs == "mdea" and episode_ticks < self.mdea.window + 2 * self.mdea.hop:
            raise ConfigError(
                f"cs='mdea' needs episode_ticks >= MDEA window + 2 hop = "
                f"{self.mdea.window + 2 * self.mdea.hop}, got {episode_ticks}; lengthen the "
                "episode or pass a shorter mdea=MDEAConfig(window=..., hop=...)"
            )
        try:
            self.swarm_config = SwarmConfig(
                size=size, steps_per_tick=steps_per_tick, window=window, **(swarm or {})
            )
        except TypeError as exc:
            raise ConfigError(f"unknown SwarmConfig field in swarm={swarm!r}: {exc}") from None
        self.n_agents = n_agents
        self.episode_ticks = episode_ticks
        self.warmup_ticks = warmup_ticks
        self.coupling = (
            coupling if isinstance(coupling, Coupling) else make_coupling(coupling_mode, coupling)
        )
        self.n_sources = len(self.swarm_config.base_simulation(0).sources)
        self.observation_size = observation_size(observation, self.n_sources)
        self.action_size = action_size(action, self.n_sources)
        self.observation_mode = observation
        self.action_mode = action
        if self.n_sources > MAX_DRIVE_PHASES and observation == "drive":
            raise ConfigError(
                f"observation='drive' reads at most {MAX_DRIVE_PHASES} source phases from a "
                f"signature, the scenario has {self.n_sources} sources; use fewer sources"
            )
        if observation == "drive" and not self.coupling.shares_drive:
            if self.coupling.strength != 0:
                raise ConfigError(
                    f"observation='drive' reads the drive phases from the signatures, which "
                    f"the {self.coupling.mode!r} coupling does not send; use coupling=0 or a "
                    "coupling that shares the drive (coupling_mode='kuramoto')"
                )
            # K = 0 moves nothing in any mode; kuramoto's signatures carry the drive payload
            self.coupling = make_coupling("kuramoto", 0.0)
        self.reward_mode = reward
        self.cs_mode = cs
        self.action_cost = float(action_cost)
        self.order_weight = float(order_weight)
        self.order_reward = order_reward
        self.limits = limits if isinstance(limits, ActionLimits) else ActionLimits(**(limits or {}))
        self.measure_factory = AnalyzerMeasure.with_config(**(metrics or {}))
        self.render_mode = render_mode
        cfg = self.swarm_config
        self.reference = reference or measure_reference(
            cfg.base_simulation(0).model_copy(update={"backend": cfg.backend}),
            steps_per_tick,
            warmup_ticks,
            metrics,
        )
        self.possible_agents = [f"agent_{i}" for i in range(n_agents)]
        self._observation_space = gym.spaces.Box(
            -FEATURE_LIMIT, FEATURE_LIMIT, (self.observation_size,), np.float32
        )
        self._action_space = gym.spaces.Box(-1.0, 1.0, (self.action_size,), np.float32)
        self.agents: list[str] = []
        self._rng = np.random.default_rng()
        self.swarm: Swarm | None = None
        self.episode_seed = -1

    # ------------------------------------------------------------------ spaces
    def observation_space(self, agent: str) -> gym.spaces.Box:
        return self._observation_space

    def action_space(self, agent: str) -> gym.spaces.Box:
        return self._action_space

    # ------------------------------------------------------------------ episode
    def _new_swarm(self, seed: int) -> Swarm:
        swarm = Swarm(
            self.n_agents,
            self.swarm_config,
            coupling=self.coupling,
            seed=seed,
            measure=self.measure_factory,
        )
        # RL episodes are expected to be unsynchronized: no health alerts in the log
        swarm.coordinator = SwarmCoordinator(
            self.n_agents,
            window=self.swarm_config.window,
            thresholds=HealthThresholds(cs_min=-1.0, bs_min=-1.0),
            mdea=self.mdea,
        )
        return swarm

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Start an episode: new agents from the episode seed, warm-up, fresh CS window.

        ``seed`` is this episode's seed and restarts the stream the seeds of the following
        episodes (reset without a seed) are drawn from, in [0, TRAINING_SEEDS);
        ``options`` is accepted and unused.
        """
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self.episode_seed = int(seed)
        else:
            self.episode_seed = int(self._rng.integers(0, TRAINING_SEEDS))
        if self.swarm is not None:
            self.swarm.close()
        swarm = self._new_swarm(self.episode_seed)
        self.swarm = swarm
        self.observer = SwarmObserver(
            self.reference, self.n_agents, self.observation_mode, self.n_sources
        )
        observe = Callback(lambda s, t: self.observer.update(s, s.last_tick.aggregate), 1)
        swarm.run(max(1, self.warmup_ticks), trackers=[observe])
        swarm.reset_coordinator()
        self.actuator = DriveActuator(
            swarm.agents, self.limits, self.action_mode, swarm.tick_seconds
        )
        self.tick = 0
        self.agents = list(self.possible_agents)
        obs = self.observer.observations(self.actuator.theta, self.actuator.log_frequency)
        infos = {a: {"episode_seed": self.episode_seed} for a in self.agents}
        return dict(zip(self.agents, obs, strict=True)), infos

    def _cs_rewards(self, truncated: bool) -> tuple[np.ndarray, float, float]:
        """Per-agent CS term of the reward, the swarm-wide CS term and the windowed
        Pearson CS (NaN -> 0 everywhere)."""
        assert self.swarm is not None and self.swarm.coordinator is not None
        coord = self.swarm.coordinator
        cs = coord.cs if math.isfinite(coord.cs) else 0.0
        if self.cs_mode == "mdea":
            score = 0.0
            if truncated:
                try:
                    score = coord.mdea_sync().score
                except MetricError:
                    score = math.nan
            score = score if math.isfinite(score) else 0.0
            return np.full(self.n_agents, score), score, cs
        if self.reward_mode == "shared":
            return np.full(self.n_agents, cs), cs, cs
        differenced = self.reward_mode.startswith("diff")
        window = self.swarm_config.window + (1 if differenced else 0)
        corr = window_correlations(coord.ci_history()[-window:], differenced)
        defined = np.isfinite(corr)
        per = np.where(defined, corr, 0.0).sum(axis=1) / np.maximum(defined.sum(axis=1), 1)
        upper = corr[np.triu_indices(self.n_agents, 1)]
        upper = upper[np.isfinite(upper)]
        shared = float(upper.mean()) if upper.size else 0.0
        if self.reward_mode == "diff":
            return np.full(self.n_agents, shared), shared, cs
        return per, shared, cs

    def order(self) -> float:
        """Kuramoto order parameter R of the agents' drive phases, mean over sources."""
        assert self.swarm is not None
        return float(np.mean(self.swarm.drive_order_parameter()))

    def alignment(self) -> np.ndarray:
        """Each agent's alignment ``mean_k R_k cos(Psi_k - phi_ik)`` with the swarm's mean
        drive phases Psi_k, shape (n_agents,); its mean over the agents is mean_k R_k^2."""
        assert self.swarm is not None
        phases = np.stack([agent.phase for agent in self.swarm.agents])  # (agents, sources)
        r, psi = order_parameter(phases.T)
        return np.mean(r * np.cos(psi - phases), axis=1)

    def step(
        self, actions: dict[str, np.ndarray]
    ) -> tuple[
        dict[str, np.ndarray],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Apply every agent's action, run one swarm tick, return PettingZoo's 5 dicts.

        An agent missing from ``actions`` does nothing this tick.
        """
        swarm = self.swarm
        if swarm is None or not self.agents:
            raise ConfigError("call reset() before step() (or after the episode ended)")
        raw = np.zeros((self.n_agents, self.action_size))
        for i, name in enumerate(self.possible_agents):
            if name in actions:
                a = np.asarray(actions[name], dtype=np.float64).reshape(-1)
                raw[i] = a if a.shape == (self.action_size,) else np.nan  # wrong shape: invalid
        applied, invalid = self.actuator.apply(raw)
        costs = self.action_cost * np.mean(applied**2, axis=1)
        self.tick += 1
        truncated = self.tick >= self.episode_ticks
        terminated = False
        try:
            info = swarm.run(1).last_tick
        except DivergenceError:
            terminated = True
            info = None
        if info is not None:
            self.observer.update(swarm, info.aggregate)
            per, score, cs = self._cs_rewards(truncated)
            order = self.order()
            own = self.order_reward == "own"
            shaping = self.order_weight * (self.alignment() if own else order)
            if self.reward_mode in ("shared", "diff"):
                rewards = per + shaping - costs.mean()
            else:
                rewards = per + shaping - costs
        else:
            cs = score = order = math.nan
            rewards = np.full(self.n_agents, -FEATURE_LIMIT)
        obs = self.observer.observations(self.actuator.theta, self.actuator.log_frequency)
        names = self.agents
        step_info = {
            "cs": cs,
            "score": score,
            "order": order,
            "invalid_actions": invalid,
            "tick": self.tick,
            "episode_seed": self.episode_seed,
        }
        result = (
            dict(zip(names, obs, strict=True)),
            {a: float(r) for a, r in zip(names, rewards, strict=True)},
            dict.fromkeys(names, terminated),
            dict.fromkeys(names, truncated),
            {a: {**step_info, "action_cost": float(c)} for a, c in zip(names, costs, strict=True)},
        )
        if terminated or truncated:
            self.agents = []
        return result

    def __getstate__(self) -> dict[str, Any]:
        # a running swarm holds locks and a bus: copies (e.g. SuperSuit's) start unreset
        state = self.__dict__.copy()
        for key in ("swarm", "observer", "actuator"):
            state.pop(key, None)
        state["swarm"], state["agents"] = None, []
        return state

    def close(self) -> None:
        if self.swarm is not None:
            self.swarm.close()
            self.swarm = None
