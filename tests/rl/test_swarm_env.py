"""SwarmEnv: PettingZoo's parallel API test, one batched solver, local observations."""

from __future__ import annotations

import re

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from resonance_engine.errors import ConfigError
from resonance_engine.rl import SWARM_OBSERVATION_SIZE, SwarmEnv, observation_size
from resonance_engine.rl.evaluate import (
    Condition,
    held_out_seeds,
    phase_following_actor,
    random_actor,
    run_episode,
)
from resonance_engine.rl.swarm_env import window_correlations
from resonance_engine.swarm.sync import mean_pairwise_correlation, series_cs


@pytest.fixture(scope="module")
def env() -> SwarmEnv:
    return SwarmEnv(
        n_agents=3, size=24, steps_per_tick=4, episode_ticks=8, warmup_ticks=3, window=4
    )


def test_passes_the_pettingzoo_parallel_api_test(env: SwarmEnv) -> None:
    parallel_api_test(env, num_cycles=20)


def test_all_agents_share_one_batched_solver(env: SwarmEnv) -> None:
    """One solver call steps every agent's field; a tick is one call per measured frame
    (the swarm averages CI over the tick's frames by default, one frame with
    ci_average=False)."""
    env.reset(seed=0)
    assert env.swarm is not None
    assert env.swarm.solver.u.shape == (3, 24, 24)
    calls = []
    step = env.swarm.solver.step
    env.swarm.solver.step = lambda n=1: (calls.append(n), step(n))[1]  # type: ignore[method-assign]
    env.step({a: env.action_space(a).sample() for a in env.agents})
    assert sum(calls) == 4 and len(calls) == 4 // env.swarm.measure_every
    single = SwarmEnv(
        n_agents=3,
        size=24,
        steps_per_tick=4,
        episode_ticks=2,
        warmup_ticks=1,
        window=3,
        swarm={"ci_average": False},
        reference=env.reference,
    )
    single.reset(seed=0)
    assert single.swarm is not None
    step_single = single.swarm.solver.step
    calls.clear()
    single.swarm.solver.step = lambda n=1: (calls.append(n), step_single(n))[1]  # type: ignore[method-assign]
    single.step({a: np.zeros(3, np.float32) for a in single.agents})
    assert calls == [4]


def test_shared_reward_is_the_windowed_cs_minus_the_action_cost(env: SwarmEnv) -> None:
    obs, _ = env.reset(seed=1)
    assert set(obs) == set(env.possible_agents)
    assert all(o.shape == (SWARM_OBSERVATION_SIZE,) for o in obs.values())
    actions = {a: np.full(3, 0.5, np.float32) for a in env.agents}
    for _ in range(5):
        _, rewards, _, _, infos = env.step(actions)
    assert env.swarm is not None and env.swarm.coordinator is not None
    window = env.swarm.coordinator.ci_history()[-4:]
    expected = series_cs(window) - env.action_cost * 0.25
    assert len(set(rewards.values())) == 1
    assert rewards["agent_0"] == pytest.approx(expected, abs=1e-9)
    assert infos["agent_0"]["cs"] == pytest.approx(series_cs(window), abs=1e-9)


def test_an_agent_sees_its_own_signature_and_the_aggregate_only(env: SwarmEnv) -> None:
    env.reset(seed=2)
    obs, *_ = env.step({a: np.zeros(3, np.float32) for a in env.agents})
    # the aggregate part is the same for every agent, the own part differs
    np.testing.assert_array_equal(obs["agent_0"][10:20], obs["agent_1"][10:20])
    assert not np.array_equal(obs["agent_0"][0:5], obs["agent_1"][0:5])


def test_same_seed_same_episode(env: SwarmEnv) -> None:
    def run() -> list[float]:
        env.reset(seed=7)
        rng = np.random.default_rng(0)
        out = []
        while env.agents:
            _, rewards, *_ = env.step({a: rng.uniform(-1, 1, 3) for a in env.agents})
            out.append(rewards["agent_0"])
        return out

    assert run() == run()


def test_per_agent_rewards_differ_and_invalid_actions_never_crash() -> None:
    env = SwarmEnv(
        n_agents=3,
        size=24,
        steps_per_tick=4,
        episode_ticks=6,
        warmup_ticks=3,
        window=4,
        reward="per_agent",
    )
    env.reset(seed=3)
    for _ in range(5):
        _, rewards, _, _, infos = env.step(
            {
                "agent_0": np.array([np.nan, 0, 0]),
                "agent_1": np.array([9.0, 0, 0]),
                "agent_2": np.zeros(5),
            }  # wrong length: treated as invalid
        )
    assert infos["agent_0"]["invalid_actions"] == 3
    assert len(set(rewards.values())) > 1


