"""Trained policies: loading them, and running one as a swarm controller.

``resonance train`` writes ``DIR/policy.zip`` (the stable-baselines3 model) and
``DIR/policy.json`` (the environment it was trained on, the observation reference and the
action limits). :class:`TrainedPolicy` loads both; :class:`PolicyCoupling` runs a swarm
policy as a controller of the swarm (``resonance swarm --controller rl:DIR/policy.zip``),
beside the ``adaptive`` and ``mpc`` controllers of :mod:`resonance_engine.swarm.controllers`.

Importing this module imports stable-baselines3 and torch.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from resonance_engine.errors import ConfigError
from resonance_engine.rl.actions import ActionLimits, DriveActuator
from resonance_engine.rl.features import MeasureReference
from resonance_engine.rl.swarm_env import SwarmObserver
from resonance_engine.swarm.agent import SwarmAggregate
from resonance_engine.swarm.batched import Swarm
from resonance_engine.swarm.coupling import (
    Coupling,
    KuramotoCoupling,
    make_coupling,
    register_coupling,
)

__all__ = ["TrainedPolicy", "PolicyCoupling"]


class TrainedPolicy:
    """A policy written by ``resonance train``: the SB3 model and its ``policy.json``.

    Parameters
    ----------
    path : str or Path
        ``policy.zip`` (or a checkpoint); ``policy.json`` is looked for beside it and in
        the folder above (checkpoints live in ``DIR/checkpoints/``).

    Attributes
    ----------
    env : {"swarm", "field"}
    env_kwargs : dict
    reference : MeasureReference
    limits : ActionLimits
    meta : dict
        The whole ``policy.json``.
    """

    def __init__(self, path: str | Path) -> None:
        from resonance_engine.rl.train import ALGORITHMS

        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"policy file {str(self.path)!r} does not exist")
        meta_path = next(
            (
                p
                for p in (self.path.parent / "policy.json", self.path.parent.parent / "policy.json")
                if p.is_file()
            ),
            None,
        )
        if meta_path is None:
            raise ConfigError(
                f"no policy.json beside {str(self.path)!r}: it describes the environment the "
                "policy was trained on (written by 'resonance train')"
            )
        try:
            self.meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
            self.env = self.meta["env"]
            self.env_kwargs = dict(self.meta["env_kwargs"])
            self.reference = MeasureReference(**self.meta["reference"])
            self.limits = ActionLimits(**self.meta["limits"])
            algo = ALGORITHMS[self.meta["algo"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{str(meta_path)!r} is not a policy description: {exc!r}") from None
        try:
            self.model = algo.load(self.path, device="cpu")
        except Exception as exc:  # zipfile, pickle and torch errors all mean "not a model"
            raise ConfigError(
                f"cannot load the {self.meta['algo']} model {str(self.path)!r}: {exc}"
            ) from None

    def act(self, observations: np.ndarray) -> np.ndarray:
        """Deterministic actions for ``observations`` of shape (n, obs_size): (n, 3)."""
        actions, _ = self.model.predict(
            np.asarray(observations, dtype=np.float32), deterministic=True
        )
        return np.asarray(actions, dtype=np.float64).reshape(len(observations), -1)


class _PolicyState:
    """What a running policy coupling holds (rebuilt by ``bind`` on every copy)."""

    def __init__(self, policy: TrainedPolicy, swarm: Swarm) -> None:
        kw = policy.env_kwargs
        self.policy = policy
        self.inner: Coupling = make_coupling(
            kw.get("coupling_mode", "gain"), kw.get("coupling", 0.0)
        )
        self.warmup_ticks = int(kw.get("warmup_ticks", 20))
        n_sources = swarm.agents[0].phase.size
        self.observer = SwarmObserver(
            policy.reference, len(swarm.agents), kw.get("observation", "measures"), n_sources
        )
        self.actuator = DriveActuator(
            swarm.agents, policy.limits, kw.get("action", "global"), swarm.tick_seconds
        )
        self.ticks = 0
        self.acted = 0
        self.invalid = 0
        self.square_sum = 0.0


@register_coupling
@dataclass(frozen=True, eq=False)
class PolicyCoupling(Coupling):
    """``--controller rl:DIR/policy.zip``: a policy trained on the swarm environment sets
    the drives (a coupling of :mod:`resonance_engine.swarm.coupling`).

    After every tick the coupling the policy was trained with (``policy.json``; none by
    default) adapts first; then every local agent observes its own signature and the
    aggregate heard on the bus (the :class:`~resonance_engine.rl.swarm_env.SwarmObserver`
    of training) and the policy moves its drive (gain, frequency, phase) for the next
    tick. Registered as the mechanism ``rl``: ``resonance experiment sync --policy
    DIR/policy.zip`` runs it as one more row of the verdict table (one "strength", 1,
    which the policy does not use). For the first ``warmup_ticks`` ticks of training's
    episodes it only observes (the policy never saw fields growing from rest). The swarm
    must have the grid size, steps per tick and CI sampling the policy was trained with
    (``bind`` refuses others). A policy trained with ``observation="drive"`` makes the
    signatures carry the drive payload (frequency and source phases: agent state), and
    says so in :meth:`describe`.

    Attributes
    ----------
    policy : str
        Path of ``policy.zip`` (``policy.json`` beside it).
    """

    policy: str = ""

    mode: ClassVar[str] = "rl"
    unit: ClassVar[str] = "unused (the policy sets the drives)"
    default_strength: ClassVar[float] = 0.0
    sweep: ClassVar[tuple[float, ...]] = (1.0,)
    carries: ClassVar[str] = "complexity measures (D, C, G, tau, CI) of each agent"
    controller: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.policy:
            raise ConfigError(
                "--controller rl needs the policy file: --controller rl:DIR/policy.zip"
            )

    @property
    def live(self) -> _PolicyState:
        state = self.__dict__.get("_live")
        if state is None:
            raise ConfigError("the rl controller acts only on the swarm it was bound to")
        return state

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_live"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)

    def bind(self, swarm: Swarm) -> None:
        policy = TrainedPolicy(self.policy)
        _check_swarm(policy, swarm)
        state = _PolicyState(policy, swarm)
        state.inner.bind(swarm)
        want = policy.model.observation_space.shape
        if want != (state.observer.size,):
            raise ConfigError(
                f"the policy {str(policy.path)!r} observes {want} numbers, this swarm's agents "
                f"would give {state.observer.size} (another number of sources?)"
            )
        if state.observer.mode == "drive":  # the agents' signatures carry the drive payload
            object.__setattr__(self, "shares_drive", True)
            object.__setattr__(self, "state_exchange", True)
            object.__setattr__(self, "carries", KuramotoCoupling.carries)
        object.__setattr__(self, "_live", state)

    def exchange(self, swarm: Swarm, dt: float) -> None:
        self.live.inner.exchange(swarm, dt)

    def adapt(self, swarm: Swarm, aggregate: SwarmAggregate | None, t: float, dt: float) -> None:
        st = self.live
        st.inner.adapt(swarm, aggregate, t, dt)
        st.observer.update(swarm, aggregate)
        st.ticks += 1
        if st.ticks < st.warmup_ticks:
            return
        obs = st.observer.observations(st.actuator.theta, st.actuator.log_frequency)
        applied, invalid = st.actuator.apply(st.policy.act(obs))
        st.acted += 1
        st.invalid += invalid
        st.square_sum += float(np.mean(applied**2))

    def summary(self) -> dict[str, Any]:
        """What the policy did (for the command's summary)."""
        st = self.__dict__.get("_live")
        if st is None:
            return {"policy": self.policy}
        return {
            "policy": self.policy,
            "policy_ticks_acted": st.acted,
            "policy_mean_action_sq": st.square_sum / st.acted if st.acted else math.nan,
            "policy_invalid_actions": st.invalid,
        }


def _check_swarm(policy: TrainedPolicy, swarm: Swarm) -> None:
    """Refuse a swarm whose observations would mean something else than in training."""
    if policy.env != "swarm":
        raise ConfigError(
            f"{str(policy.path)!r} was trained on the {policy.env!r} environment; "
            "--controller rl needs a policy trained with 'resonance train --env swarm'"
        )
    kw = policy.env_kwargs
    ci_average = bool(kw.get("swarm", {}).get("ci_average", True))
    want = (kw.get("size", 64), kw.get("steps_per_tick", 10), ci_average)
    have = (swarm.config.size, swarm.config.steps_per_tick, swarm.config.ci_average)
    if want != have:

        def options(v: tuple[int, int, bool]) -> str:
            sampling = "average" if v[2] else "tick"
            return f"--size {v[0]} --steps-per-tick {v[1]} --ci-sampling {sampling}"

        raise ConfigError(
            f"the policy {str(policy.path)!r} was trained with {options(want)}; this swarm "
            f"has {options(have)} (its observations would mean something else): run with "
            "the policy's values"
        )
