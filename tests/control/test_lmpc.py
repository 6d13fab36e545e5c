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
