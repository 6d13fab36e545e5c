"""The lmpc swarm controller: Learning MPC per agent, episode by episode, safe sets in AgentDB.

A linear stand-in plant (log CI_i+ = a log CI_i + b theta_i + c_i, exactly the controller's
model class) makes the task repeatable, so what LMPC promises can be checked: every
episode reaches the goal, it is stored with its cost, and a later run on the same database
starts from the stored episodes and does the same task at no higher cost.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from resonance_engine.cli.main import main
from resonance_engine.store import AgentDB
from resonance_engine.swarm import LMPCController
from resonance_engine.swarm.controllers import CONTROLLERS
from resonance_engine.swarm.coupling import make_coupling
from swarm.standin import standin_factory

A, B = 0.6, 0.8


class _Plant:
    """Agents whose log CI follows the controller's model class exactly."""

    def __init__(self, offsets: list[float]) -> None:
        self.c = np.array(offsets)
        self.x = self.c / (1 - A)  # at rest at theta = 0
        self.agents = [SimpleNamespace(agent_id=i, theta=0.0, theta0=0.0,
                                       natural_frequency=np.ones(1), last=None)
                       for i in range(len(offsets))]

    def tick(self) -> SimpleNamespace:
        theta = np.array([a.theta for a in self.agents])
        self.x = A * self.x + B * theta + self.c
        for agent, x in zip(self.agents, self.x, strict=True):
            agent.last = SimpleNamespace(ci=math.exp(x))
        return SimpleNamespace(ci=float(np.exp(self.x).mean()))


def _run(ctl: LMPCController, ticks: int, kick_every: int = 0) -> _Plant:
    plant = _Plant([-0.4, 0.0, 0.5])
    for k in range(ticks):
        if kick_every and k > ctl.warmup and k % kick_every == 0:
            plant.c = plant.c + np.array([0.3, -0.3, 0.2])  # a disturbance: a new episode
        ctl.adapt(plant, plant.tick(), 0.1 * k, 0.1)
    return plant


def _controller(db: str | None = None) -> LMPCController:
    return make_coupling("lmpc", 4.0, warmup=16, horizon=1, dither=0.2, dither_hold=1,
                         goal_tol=0.02,
                         db=db)  # type: ignore[return-value]


def test_lmpc_brings_every_agent_to_the_swarm_ci_and_stores_each_episode():
    ctl = _controller()
    plant = _run(ctl, 120, kick_every=40)
    st = ctl.live
    assert abs(st.a - A) < 0.01 and abs(st.b - B) < 0.01  # identified from the dither
    target = math.log(np.exp(plant.x).mean())
    assert np.all(np.abs(plant.x - target) <= 0.02)  # everyone at the swarm's CI
    episodes = ctl.describe()["episodes"]
    # a first episode per agent, and one more after each of the two kicks
    assert episodes["completed"] == 3 * 3 and episodes["abandoned"] == 0
    assert all(len(c) == 3 for c in st.costs)
    assert all(m.n_episodes == 1 + 3 for m in st.mpc)  # the goal seed plus the episodes
    lo, hi = ctl.theta_bounds
    assert all(lo <= a.theta <= hi for a in plant.agents)


def test_a_later_run_learns_from_the_database_and_does_the_task_at_no_higher_cost(tmp_path):
    db = str(tmp_path / "lmpc.sqlite")
    totals = []
    for _ in range(4):  # the same task four times; only the database carries over
        ctl = _controller(db)
        _run(ctl, 60)
        assert ctl.describe()["episodes"]["completed"] == 3
        # what the controller can change: the cost after the unavoidable first state
        z0 = np.array([AgentDB(db).trajectories(f"swarm-lmpc:agent{i}")[-1].x[0, 0]
                       for i in range(3)])
        totals.append(sum(c[0] for c in ctl.live.costs) - ctl.strength * float(z0 @ z0))
    stored = AgentDB(db).safe_sets()
    assert stored == {f"swarm-lmpc:agent{i}": 1 + 4 for i in range(3)}
    totals_ = np.array(totals)  # the agents share the task (their target is the swarm's CI)
    assert np.all(np.diff(totals_) <= 1e-6 * totals_[:-1])  # never worse
    assert totals_[-1] < 0.97 * totals_[0]  # and better than without experience (-6 %)


