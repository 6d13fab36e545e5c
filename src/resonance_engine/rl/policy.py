"""Trained policies: loading them, and running one as a swarm controller.

``resonance train`` writes ``DIR/policy.zip`` (the stable-baselines3 model) and
``DIR/policy.json`` (the environment it was trained on, the observation reference and the
action limits). :class:`TrainedPolicy` loads both; :func:`swarm_controller` is the
``rl`` entry of the swarm controller registry (:mod:`resonance_engine.swarm.controllers`):
``resonance swarm --controller rl:DIR/policy.zip``.

Importing this module imports stable-baselines3 and torch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from resonance_engine.errors import ConfigError
from resonance_engine.loop import Tracker
from resonance_engine.rl.actions import ActionLimits, DriveActuator
from resonance_engine.rl.features import MeasureReference
from resonance_engine.rl.swarm_env import SwarmObserver
from resonance_engine.swarm.batched import Swarm

__all__ = ["TrainedPolicy", "SwarmPolicyController", "swarm_controller"]


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


class SwarmPolicyController(Tracker):
    """Runs a policy trained on :class:`~resonance_engine.rl.swarm_env.SwarmEnv` on a swarm.

    Every local agent observes its own signature and the aggregate heard on the bus (the
    :class:`~resonance_engine.rl.swarm_env.SwarmObserver` of training) and moves its own
    drive. For the first ``warmup_ticks`` ticks of training's episodes the controller only
    observes (the policy never saw fields growing from rest).

    Parameters
    ----------
    policy : TrainedPolicy
    swarm : Swarm
        Must have the grid size and steps per tick the policy was trained with.
    """

    def __init__(self, policy: TrainedPolicy, swarm: Swarm) -> None:
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
        super().__init__(interval=1)
        self.policy = policy
        self.warmup_ticks = int(kw.get("warmup_ticks", 20))
        self.observer = SwarmObserver(policy.reference, len(swarm.agents))
        self.actuator = DriveActuator(swarm.agents, policy.limits)
        self.ticks = 0
        self.actions = 0
        self.invalid = 0
        self._square_sum = 0.0

    def handle(self, swarm: Swarm, t: float) -> None:
        """After a tick: observe, act (moves the agents' drive for the next tick)."""
        self.observer.update(swarm, swarm.view.aggregate())
        self.ticks += 1
        if self.ticks < self.warmup_ticks:
            return
        obs = self.observer.observations(self.actuator.theta, self.actuator.log_frequency)
        applied, invalid = self.actuator.apply(self.policy.act(obs))
        self.actions += 1
        self.invalid += invalid
        self._square_sum += float(np.mean(applied**2))

    def summary(self) -> dict[str, Any]:
        return {
            "controller": f"rl:{self.policy.path}",
            "controller_ticks_acted": self.actions,
            "controller_mean_action_sq": (
                self._square_sum / self.actions if self.actions else math.nan
            ),
            "controller_invalid_actions": self.invalid,
        }


def swarm_controller(argument: str, swarm: Swarm) -> SwarmPolicyController:
    """Factory of the ``rl`` swarm controller: ``argument`` is the policy file."""
    if not argument:
        raise ConfigError("--controller rl needs the policy file: --controller rl:DIR/policy.zip")
    return SwarmPolicyController(TrainedPolicy(argument), swarm)
