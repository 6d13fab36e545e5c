"""Control per tick for a swarm, and the optimiser's overhead per evaluation.

Kalman: one predict + update of a batch of 1-state
:class:`~resonance_engine.control.KalmanFilter` (one per agent, what ``--controller mpc``
does with the signatures of a tick) for ``--agents`` agents, against the same scalar
filter written as four numpy array expressions (the lower bound of the work).

MPC: one solve of the batched :class:`~resonance_engine.control.LinearMPC` the swarm's
``mpc`` controller uses (1 state, 1 input, all agents in one QP, horizon ``--horizon``),
and of the issue's single problem (double integrator, horizon 20, |u| <= 1); beside each,
the solver's own time (OSQP) so the cvxpy share is visible.

LMPC: one :meth:`~resonance_engine.control.LMPC.solve` on the double integrator with the
safe set of three iterations (per agent and tick when every agent runs its own), and the
episodes it needs on that task, like for like (every episode from the same start; the
yardstick the constrained optimum of a 200-step QP): until within 0.5 % and 0.01 %.
The swarm's lmpc tick: ``--agents`` one-state LMPCs (horizon ``--horizon``, safe sets of
four episodes each, local safe set (4, 12)) solved one by one, as the controller did, and
as one :class:`~resonance_engine.control.LMPCBatch` QP, as it does now; beside them the
largest difference between the two answers.

Ticks/s: the control work of one tick for ``--agents`` agents (Kalman for each + one
batched MPC solve; for lmpc: Kalman + the LMPCBatch solve), against the target of 10
ticks/s.

Optimiser: :func:`~resonance_engine.optimize.optimize` on a cheap function in this
process against ``cma.fmin2`` with the same options and seed (the same evaluations), in
alternating rounds: the difference per evaluation is what the wrapper (replay check,
records, executor protocol) costs; and the same through a 2-worker process pool.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import numpy as np

from resonance_engine.bench import interleaved_seconds, median_seconds
from resonance_engine.cli.args import COUNT, integer
from resonance_engine.errors import ConfigError

__all__ = ["add_arguments", "run", "sphere"]


def sphere(x: np.ndarray) -> float:
    """The cheap objective of the overhead measurement."""
    return float(np.dot(x, x))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--agents", type=COUNT, default=100, help="agents per tick (default 100)")
    p.add_argument("--horizon", type=COUNT, default=8, help="swarm MPC horizon (default 8)")
    p.add_argument("--evaluations", type=integer(low=10), default=1000,
                   help="optimiser evaluations per timed round (default 1000)")
    p.add_argument("--repeats", type=COUNT, default=5, help="timed rounds; medians reported")
    p.add_argument("--no-pool", action="store_true", help="skip the process-pool overhead")


def _kalman(agents: int, repeats: int) -> dict[str, Any]:
    from resonance_engine.control import KalmanFilter

    rng = np.random.default_rng(0)
    kalman = KalmanFilter([[0.7]], [[1.0]], [[1e-3]], [[2.5e-3]], B=[[0.3]], batch=agents)
    z, u = rng.normal(size=agents), rng.normal(size=agents)
    x, P = np.zeros(agents), np.ones(agents)

    def objects() -> None:
        kalman.predict(u[:, None])
        kalman.update(z[:, None])

    def arrays() -> None:
        nonlocal x, P
        xp = 0.7 * x + 0.3 * u
        Pp = 0.49 * P + 1e-3
        K = Pp / (Pp + 2.5e-3)
        x = xp + K * (z - xp)
        P = (1 - K) * Pp

    times, ratios = interleaved_seconds({"filters": objects, "numpy": arrays}, repeats)
    return {"kalman_ms_per_tick": 1e3 * times["filters"],
            "kalman_us_per_agent": 1e6 * times["filters"] / agents,
            "kalman_numpy_ms_per_tick": 1e3 * times["numpy"],
            "kalman_filters_over_numpy": ratios["numpy"]}


def _mpc_times(mpc: Any, states: Any, repeats: int) -> tuple[float, float]:
    mpc.solve(states)
    wall, inner = [], []
    for _ in range(max(repeats, 5) * 4):
        start = time.perf_counter()
        mpc.solve(states)
        wall.append(time.perf_counter() - start)
        inner.append(mpc.problem.solver_stats.solve_time or float("nan"))
    return statistics.median(wall), statistics.median(inner)


def _mpc(agents: int, horizon: int, repeats: int) -> dict[str, Any]:
    from resonance_engine.control import LinearMPC

    rng = np.random.default_rng(1)
    batch = LinearMPC([[0.7]], [[0.3]], [[4.0]], [[1.0]], horizon, u_min=-1.39, u_max=1.39,
                      batch=agents)
    batch.set_reference(np.full((agents, 1), -5.0), rng.normal(scale=0.3, size=(agents, 1)))
    batch.set_offset(rng.normal(-2.0, 0.3, size=(agents, 1)))
    wall_b, solver_b = _mpc_times(batch, rng.normal(-5.0, 1.0, size=(agents, 1)), repeats)
    A = np.array([[1.0, 1.0], [0.0, 1.0]])
    single = LinearMPC(A, [[0.5], [1.0]], np.eye(2), [[1.0]], 20, u_min=-1.0, u_max=1.0)
    wall_s, solver_s = _mpc_times(single, np.array([3.0, -1.0]), repeats)
    return {"mpc_batch_ms_per_tick": 1e3 * wall_b, "mpc_batch_solver_ms": 1e3 * solver_b,
            "mpc_batch_us_per_agent": 1e6 * wall_b / agents,
            "mpc_single_h20_ms": 1e3 * wall_s, "mpc_single_h20_solver_ms": 1e3 * solver_s}


#: Rosolia and Borrelli's task: a double integrator, |u| <= 1, |x| <= 10, from X0.
_X0 = np.array([-3.95, -0.05])


def _double_integrator(horizon: int) -> Any:
    """Their LMPC with a first feasible, poor run (slow saturated linear feedback)."""
    from resonance_engine.control import LMPC

    A, B = np.array([[1.0, 1.0], [0.0, 1.0]]), np.array([[0.0], [1.0]])
    lmpc = LMPC(A, B, np.eye(2), np.eye(1), horizon, -1.0, 1.0, -10.0, 10.0)
    xs, us, x = [_X0], [], _X0
    while np.linalg.norm(x) > 1e-4:
        u = np.clip(-np.array([[0.1, 0.5]]) @ x, -1, 1)
        x = A @ x + B @ u
        xs.append(x)
        us.append(u)
    lmpc.add_trajectory(np.array(xs), np.array(us))
    return lmpc


def _lmpc(repeats: int) -> dict[str, Any]:
    from resonance_engine.control import lmpc_convergence

    lmpc = _double_integrator(4)
    for _ in range(2):
        lmpc.run_iteration(_X0)
    seconds = median_seconds(lambda: lmpc.solve(_X0), repeats=repeats, min_time=0.2)
    out: dict[str, Any] = {"lmpc_solve_ms": 1e3 * seconds, "lmpc_episodes": lmpc.n_episodes}
    # episodes needed, like for like: the same start every episode, against the
    # constrained optimum of a 200-step QP (horizon 3, as in the tests)
    for name, tolerance in (("0.5pct", 0.005), ("0.01pct", 1e-4)):
        found = lmpc_convergence(_double_integrator(3), _X0, tolerance=tolerance)
        out[f"lmpc_task_episodes_to_{name}"] = found.episodes
        out["lmpc_task_optimum"] = found.optimum
        out["lmpc_task_costs"] = list(found.costs)
    return out


def _lmpc_swarm(agents: int, horizon: int, repeats: int) -> dict[str, Any]:
    """The lmpc controller's tick: one LMPC per agent (1 state, its own safe set of 4
    episodes, local safe set (4, 12)), solved one by one against one LMPCBatch solve."""
    from resonance_engine.control import LMPC, LMPCBatch

    rng = np.random.default_rng(3)
    a, b, width = 0.6, 0.4, 2 * (np.log(4.0) - np.log(0.25))
    lmpcs = []
    for _ in range(agents):
        lmpc = LMPC([[a]], [[b]], [[4.0]], [[1.0]], horizon, -width, width, local=(4, 12),
                    goal_tol=0.05)
        lmpc.add_trajectory(np.zeros((1, 1)), np.zeros((0, 1)))
        for z0 in rng.uniform(-2.0, 2.0, size=4):  # episodes that halve the error each tick
            steps = int(np.ceil(np.log(0.05 / abs(z0)) / np.log(0.5)))
            x = np.append(z0 * 0.5 ** np.arange(steps + 1), 0.0)[:, None]
            lmpc.add_trajectory(x, (x[1:] - a * x[:-1]) / b)
        lmpcs.append(lmpc)
    states = rng.uniform(-1.5, 1.5, size=(agents, 1))
    batch = LMPCBatch(lmpcs)

    def one_by_one() -> np.ndarray:
        return np.array([m.solve(x) for m, x in zip(lmpcs, states, strict=True)])

    difference = float(np.abs(one_by_one() - batch.solve(states)).max())
    times, ratios = interleaved_seconds({"loop": one_by_one, "batch": lambda: batch.solve(states)},
                                        repeats, min_time=0.0)
    return {"lmpc_agents_one_by_one_ms_per_tick": 1e3 * times["loop"],
            "lmpc_agents_batch_ms_per_tick": 1e3 * times["batch"],
            "lmpc_batch_speedup": ratios["batch"],
            "lmpc_batch_max_input_difference": difference}


def _optimizer(evaluations: int, repeats: int, pool: bool) -> dict[str, Any]:
    import cma

    from resonance_engine.dist.executor import LocalExecutor
    from resonance_engine.optimize import optimize

    opts = {"seed": 2, "maxfevals": evaluations, "verbose": -9, "verb_log": 0,
            "verb_disp": 0, "CMA_elitist": False, "eval_final_mean": False}
    x0 = np.full(10, 3.0)

    def direct() -> None:
        cma.fmin2(sphere, x0, 1.0, dict(opts), restarts=0, bipop=False)

    def ours() -> None:
        optimize(sphere, x0, 1.0, budget=evaluations, restarts=0, bipop=False, seed=1)

    times, ratios = interleaved_seconds({"pycma": direct, "optimize": ours}, repeats,
                                        min_time=0.0)
    out = {"optimizer_pycma_ms_per_eval": 1e3 * times["pycma"] / evaluations,
           "optimizer_ms_per_eval": 1e3 * times["optimize"] / evaluations,
           "optimizer_overhead_us_per_eval":
               1e6 * (times["optimize"] - times["pycma"]) / evaluations,
           "optimizer_over_pycma": 1.0 / ratios["optimize"]}
    if pool:
        with LocalExecutor(2) as ex:
            optimize(sphere, x0, 1.0, budget=50, restarts=0, executor=ex, seed=1)  # start
            start = time.perf_counter()
            optimize(sphere, x0, 1.0, budget=evaluations, restarts=0, bipop=False,
                     executor=ex, seed=1)
            pooled = time.perf_counter() - start
        out["optimizer_pool2_ms_per_eval"] = 1e3 * pooled / evaluations
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.agents < 1 or args.horizon < 1 or args.evaluations < 10 or args.repeats < 1:
        raise ConfigError("--agents, --horizon, --repeats must be >= 1 and --evaluations >= 10")
    out: dict[str, Any] = {"agents": args.agents, "horizon": args.horizon,
                           "load_1min": os.getloadavg()[0], "cpus": os.cpu_count()}
    out.update(_kalman(args.agents, args.repeats))
    out.update(_mpc(args.agents, args.horizon, args.repeats))
    out.update(_lmpc(args.repeats))
    out.update(_lmpc_swarm(args.agents, args.horizon, args.repeats))
    tick = out["kalman_ms_per_tick"] + out["mpc_batch_ms_per_tick"]
    out["control_ms_per_tick"] = tick
    out["control_ticks_per_s"] = 1e3 / tick
    out["meets_10_ticks_per_s"] = out["control_ticks_per_s"] >= 10
    out["lmpc_per_agent_ticks_per_s"] = 1e3 / (args.agents * out["lmpc_solve_ms"])
    lmpc_tick = out["kalman_ms_per_tick"] + out["lmpc_agents_batch_ms_per_tick"]
    out["lmpc_control_ticks_per_s"] = 1e3 / lmpc_tick
    out["lmpc_meets_10_ticks_per_s"] = out["lmpc_control_ticks_per_s"] >= 10
    out.update(_optimizer(args.evaluations, args.repeats, not args.no_pool))
    return out