def test_lmpc_is_a_controller_of_the_swarm_command(tmp_path, capsys):
    assert "lmpc" in CONTROLLERS
    with pytest.raises(Exception, match="goal_tol > 0"):
        LMPCController(strength=1.0, goal_tol=0.0)
    code = main(["swarm", "--controller", "lmpc", "--coupling", "4", "--agents", "3",
                 "--ticks", "12", "--size", "16", "--window", "4", "--no-db", "--json",
                 "--quiet", "--out", str(tmp_path)])
    assert code == 0
    assert '"coupling_mode": "lmpc"' in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["mpc", "lmpc"])
def test_a_restart_from_a_snapshot_continues_the_controller_exactly(mode: str) -> None:
    """Basin stability restarts from snapshots: they carry what a controller has learnt
    (data, model, filters, safe sets), so an unperturbed restart is the original run."""
    import logging
    import pickle

    from resonance_engine.swarm import Swarm, SwarmConfig

    logging.getLogger("resonance_engine.swarm.health").setLevel(logging.ERROR)
    coupling = make_coupling(mode, 4.0, warmup=12, refit=4, dither_hold=4)
    swarm = Swarm(3, SwarmConfig(size=24, steps_per_tick=4, window=8), coupling=coupling,
                  seed=2, measure=standin_factory).run(30)
    snapshot = pickle.loads(pickle.dumps(swarm.snapshot()))  # as a process pool sends it
    swarm.run(12)
    restored = Swarm.from_snapshot(snapshot).run(12)
    assert restored.coupling.live.ticks == swarm.coupling.live.ticks == 42
    assert restored.coupling.live.model is not None  # a model was accepted and carried over
    np.testing.assert_array_equal(restored.theta_series()[-12:], swarm.theta_series()[-12:])
    np.testing.assert_array_equal(restored.ci_series()[-12:], swarm.ci_series()[-12:])
    if mode == "lmpc":
        assert restored.coupling.describe()["episodes"] == swarm.coupling.describe()["episodes"]


def test_one_qp_for_all_agents_gives_the_drives_of_one_qp_per_agent():
    """batch=True (LMPCBatch, the default) against the per-agent solves it replaced."""
    drives = []
    for batch in (True, False):
        ctl = make_coupling("lmpc", 4.0, warmup=16, horizon=3, dither=0.2, dither_hold=1,
                            goal_tol=0.02, batch=batch)
        plant = _Plant([-0.4, 0.0, 0.5])
        thetas = []
        for k in range(100):
            if k > ctl.warmup and k % 30 == 0:
                plant.c = plant.c + np.array([0.3, -0.3, 0.2])
            ctl.adapt(plant, plant.tick(), 0.1 * k, 0.1)
            thetas.append([a.theta for a in plant.agents])
        drives.append(np.array(thetas))
        assert ctl.describe()["episodes"]["completed"] >= 6
    np.testing.assert_allclose(drives[0], drives[1], atol=1e-6)


def test_episodes_needed_on_the_fixed_task_against_an_optimum_found_by_scipy():
    """The like-for-like count: the controller's LMPC (its identified model, weights,
    horizon, bounds) from a fixed error; the yardstick computed here with scipy."""
    from scipy.optimize import minimize

    ctl = make_coupling("lmpc", 4.0, warmup=16, horizon=3, dither=0.2, dither_hold=1)
    assert ctl.episodes_needed() is None  # no model yet
    _run(ctl, 40)
    st = ctl.live
    a, b, q = st.a, st.b, ctl.strength
    lo, hi = ctl.theta_bounds
    width, start, T = 2 * (hi - lo), 11.0, 80
    # z = start a^k + M v: the constrained optimum of sum q z_k^2 + v_k^2, |v| <= width
    k = np.arange(T)
    M = np.tril(b * a ** np.maximum(k[:, None] - k[None, :] - 1, 0), -1)
    free = start * a**k

    def cost(v):
        z = free + M @ v
        return q * z @ z + v @ v, 2 * q * M.T @ z + 2 * v

    best = minimize(cost, np.zeros(T), jac=True, method="L-BFGS-B",
                    bounds=[(-width, width)] * T, options={"ftol": 1e-15, "gtol": 1e-12})
    assert np.isclose(np.abs(best.x).max(), width)  # the bound is active at this start
    found = ctl.episodes_needed(start, tolerance=0.005, max_episodes=10)
    assert found is not None and found.bound_active
    assert found.optimum == pytest.approx(best.fun, rel=1e-6)
    assert found.episodes is not None  # converged within 10
    costs = np.array(found.costs)
    assert found.episodes == np.flatnonzero(costs <= 1.005 * best.fun)[0] + 1
    assert costs.min() >= best.fun * (1 - 1e-6)  # no episode beats the optimum
    assert st.mpc[0].n_episodes >= 1 and all(m.db is None for m in st.mpc)  # agents untouched
