"""SharedPolicyVecEnv: one SB3 slot per agent, episode ends marked for bootstrapping."""

from __future__ import annotations

import numpy as np

from resonance_engine.rl import SwarmEnv
from resonance_engine.rl.vec import SharedPolicyVecEnv


def test_one_slot_per_agent_and_time_limit_ends_are_marked() -> None:
    env = SwarmEnv(n_agents=3, size=24, steps_per_tick=4, episode_ticks=3, warmup_ticks=2, window=3)
    vec = SharedPolicyVecEnv(env)
    assert vec.num_envs == 3
    vec.seed(11)
    obs = vec.reset()
    assert obs.shape == (3, 22) and env.episode_seed == 11
    for _ in range(3):
        obs, rewards, dones, infos = vec.step(np.zeros((3, 3), np.float32))
        assert rewards.shape == (3,)
    assert dones.all()
    assert all(info["TimeLimit.truncated"] for info in infos)
    assert all(info["terminal_observation"].shape == (22,) for info in infos)
    # reset happened by itself: a new episode (drawn seed) is running
    assert env.agents == env.possible_agents and env.episode_seed != 11
    np.testing.assert_array_equal(
        obs,
        np.stack(
            [
                env.observer.observations(env.actuator.theta, env.actuator.log_frequency)[i]
                for i in range(3)
            ]
        ),
    )