def test_a_common_trend_earns_pearson_cs_but_not_the_differenced_cs() -> None:
    """Four series that share only a trend (each with its own noise) correlate at ~1, their
    differences at ~0; series that share their fluctuations (a common random walk) score
    high under both. Fails if ``differenced`` were ignored or differenced the wrong axis."""
    rng = np.random.default_rng(0)
    t = np.arange(64.0)[:, None]
    trend = 0.2 * t + rng.normal(0, 0.3, (64, 4))
    pearson = mean_pairwise_correlation(window_correlations(trend))
    diff = mean_pairwise_correlation(window_correlations(trend, differenced=True))
    assert pearson > 0.95 and abs(diff) < 0.15, (pearson, diff)
    assert pearson == pytest.approx(series_cs(trend), abs=1e-12)
    walk = np.cumsum(rng.normal(0, 1, (64, 1)), axis=0) + rng.normal(0, 0.2, (64, 4))
    assert mean_pairwise_correlation(window_correlations(walk, differenced=True)) > 0.8
    constant = np.column_stack([np.ones(8), np.arange(8.0), np.arange(8.0) ** 2])
    corr = window_correlations(constant)
    assert np.isnan(corr[0]).all() and np.isfinite(corr[1, 2])  # a constant series: undefined
    assert np.isnan(window_correlations(trend[:3], differenced=True)).all()  # 2 differences


def test_diff_reward_pays_the_differenced_window_cs_and_order_weight_adds_r() -> None:
    """reward='diff' pays the CS of the last `window` differences of the coordinator's CI
    history (not of the series themselves); order_weight adds w * R of the drive phases,
    the same episode otherwise (same seed, same actions)."""
    kwargs = dict(n_agents=3, size=24, steps_per_tick=4, episode_ticks=6, warmup_ticks=3,
                  window=4, observation="drive", action="per-source")
    plain = SwarmEnv(**kwargs, reward="diff")
    shaped = SwarmEnv(**kwargs, reward="diff", order_weight=2.0, reference=plain.reference)
    action = np.array([0.0, 0.5, 0.3, -0.3, 0.1])
    cost = plain.action_cost * np.mean(action**2)
    for env in (plain, shaped):
        env.reset(seed=4)
    for _ in range(5):
        _, r_plain, _, _, i_plain = plain.step(dict.fromkeys(plain.agents, action))
        _, r_shaped, _, _, i_shaped = shaped.step(dict.fromkeys(shaped.agents, action))
        assert plain.swarm is not None and plain.swarm.coordinator is not None
        history = plain.swarm.coordinator.ci_history()
        expected = mean_pairwise_correlation(window_correlations(history[-5:], differenced=True))
        expected = expected if np.isfinite(expected) else 0.0
        assert r_plain["agent_0"] == pytest.approx(expected - cost, abs=1e-9)
        assert i_plain["agent_0"]["score"] == pytest.approx(expected, abs=1e-9)
        order = i_plain["agent_0"]["order"]
        assert order == pytest.approx(float(plain.swarm.drive_order_parameter().mean()))
        assert 0.0 <= order <= 1.0 and i_shaped["agent_0"]["order"] == pytest.approx(order)
        assert r_shaped["agent_0"] == pytest.approx(r_plain["agent_0"] + 2.0 * order, abs=1e-9)
    assert i_plain["agent_0"]["cs"] != pytest.approx(expected, abs=1e-6)  # not the raw CS
    per = SwarmEnv(**kwargs, reward="diff_per_agent", reference=plain.reference)
    per.reset(seed=4)
    for _ in range(5):
        _, rewards, _, _, infos = per.step(dict.fromkeys(per.agents, action))
    assert infos["agent_0"]["score"] == pytest.approx(expected, abs=1e-9)
    assert per.swarm is not None and per.swarm.coordinator is not None
    corr = window_correlations(per.swarm.coordinator.ci_history()[-5:], differenced=True)
    own = np.nan_to_num(np.nanmean(corr, axis=1))
    np.testing.assert_allclose([rewards[a] for a in per.possible_agents], own - cost, atol=1e-9)


