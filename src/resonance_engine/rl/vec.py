"""Parameter-shared training: a PettingZoo ParallelEnv as one stable-baselines3 VecEnv.

Every agent of the parallel environment is one slot of the vector environment, so a
single policy (shared parameters) acts for all agents and learns from all their
experience at once; the environment's own batching (one solver call per tick for the whole
swarm) is kept. When the episode ends (all agents done together, as in
:class:`~resonance_engine.rl.swarm_env.SwarmEnv`), the adapter stores each agent's last
observation as ``info["terminal_observation"]``, marks time-limit ends with
``info["TimeLimit.truncated"]`` (so that SB3 bootstraps them) and resets.

Why not SuperSuit: ``pettingzoo_env_to_vec_env_v1`` + ``concat_vec_envs_v1(...,
base_class="stable_baselines3")`` (SuperSuit 3.11) does the same conversion, but with
stable-baselines3 2.x its ``seed()`` is missing (SB3 calls it when a model has a seed), it
marks no time-limit ends, and it copies the environment through cloudpickle. It is fine
for libraries that take a gymnasium ``VectorEnv`` (``base_class="gymnasium"``).

This module imports stable-baselines3 (and so torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from pettingzoo import ParallelEnv
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

__all__ = ["SharedPolicyVecEnv"]


class SharedPolicyVecEnv(VecEnv):
    """One SB3 vector-environment slot per agent of ``env`` (see the module docstring).

    Parameters
    ----------
    env : ParallelEnv
        Every agent with the same observation and action space; agents end their episodes
        together.
    """

    def __init__(self, env: ParallelEnv) -> None:
        self.env = env
        self.names = list(env.possible_agents)
        obs_space = env.observation_space(self.names[0])
        act_space = env.action_space(self.names[0])
        if any(
            env.observation_space(a) != obs_space or env.action_space(a) != act_space
            for a in self.names
        ):
            raise ValueError("SharedPolicyVecEnv needs the same spaces for every agent")
        self.render_mode = None
        super().__init__(len(self.names), obs_space, act_space)
        self._actions: np.ndarray | None = None

    def _stack(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return np.stack([obs[a] for a in self.names])

    def reset(self) -> np.ndarray:
        obs, infos = self.env.reset(seed=self._seeds[0], options=self._options[0] or None)
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [dict(infos.get(a, {})) for a in self.names]
        return self._stack(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        assert self._actions is not None
        actions = {a: self._actions[i] for i, a in enumerate(self.names)}
        obs, rewards, terms, truncs, infos = self.env.step(actions)
        stacked = self._stack(obs)
        reward = np.array([rewards[a] for a in self.names], dtype=np.float32)
        term = np.array([terms[a] for a in self.names])
        trunc = np.array([truncs[a] for a in self.names])
        done = term | trunc
        out_infos = [dict(infos.get(a, {})) for a in self.names]
        if done.all():
            for i, info in enumerate(out_infos):
                info["terminal_observation"] = stacked[i]
                info["TimeLimit.truncated"] = bool(trunc[i] and not term[i])
            stacked = self.reset()
        elif done.any():
            raise RuntimeError("SharedPolicyVecEnv needs all agents to end their episode together")
        return stacked, reward, done, out_infos

    def close(self) -> None:
        self.env.close()

    # the attribute protocol of VecEnv, answered by the one environment
    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self.env, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        result = getattr(self.env, method_name)(*method_args, **kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]
