"""LMPC: monotone iteration cost, convergence to the constrained optimum, the stored safe set."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from resonance_engine.control import LMPC
from resonance_engine.errors import ControlError, InfeasibleError
from resonance_engine.store import AgentDB

# Rosolia and Borrelli's example: a double integrator, |u| <= 1, |x_i| <= 10
A = np.array([[1.0, 1.0], [0.0, 1.0]])
B = np.array([[0.0], [1.0]])
Q, R = np.eye(2), np.eye(1)
X0 = np.array([-3.95, -0.05])
BOUNDS = {"u_min": -1.0, "u_max": 1.0, "x_min": -10.0, "x_max": 10.0}


def first_trajectory(tol: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """A feasible but poor run: a slow saturated linear feedback."""
    K = np.array([[0.1, 0.5]])
    xs, us, x = [X0], [], X0
    while np.linalg.norm(x) > tol:
        u = np.clip(-K @ x, -1.0, 1.0)
        x = A @ x + B @ u
        xs.append(x)
        us.append(u)
    return np.array(xs), np.array(us)


@pytest.fixture(scope="module")
def optimum() -> float:
    """The constrained infinite-horizon optimum: a 200-step QP ending at the origin."""
    N = 200
    X, U = cp.Variable((N + 1, 2)), cp.Variable((N, 1))
    cons = [X[0] == X0, X[N] == 0, cp.abs(U) <= 1, cp.abs(X) <= 10,
            X[1:] == X[:-1] @ A.T + U @ B.T]
    problem = cp.Problem(cp.Minimize(cp.sum_squares(X) + cp.sum_squares(U)), cons)
    problem.solve(solver="CLARABEL")
    return float(problem.value)


@pytest.mark.parametrize("local", [None, (2, 8)], ids=["convex-hull", "local-safe-set"])
def test_cost_never_increases_and_reaches_the_optimum(optimum, local):
    lmpc = LMPC(A, B, Q, R, horizon=3, local=local, **BOUNDS)
    first = lmpc.add_trajectory(*first_trajectory())
    assert first > 1.3 * optimum  # the start is far from optimal
    costs = [first]
    for _ in range(10):
        run = lmpc.run_iteration(X0)
        assert np.abs(run.u).max() <= 1.0 and np.abs(run.x).max() <= 10.0
        np.testing.assert_allclose(run.x[1:], run.x[:-1] @ A.T + run.u @ B.T, atol=1e-12)
        costs.append(run.cost)
    assert all(b <= a * (1 + 1e-9) for a, b in zip(costs, costs[1:], strict=False)), costs
    within = [j for j, c in enumerate(costs) if c <= optimum * 1.005]
    assert within and within[0] <= 10
    assert costs[-1] == pytest.approx(optimum, rel=1e-6)
    assert lmpc.costs == costs


def test_learning_carries_over_through_the_database(tmp_path, optimum):
    path = tmp_path / "lmpc.db"
    with AgentDB(path) as db:
        lmpc = LMPC(A, B, Q, R, horizon=3, db=db, safe_set="di", **BOUNDS)
        lmpc.add_trajectory(*first_trajectory())
        lmpc.run_iteration(X0)
        expected = lmpc.run_iteration(X0).cost  # what a third iteration here would give
        lmpc.costs.pop()
    # a new connection (as in another process) on the first two episodes only
    with AgentDB(path) as db:
        db.conn.execute("DELETE FROM trajectories WHERE episode = 2")
        again = LMPC(A, B, Q, R, horizon=3, db=db, safe_set="di", **BOUNDS)
        assert again.n_episodes == 2
        assert again.run_iteration(X0).cost == pytest.approx(expected, rel=1e-9)
        assert db.safe_sets() == {"di": 3}
        fresh = LMPC(A, B, Q, R, horizon=3, db=db, safe_set="other", **BOUNDS)
        with pytest.raises(ControlError, match="safe set is empty"):
            fresh.solve(X0)


def test_unreachable_safe_set_is_infeasible_and_bad_trajectories_are_refused():
    lmpc = LMPC(A, B, Q, R, horizon=1, **BOUNDS)
    x, u = first_trajectory()
    lmpc.add_trajectory(x, u)
    with pytest.raises(InfeasibleError, match="cannot be reached in 1 steps"):
        lmpc.solve([9.0, 9.0])
    with pytest.raises(ControlError, match="not within goal_tol"):
        lmpc.add_trajectory(x[:-1], u[:-1])
    with pytest.raises(ControlError, match="does not follow"):
        lmpc.add_trajectory(x, u * 0.5)


def _reference_first_input(lmpc: LMPC, x: np.ndarray) -> tuple[np.ndarray, float]:
    """The LMPC's QP written out directly in cvxpy (one problem, the terminal set as it
    stands): what one LMPC solve must give."""
    points, costs = lmpc._terminal_points(x)
    N = lmpc.horizon
    X, U = cp.Variable((N + 1, 2)), cp.Variable((N, 1))
    lam = cp.Variable(len(costs), nonneg=True)
    cons = [X[0] == x, X[1:] == X[:-1] @ A.T + U @ B.T, X[N] == points.T @ lam,
            cp.sum(lam) == 1, cp.abs(U) <= 1, cp.abs(X[1:]) <= 10]
    problem = cp.Problem(cp.Minimize(cp.sum_squares(X[:N]) + cp.sum_squares(U) + costs @ lam),
                         cons)
    problem.solve(solver="CLARABEL")
    return U.value[0], float(problem.value)


@pytest.mark.parametrize("local", [None, (2, 8)], ids=["convex-hull", "local-safe-set"])
def test_a_batch_gives_every_lmpc_the_plan_of_its_own_qp(local):
    """LMPCBatch: several safe sets, one QP; each copy's plan is its own problem's."""
    import copy

    from resonance_engine.control import LMPCBatch

    lmpcs = []
    for gain, extra in (([[0.1, 0.5]], 0), ([[0.2, 0.8]], 1), ([[0.1, 0.5]], 2)):
        lmpc = LMPC(A, B, Q, R, horizon=3, local=local, **BOUNDS)
        xs, us, x = [X0], [], X0
        while np.linalg.norm(x) > 1e-4:
            u = np.clip(-np.array(gain) @ x, -1.0, 1.0)
            x = A @ x + B @ u
            xs.append(x)
            us.append(u)
        lmpc.add_trajectory(np.array(xs), np.array(us))
        for _ in range(extra):
            lmpc.run_iteration(X0)
        lmpcs.append(lmpc)
    states = np.array([[-3.0, 0.5], [-1.0, -0.2], [2.0, 0.0]])
    alone = copy.deepcopy(lmpcs)
    separate = np.array([m.solve(x) for m, x in zip(alone, states, strict=True)])
    for m, x, u in zip(copy.deepcopy(lmpcs), states, separate, strict=True):
        u_ref, cost = _reference_first_input(m, x)
        np.testing.assert_allclose(u, u_ref, atol=1e-6)
    batch = LMPCBatch(lmpcs)
    together = batch.solve(states)
    np.testing.assert_allclose(together, separate, atol=1e-6)
    for m, single in zip(lmpcs, alone, strict=True):
        np.testing.assert_allclose(m.plan.x, single.plan.x, atol=1e-6)
        assert m.plan.cost == pytest.approx(single.plan.cost, rel=1e-6)
    # a subset, in another order, is the same again
    np.testing.assert_allclose(batch.solve(states[[2, 0]], which=[2, 0]),
                               separate[[2, 0]], atol=1e-6)


def test_a_batch_refuses_mixed_models_and_reports_an_unreachable_state():
    from resonance_engine.control import LMPCBatch

    a, b = (LMPC(A, B, Q, R, horizon=1, **BOUNDS) for _ in range(2))
    for lmpc in (a, b):
        lmpc.add_trajectory(*first_trajectory())
    with pytest.raises(ControlError, match="must share"):
        LMPCBatch([a, LMPC(A, B, Q, 2 * R, horizon=1, **BOUNDS)])
    with pytest.raises(InfeasibleError, match="one of the 2 states"):
        LMPCBatch([a, b]).solve([X0, [9.0, 9.0]])


def test_episodes_needed_counts_to_the_optimum_computed_outside(optimum):
    """The like-for-like measure: episodes from the same start until the cost is within a
    tolerance of the constrained optimum (here the test's own 200-step QP)."""
    from resonance_engine.control import lmpc_convergence

    lmpc = LMPC(A, B, Q, R, horizon=3, **BOUNDS)
    lmpc.add_trajectory(*first_trajectory())
    tol = 1e-4
    found = lmpc_convergence(lmpc, X0, tolerance=tol, max_episodes=10)
    assert found.optimum == pytest.approx(optimum, rel=1e-6)
    assert found.bound_active  # |u| <= 1 is active: the constrained optimum
    costs = np.array(found.costs)
    assert list(costs) == lmpc.costs[1:]  # the episodes run, after the first trajectory
    assert found.episodes is not None, costs  # LMPC converged
    within = np.flatnonzero(costs <= (1 + tol) * optimum)
    assert found.episodes == within[0] + 1 == len(costs) == 2  # the first within, from 1
    assert costs[0] > (1 + tol) * optimum  # the first episode is not yet within 0.01 %
    # a local safe set with horizon 2 stalls 0.05 % above the optimum: no count
    stalled = LMPC(A, B, Q, R, horizon=2, local=(2, 8), **BOUNDS)
    stalled.add_trajectory(*first_trajectory())
    short = lmpc_convergence(stalled, X0, tolerance=tol, max_episodes=4)
    assert short.episodes is None and len(short.costs) == 4
    assert min(short.costs) > (1 + tol) * optimum
    assert np.all(np.diff(short.costs) <= 1e-9 * np.array(short.costs[:-1]))  # never worse