def test_own_order_reward_pays_each_agent_its_alignment_with_the_mean_phase() -> None:
    """order_reward='own' adds w * Re(conj(z_k) exp(i phi_ik)) averaged over the sources k
    (z_k = mean_i exp(i phi_ik)) to agent i's reward, the same episode otherwise; its mean
    over the agents is the mean of R_k^2, and an agent opposite the others is paid less
    than nothing."""
    kwargs = dict(n_agents=3, size=24, steps_per_tick=4, episode_ticks=6, warmup_ticks=3,
                  window=4, observation="drive", action="per-source", reward="diff")
    plain = SwarmEnv(**kwargs)
    own = SwarmEnv(**kwargs, order_weight=2.0, order_reward="own", reference=plain.reference)
    action = np.array([0.0, 0.5, 0.3, -0.3, 0.1])
    for env in (plain, own):
        env.reset(seed=4)
    spread = 0.0
    for _ in range(5):
        _, r_plain, _, _, _ = plain.step(dict.fromkeys(plain.agents, action))
        _, r_own, _, _, i_own = own.step(dict.fromkeys(own.agents, action))
        assert own.swarm is not None
        phases = np.stack([agent.phase for agent in own.swarm.agents])  # (agents, sources)
        z = np.exp(1j * phases).mean(axis=0)
        alignment = np.real(np.conj(z) * np.exp(1j * phases)).mean(axis=1)
        paid = np.array([r_own[a] - r_plain[a] for a in own.possible_agents])
        np.testing.assert_allclose(paid, 2.0 * alignment, atol=1e-9)
        assert paid.mean() / 2.0 == pytest.approx(float(np.mean(np.abs(z) ** 2)))
        assert i_own["agent_0"]["order"] == pytest.approx(float(np.abs(z).mean()))
        spread = max(spread, float(np.ptp(paid)))
    assert spread > 1e-3  # the agents are paid differently
    for agent, phase in zip(own.swarm.agents, (0.0, 0.0, np.pi), strict=True):
        agent.phase = np.full_like(agent.phase, phase)
    assert own.order() == pytest.approx(1 / 3)
    alignment = own.alignment()
    np.testing.assert_allclose(alignment, [1 / 3, 1 / 3, -1 / 3], atol=1e-12)  # mean 1/9 = R^2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reward": "pearson"}, "reward must be one of shared, per_agent, diff, diff_per_agent"),
        ({"order_weight": -1.0}, "order_weight must be a finite number >= 0, got -1.0"),
        ({"order_weight": float("nan")}, "order_weight must be a finite number >= 0"),
        ({"order_reward": "mine"}, "order_reward must be one of shared, own (SwarmEnv), got"),
        ({"reward": "diff", "cs": "mdea", "episode_ticks": 400}, "use it with reward='shared'"),
    ],
)
def test_bad_reward_settings_are_refused_with_the_value(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        SwarmEnv(n_agents=2, size=24, **kwargs)


def test_mdea_reward_needs_a_long_enough_episode() -> None:
    with pytest.raises(ConfigError, match="episode_ticks >= MDEA window"):
        SwarmEnv(n_agents=2, size=24, episode_ticks=32, cs="mdea")


def test_drive_observation_holds_the_phase_gaps_to_the_swarm_mean_drive() -> None:
    """obs[22] is ln(W / w_i) in units of 2 %, obs[23:23+n] R_k sin(Psi_k - phi_ik) and
    obs[23+n:] R_k cos(...), from the agents' own drives and their mean phasor."""
    env = SwarmEnv(
        n_agents=3, size=24, steps_per_tick=4, episode_ticks=4, warmup_ticks=2, window=3,
        observation="drive", action="per-source",
    )
    n = env.n_sources
    assert env.observation_space("agent_0").shape == (observation_size("drive", n),) == (29,)
    assert env.action_space("agent_0").shape == (2 + n,)
    env.reset(seed=3)
    obs, *_ = env.step({a: np.zeros(2 + n, np.float32) for a in env.agents})
    assert env.swarm is not None
    phases = np.stack([a.phase for a in env.swarm.agents])
    omega = np.array([a.natural_frequency[0] for a in env.swarm.agents])
    z = np.exp(1j * phases).mean(axis=0)
    for i, name in enumerate(env.possible_agents):
        gap = z * np.exp(-1j * phases[i])
        np.testing.assert_allclose(obs[name][23 : 23 + n], gap.imag, atol=2e-3)
        np.testing.assert_allclose(obs[name][23 + n :], gap.real, atol=2e-3)
        assert obs[name][22] == pytest.approx(np.log(omega.mean() / omega[i]) / 0.02, abs=1e-3)
    with pytest.raises(ConfigError, match="does not send"):
        SwarmEnv(n_agents=2, size=24, coupling=0.5, observation="drive", reference=env.reference)


def _final_cs_and_order(actor_name: str) -> tuple[float, float]:
    env = SwarmEnv(
        n_agents=3, size=24, steps_per_tick=10, episode_ticks=32, warmup_ticks=5, window=12,
        observation="drive", action="per-source",
    )
    actor = {
        "follow": phase_following_actor(env.n_sources, env.limits),
        "random": random_actor(0, env.action_size),
    }[actor_name]
    cs, order = [], []
    for seed in held_out_seeds(3):
        result = run_episode(env, Condition(actor_name, actor=actor), seed)
        assert env.swarm is not None
        cs.append(result.cs_final)
        order.append(float(env.swarm.drive_order_parameter().mean()))
    env.close()
    return float(np.mean(cs)), float(np.mean(order))


def test_phase_following_through_the_env_locks_the_drives_and_raises_cs() -> None:
    """A hand-written phase follower acting only on what the drive observation shows and
    only through per-source nudges locks every source's phase across the agents and makes
    the CI series correlate; random actions through the same env do neither (fails if the
    gaps, their signs or the nudges were wired wrong)."""
    follow_cs, follow_r = _final_cs_and_order("follow")
    random_cs, random_r = _final_cs_and_order("random")
    assert follow_r > 0.95 and random_r < 0.8
    assert follow_cs > random_cs + 0.2
