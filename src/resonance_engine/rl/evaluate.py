"""Held-out evaluation: a trained swarm policy against the swarm's other ways to synchronize.

Every condition runs the same episodes of :class:`~resonance_engine.rl.swarm_env.SwarmEnv`
(same episode seeds, all from ``TRAINING_SEEDS`` on, so never met in training; same warm-up,
same CS window) and differs only in what moves the agents' drive:

- ``policy``: the trained policy's actions (with the coupling it was trained with);
- ``uncoupled``: nothing (K = 0);
- ``MODE K=k``: one of the swarm's hand-written couplings
  (:mod:`resonance_engine.swarm.coupling`) at strength k, no actions;
- ``random``: uniform random actions (a floor for the policy);
- ``phase following``: the hand-written rule through the same observation and actuator
  (:func:`phase_following_actor`, for ``observation="drive"``, ``action="per-source"``):
  what the environment lets a policy reach with Kuramoto's rule;
- ``always raise gain``, ``always lower gain`` (and the same for the frequency): the same
  constant action for every agent (:data:`OPEN_LOOP_GAINS`, :data:`OPEN_LOOP_FREQUENCIES`),
  open loop: a policy whose CS these reach has not shown coordination, since a common
  trend in every agent's CI also makes their series correlate;
- the swarm controllers (``adaptive``, ``mpc`` of :mod:`resonance_engine.swarm.controllers`),
  which are coupling modes too.

Per episode it records the mean windowed CS over the episode's ticks (what the default
reward pays), the windowed CS at the episode's last tick (the state reached), the CS of
the whole episode (mean pairwise Pearson correlation of the agents' CI series over all its
ticks), the CS of the whole episode's *differenced* CI series (which a common trend cannot
earn; ``reward="diff"``), the order parameter R of the drive phases at the last tick (mean
over sources; 1 = phase-locked), the episode return and the *drive cost*: the mean over
ticks and agents of ((d ln g / gain_step)^2 + (d ln f / frequency_step)^2 + a_phase^2) /
3, with the gain g and natural drive frequency f measured on the swarm whatever moved them
(a coupling or the policy) and a_phase^2 the mean square of the actor's phase actions (a
coupling's pull on the phases, through the frequency of one tick, is not counted); for the
policy it is its mean a^2 except where a bound clipped the move.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from resonance_engine.errors import ConfigError
from resonance_engine.rl.actions import ACTION_SIZE, ActionLimits, action_size
from resonance_engine.rl.features import MeasureReference
from resonance_engine.rl.field_env import TRAINING_SEEDS
from resonance_engine.rl.swarm_env import (
    FREQUENCY_UNIT,
    SWARM_OBSERVATION_SIZE,
    SwarmEnv,
    observation_size,
    window_correlations,
)
from resonance_engine.swarm.sync import mean_pairwise_correlation, series_cs

__all__ = [
    "Condition",
    "EpisodeResult",
    "evaluate_swarm",
    "summarize",
    "held_out_seeds",
    "constant_actor",
    "random_actor",
    "actor_controls",
    "phase_following_actor",
    "paired_differences",
    "OPEN_LOOP_GAINS",
    "OPEN_LOOP_FREQUENCIES",
    "PAIRED_KEYS",
]

#: observations (n, obs) -> actions (n, action size)
Actor = Callable[[np.ndarray], np.ndarray]


#: The open-loop controls of an evaluation: every agent pushes its gain the same way every
#: tick, hearing nothing (a CS they reach comes from a common trend, not coordination).
OPEN_LOOP_GAINS: dict[str, float] = {"always raise gain": 1.0, "always lower gain": -1.0}
#: The same for the frequency factor (a common drift of every agent's drive frequency).
OPEN_LOOP_FREQUENCIES: dict[str, float] = {
    "always raise frequency": 1.0,
    "always lower frequency": -1.0,
}


def constant_actor(value: float, size: int = ACTION_SIZE, component: int = 0) -> Actor:
    """The actor that answers every observation with the action of ``size`` numbers that
    is ``value`` at ``component`` (0: gain, 1: frequency) and 0 elsewhere."""
    action = np.zeros(size)
    action[component] = value

    def act(obs: np.ndarray) -> np.ndarray:
        return np.tile(action, (len(obs), 1))

    return act


def random_actor(seed: int, size: int = ACTION_SIZE) -> Actor:
    """Independent uniform random actions in [-1, 1]^size (a stream seeded by ``seed``)."""
    rng = np.random.default_rng(seed)

    def act(obs: np.ndarray) -> np.ndarray:
        return rng.uniform(-1.0, 1.0, (len(obs), size))

    return act


def phase_following_actor(n_sources: int, limits: ActionLimits, rate: float = 0.5) -> Actor:
    """Kuramoto's rule written by hand on a ``drive`` observation, acting ``per-source``.

    Each agent moves its frequency toward the swarm's mean (the whole observed gap, within
    the frequency step) and nudges each source's phase by ``rate R_k sin(Psi_k - phi_k)``
    radians (within the phase step): it closes the fraction ``rate`` of a small phase gap
    per tick. Only what the agent observes is used (indices of
    :mod:`~resonance_engine.rl.swarm_env`); the gain is left alone.
    """
    base = SWARM_OBSERVATION_SIZE
    unit = FREQUENCY_UNIT / limits.frequency_step if limits.frequency_step > 0 else 0.0
    phase = rate / limits.phase_step if limits.phase_step > 0 else 0.0

    def act(obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float64)
        if obs.shape[1] != observation_size("drive", n_sources):
            raise ConfigError(
                f"phase following needs observation='drive' with {n_sources} sources "
                f"({observation_size('drive', n_sources)} numbers), got {obs.shape[1]}"
            )
        actions = np.zeros((len(obs), action_size("per-source", n_sources)))
        actions[:, 1] = obs[:, base] * unit
        actions[:, 2:] = obs[:, base + 1 : base + 1 + n_sources] * phase
        return np.clip(actions, -1.0, 1.0)

    return act


def held_out_seeds(n: int, first: int = 0) -> list[int]:
    """``n`` episode seeds that training never draws (TRAINING_SEEDS + first + k)."""
    return [TRAINING_SEEDS + first + k for k in range(n)]


@dataclass(frozen=True)
class Condition:
    """One way to run the episodes.

    Attributes
    ----------
    name : str
    coupling : float
        Strength K of the swarm's coupling.
    coupling_mode : str
        Its mechanism (see :mod:`resonance_engine.swarm.coupling`).
    actor : callable, optional
        Actions from observations (the policy, or random).
    """

    name: str
    coupling: float = 0.0
    coupling_mode: str = "gain"
    actor: Actor | None = None


def actor_controls(
    env: SwarmEnv, seed: int, coupling: float = 0.0, coupling_mode: str = "gain"
) -> list[Condition]:
    """The controls that act through ``env``'s own actions (sized for its layout): random
    actions (seeded by ``seed``), the open-loop gain and frequency pushes
    (:data:`OPEN_LOOP_GAINS`, :data:`OPEN_LOOP_FREQUENCIES`) and,
    for ``observation="drive"`` with ``action="per-source"``, hand-written phase following;
    each on top of the coupling ``coupling_mode`` at ``coupling``."""
    size = env.action_size
    conditions = [Condition("random", coupling, coupling_mode, random_actor(seed, size))]
    for component, pushes in enumerate((OPEN_LOOP_GAINS, OPEN_LOOP_FREQUENCIES)):
        conditions += [
            Condition(name, coupling, coupling_mode, constant_actor(value, size, component))
            for name, value in pushes.items()
        ]
    if env.observation_mode == "drive" and env.action_mode == "per-source":
        follow = phase_following_actor(env.n_sources, env.limits)
        name = "phase following (hand-written)"
        conditions.append(Condition(name, coupling, coupling_mode, follow))
    return conditions


@dataclass(frozen=True)
class EpisodeResult:
    condition: str
    seed: int
    cs_window_mean: float
    cs_final: float
    cs_episode: float
    episode_return: float
    drive_cost: float
    cs_diff_episode: float = math.nan
    order_final: float = math.nan


def _drive_state(env: SwarmEnv) -> tuple[np.ndarray, np.ndarray]:
    assert env.swarm is not None
    agents = env.swarm.agents
    return np.array([a.theta for a in agents]), np.array(
        [a.natural_frequency[0] for a in agents]
    )


def _drive_cost(env: SwarmEnv, before: tuple, after: tuple, actions: np.ndarray) -> float:
    """Mean squared drive change of one tick in units of the action limits (the phase term
    from the actions)."""
    lim = env.limits
    d_gain = (after[0] - before[0]) / lim.gain_step if lim.gain_step else 0 * before[0]
    ratio = np.log(after[1] / before[1])
    d_freq = ratio / lim.frequency_step if lim.frequency_step else 0 * ratio
    d_phase_sq = np.mean(np.clip(np.nan_to_num(actions[:, 2:]), -1, 1) ** 2, axis=1)
    return float(np.mean((d_gain**2 + d_freq**2 + d_phase_sq) / 3))


def run_episode(env: SwarmEnv, condition: Condition, seed: int) -> EpisodeResult:
    """One episode of ``condition`` on ``env`` (whose coupling must be the condition's)."""
    obs, _ = env.reset(seed=seed)
    assert env.swarm is not None
    zeros = np.zeros((env.n_agents, env.action_size))
    cs_values, costs, total = [], [], 0.0
    while env.agents:
        stacked = np.stack([obs[a] for a in env.possible_agents])
        actions = condition.actor(stacked) if condition.actor is not None else zeros
        before = _drive_state(env)
        obs, rewards, _, _, infos = env.step(dict(zip(env.possible_agents, actions, strict=True)))
        costs.append(_drive_cost(env, before, _drive_state(env), actions))
        total += float(np.mean(list(rewards.values())))
        cs_values.append(infos[env.possible_agents[0]]["cs"])
    assert env.swarm is not None and env.swarm.coordinator is not None
    history = env.swarm.coordinator.ci_history()
    cs_episode = series_cs(history)
    cs_diff = mean_pairwise_correlation(window_correlations(history, differenced=True))
    finite = [c for c in cs_values if math.isfinite(c)]
    return EpisodeResult(
        condition.name,
        seed,
        float(np.mean(finite)) if finite else math.nan,
        float(cs_values[-1]),
        float(cs_episode),
        total,
        float(np.mean(costs)),
        float(cs_diff),
        env.order(),
    )


def evaluate_swarm(
    env_kwargs: dict[str, Any],
    conditions: Sequence[Condition],
    seeds: Sequence[int],
    reference: MeasureReference | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[EpisodeResult]:
    """Every condition on every seed (see the module docstring).

    A condition without an actor runs with ``env_kwargs``' observation and action layout
    replaced by the defaults (it observes nothing, and a hand-written coupling that does
    not share the drive could not run with ``observation="drive"``)."""
    results: list[EpisodeResult] = []
    total, done = len(conditions) * len(seeds), 0
    for condition in conditions:
        kwargs = {
            **env_kwargs,
            "coupling": condition.coupling,
            "coupling_mode": condition.coupling_mode,
        }
        if condition.actor is None:
            kwargs.update(observation="measures", action="global")
        env = SwarmEnv(**kwargs, reference=reference)
        reference = env.reference
        for seed in seeds:
            results.append(run_episode(env, condition, seed))
            done += 1
            if progress is not None:
                progress(done, total)
        env.close()
    return results


#: The per-episode numbers that :func:`summarize` averages.
SUMMARY_KEYS = (
    "cs_window_mean",
    "cs_final",
    "cs_episode",
    "cs_diff_episode",
    "order_final",
    "episode_return",
    "drive_cost",
)


#: What :func:`paired_differences` compares by default: the windowed CS at the last tick,
#: the whole episode's CS, the CS of its differenced CI series (which a common trend cannot
#: earn) and the order parameter R of the drive phases at the last tick.
PAIRED_KEYS = ("cs_final", "cs_episode", "cs_diff_episode", "order_final")


def paired_differences(
    results: Sequence[EpisodeResult],
    subject: str = "policy",
    keys: Sequence[str] = PAIRED_KEYS,
) -> list[dict[str, Any]]:
    """``subject`` against every other condition, episode by episode (same seeds).

    Parameters
    ----------
    results : sequence of EpisodeResult
        Episodes of several conditions, on shared seeds.
    subject : str
        The condition compared with the others.
    keys : sequence of str
        :class:`EpisodeResult` fields to compare.

    Returns
    -------
    list of dict
        One row per other condition (``control``: its name): for each key, the mean of
        (subject - control) over the seeds both ran with finite values (``KEY_diff``), its
        standard error (``KEY_diff_se``, sample standard deviation / sqrt(n); NaN for one
        seed) and on how many of them the subject was higher (``KEY_higher``, of
        ``KEY_n``).
    """
    mine = {r.seed: r for r in results if r.condition == subject}
    rows = []
    for name in dict.fromkeys(r.condition for r in results if r.condition != subject):
        row: dict[str, Any] = {"control": name}
        for key in keys:
            d = np.array(
                [getattr(mine[r.seed], key) - getattr(r, key)
                 for r in results if r.condition == name and r.seed in mine],
                dtype=float,
            )
            d = d[np.isfinite(d)]
            row[f"{key}_diff"] = float(d.mean()) if d.size else math.nan
            row[f"{key}_diff_se"] = (
                float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else math.nan
            )
            row[f"{key}_higher"] = int((d > 0).sum())
            row[f"{key}_n"] = int(d.size)
        rows.append(row)
    return rows


def summarize(results: Sequence[EpisodeResult]) -> list[dict[str, Any]]:
    """One row per condition: means and standard deviations over the seeds."""
    rows = []
    for name in dict.fromkeys(r.condition for r in results):
        mine = [r for r in results if r.condition == name]
        row: dict[str, Any] = {"condition": name, "episodes": len(mine)}
        for key in SUMMARY_KEYS:
            values = np.array([getattr(r, key) for r in mine], dtype=float)
            ok = values[np.isfinite(values)]
            row[key] = float(ok.mean()) if ok.size else math.nan
            row[f"{key}_std"] = float(ok.std(ddof=1)) if ok.size > 1 else math.nan
        rows.append(row)
    return rows


def evaluate_field(
    env_kwargs: dict[str, Any],
    actors: dict[str, Actor | None],
    seeds: Sequence[int],
    reference: MeasureReference | None = None,
) -> list[EpisodeResult]:
    """Episodes of :class:`~resonance_engine.rl.field_env.WaveFieldEnv` per actor (None:
    no action); CS entries are NaN (one field), ``drive_cost`` is the env's mean a^2."""
    from resonance_engine.rl.field_env import WaveFieldEnv

    env = WaveFieldEnv(**env_kwargs, reference=reference)
    results = []
    for name, actor in actors.items():
        for seed in seeds:
            obs, _ = env.reset(seed=seed)
            total, costs, done = 0.0, [], False
            while not done:
                action = actor(obs[None])[0] if actor is not None else np.zeros(3)
                obs, reward, terminated, truncated, info = env.step(action)
                total += reward
                costs.append(info["action_cost"] / env.action_cost if env.action_cost else 0.0)
                done = terminated or truncated
            results.append(
                EpisodeResult(
                    name, seed, math.nan, math.nan, math.nan, total, float(np.mean(costs))
                )
            )
    env.close()
    return results
