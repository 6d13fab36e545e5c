"""LinearMPC: the constrained double integrator, LQR equivalence, infeasibility, batches."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
import scipy.linalg

from resonance_engine.control import LinearMPC
from resonance_engine.errors import ControlError, InfeasibleError

DT = 0.5
A = np.array([[1.0, DT], [0.0, 1.0]])
B = np.array([[0.5 * DT**2], [DT]])


@pytest.mark.parametrize("solver", ["OSQP", "CLARABEL"])
def test_double_integrator_is_brought_to_the_origin_within_bounds(solver):
    mpc = LinearMPC(A, B, np.eye(2), [[0.1]], horizon=20, u_min=-1.0, u_max=1.0,
                    x_min=[-np.inf, -2.0], x_max=[np.inf, 2.0], solver=solver)
    x = np.array([10.0, 0.0])
    xs, us = [x], []
    for _ in range(60):
        u = mpc.solve(x)
        x = A @ x + B @ u
        xs.append(x)
        us.append(u)
    us, xs = np.array(us), np.array(xs)
    assert np.abs(us).max() <= 1.0
    assert np.abs(us).max() == pytest.approx(1.0)  # the bound is active at the start
    assert np.abs(xs[:, 1]).max() <= 2.0 + 1e-5  # speed limit met
    assert np.abs(xs[:, 1]).max() > 1.9  # and active
    assert np.linalg.norm(xs[-1]) < 1e-4


def test_without_active_constraints_it_is_the_lqr():
    Q, R = np.eye(2), np.array([[0.5]])
    mpc = LinearMPC(A, B, Q, R, horizon=5)
    P = scipy.linalg.solve_discrete_are(A, B, Q, R)
    K = np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)
    x0 = np.array([0.3, -0.2])
    np.testing.assert_allclose(mpc.solve(x0), -K @ x0, atol=1e-5)
    assert mpc.plan.x.shape == (6, 2) and mpc.plan.u.shape == (5, 1)
    np.testing.assert_allclose(mpc.plan.x[0], x0)


def test_first_move_matches_a_direct_cvxpy_qp():
    mpc = LinearMPC(A, B, np.eye(2), [[0.1]], horizon=8, u_min=-0.5, u_max=0.5,
                    terminal="zero")
    x0 = np.array([1.0, 0.0])
    u0 = mpc.solve(x0)
    X, U = cp.Variable((9, 2)), cp.Variable((8, 1))
    cons = [X[0] == x0, X[8] == 0, cp.abs(U) <= 0.5]
    cons += [X[k + 1] == A @ X[k] + B @ U[k] for k in range(8)]
    cost = cp.sum_squares(X[1:8]) + 0.1 * cp.sum_squares(U)
    ref = cp.Problem(cp.Minimize(cost), cons)
    ref.solve(solver="CLARABEL")
    assert mpc.plan.cost == pytest.approx(ref.value, rel=1e-4)
    np.testing.assert_allclose(u0, U.value[0], atol=1e-4)


def test_infeasible_problem_raises_a_clear_error():
    mpc = LinearMPC(A, B, np.eye(2), [[1.0]], horizon=3, u_min=-0.1, u_max=0.1,
                    x_min=[-1.0, -1.0], x_max=[1.0, 1.0])
    with pytest.raises(InfeasibleError, match="infeasible from x0=.*widen them"):
        mpc.solve([0.9, 1.0])  # moving at 1.0 towards the wall, too little braking


def test_batch_solves_each_copy_like_a_single_mpc(rng):
    X0 = rng.normal(size=(5, 2))
    batch = LinearMPC(A, B, np.eye(2), [[0.2]], horizon=10, u_min=-0.3, u_max=0.3, batch=5)
    single = LinearMPC(A, B, np.eye(2), [[0.2]], horizon=10, u_min=-0.3, u_max=0.3)
    U = batch.solve(X0)
    assert U.shape == (5, 1)
    for k in range(5):
        np.testing.assert_allclose(U[k], single.solve(X0[k]), atol=1e-4)


def test_reference_tracking_with_offset():
    # x+ = 0.5 x + u + 1: holding x at 3 needs u = 0.5 (u_ref), then the cost is zero
    mpc = LinearMPC([[0.5]], [[1.0]], [[1.0]], [[1.0]], horizon=5, offset=[1.0])
    mpc.set_reference([3.0], [0.5])
    np.testing.assert_allclose(mpc.solve([3.0]), [0.5], atol=1e-6)
    assert mpc.plan.cost == pytest.approx(0.0, abs=1e-8)


def test_bad_arguments():
    with pytest.raises(ControlError, match="horizon must be"):
        LinearMPC(A, B, np.eye(2), [[1.0]], horizon=0)
    with pytest.raises(ControlError, match="R must be positive definite"):
        LinearMPC(A, B, np.eye(2), [[0.0]], horizon=3)
    with pytest.raises(ControlError, match="u_min must be <= u_max"):
        LinearMPC(A, B, np.eye(2), [[1.0]], horizon=3, u_min=1, u_max=-1)
    with pytest.raises(ControlError, match="not installed"):
        LinearMPC(A, B, np.eye(2), [[1.0]], horizon=3, solver="NOPE")
    mpc = LinearMPC(A, B, np.eye(2), [[1.0]], horizon=3)
    with pytest.raises(ControlError, match="x0 must"):
        mpc.solve([1.0, np.nan])
