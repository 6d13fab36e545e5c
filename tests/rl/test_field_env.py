"""WaveFieldEnv: gymnasium's env checker, determinism, rewards, invalid actions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from resonance_engine.errors import ConfigError
from resonance_engine.rl import TRAINING_SEEDS, WaveFieldEnv


@pytest.fixture(scope="module")
def env() -> WaveFieldEnv:
    return WaveFieldEnv(size=24, steps_per_tick=4, episode_ticks=6, warmup_ticks=3)


def test_passes_the_gymnasium_env_checker(env: WaveFieldEnv) -> None:
    check_env(env, skip_render_check=True)


def _rollout(env: WaveFieldEnv, seed: int, actions: np.ndarray) -> tuple[list, list]:
    obs, _ = env.reset(seed=seed)
    seen, rewards = [obs], []
    for a in actions:
        obs, reward, terminated, truncated, _ = env.step(a)
        seen.append(obs)
        rewards.append(reward)
    return seen, rewards


def test_same_seed_same_episode_other_seed_other_episode(env: WaveFieldEnv) -> None:
    actions = np.random.default_rng(0).uniform(-1, 1, (6, 3)).astype(np.float32)
    a = _rollout(env, 5, actions)
    b = _rollout(env, 5, actions)
    c = _rollout(env, 6, actions)
    np.testing.assert_array_equal(np.array(a[0]), np.array(b[0]))
    assert a[1] == b[1]
    assert not np.array_equal(np.array(a[0]), np.array(c[0]))


def test_zero_actions_leave_the_drive_amplitude_as_it_is() -> None:
    # the agent's base amplitude once aliased the solver's drive amplitudes, so every tick
    # multiplied them by the gain again: the field grew like g^ticks and diverged
    env = WaveFieldEnv(size=24, steps_per_tick=4, episode_ticks=40, warmup_ticks=1,
                       gain_spread=1.5)
    env.reset(seed=3)
    solver = env._solver
    assert solver is not None and env._agent is not None
    assert abs(env._agent.theta) > 0.05  # a gain away from 1 (the seed's draw)
    first = solver.drive_amplitude.copy()
    for _ in range(30):
        env.step(np.zeros(3, dtype=np.float32))
    np.testing.assert_allclose(solver.drive_amplitude, first)
    np.testing.assert_allclose(first[0], env._agent.base_amplitude * env._agent.gain)


def test_episode_truncates_after_episode_ticks(env: WaveFieldEnv) -> None:
    env.reset(seed=1)
    ends = [env.step(np.zeros(3, np.float32))[2:4] for _ in range(6)]
    assert ends[-1] == (False, True) and all(e == (False, False) for e in ends[:-1])


def test_unseeded_resets_draw_training_seeds_only(env: WaveFieldEnv) -> None:
    env.reset(seed=3)
    drawn = []
    for _ in range(5):
        env.reset()
        drawn.append(env.episode_seed)
    assert all(0 <= s < TRAINING_SEEDS for s in drawn) and len(set(drawn)) == 5
    env.reset(seed=3)
    again = []
    for _ in range(5):
        env.reset()
        again.append(env.episode_seed)
    assert again == drawn


def test_nan_and_out_of_bounds_actions_are_clipped_and_counted(env: WaveFieldEnv) -> None:
    env.reset(seed=2)
    obs, reward, terminated, truncated, info = env.step(np.array([np.nan, 5.0, -5.0]))
    assert info["invalid_actions"] == 1 and math.isfinite(reward) and not terminated
    assert env.observation_space.contains(obs)
    # the gain did not move (NaN = no change); the frequency factor moved by one full step
    assert info["frequency_factor"] == pytest.approx(math.exp(env.limits.frequency_step))


def test_target_reward_is_minus_the_log_distance_to_the_target() -> None:
    env = WaveFieldEnv(
        size=24, steps_per_tick=4, episode_ticks=3, warmup_ticks=2, target=1.5, action_cost=0.0
    )
    env.reset(seed=4)
    _, reward, _, _, info = env.step(np.zeros(3, np.float32))
    assert reward == pytest.approx(-abs(info["ci_feature"] - math.log(1.5)))
    maximise = WaveFieldEnv(
        size=24,
        steps_per_tick=4,
        episode_ticks=3,
        warmup_ticks=2,
        reward="max",
        action_cost=0.5,
        reference=env.reference,
    )
    maximise.reset(seed=4)
    _, reward, _, _, info = maximise.step(np.ones(3, np.float32))
    assert reward == pytest.approx(info["ci_feature"] - 0.5)


def test_bad_parameters_are_refused_with_the_value() -> None:
    with pytest.raises(ConfigError, match="reward must be"):
        WaveFieldEnv(size=24, reward="min")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="size must be >= 16"):
        WaveFieldEnv(size=8)
