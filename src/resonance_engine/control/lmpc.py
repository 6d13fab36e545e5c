"""LMPC: learning model-predictive control for an iterative task (Rosolia and Borrelli).

The task is repeated from the same start: drive x+ = A x + B u to the goal x = 0 under box
constraints while minimising sum_k x_k'Q x_k + u_k'R u_k. Every closed-loop trajectory
that reached the goal is kept in a *sampled safe set* with the cost-to-go of each of its
states. At each step LMPC solves ::

    min   sum_{k<N} x_k'Q x_k + u_k'R u_k  +  sum_i lambda_i J_i
    s.t.  x_0 = x,  x_{k+1} = A x_k + B u_k,  constraints,
          x_N = sum_i lambda_i s_i,  lambda >= 0,  sum_i lambda_i = 1

over the stored states s_i with cost-to-go J_i (plus the goal itself with J = 0): the
terminal state must lie in the convex hull of the safe set and pays the barycentric
cost-to-go. For a linear system with convex constraints this keeps every iteration
feasible, makes the iteration cost non-increasing and converges to the constrained
infinite-horizon optimum (Rosolia and Borrelli, "Learning Model Predictive Control for
Iterative Tasks", IEEE TAC 2018, the convex-hull version of their linear case).

With ``db`` the safe set lives in AgentDB's ``trajectories`` table under ``safe_set``, so
another process (or a later session) that opens the same file starts from what was learnt.
``local=(episodes, points)`` uses only the ``points`` states nearest to the last plan's
terminal state from each of the last ``episodes`` episodes (a smaller QP of fixed size).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from resonance_engine._lazy import lazy_module
from resonance_engine.control._checks import as_bounds, as_matrix, as_vector, psd_sqrt
from resonance_engine.control.mpc import MPCPlan
from resonance_engine.errors import ControlError, InfeasibleError

if TYPE_CHECKING:
    import cvxpy as cp

    from resonance_engine.store import AgentDB
else:
    cp = lazy_module("cvxpy")  # imported at the first solve, not with the package

__all__ = ["LMPC", "Trajectory"]


@dataclass(frozen=True)
class Trajectory:
    """One closed-loop run: states (T + 1, n), inputs (T, m), cost sum x'Qx + u'Ru."""

    x: np.ndarray
    u: np.ndarray
    cost: float


class LMPC:
    """Learning MPC on a sampled safe set.

    Parameters
    ----------
    A, B, Q, R : arrays
        Model x+ = A x + B u and stage cost x'Qx + u'Ru (Q psd, R pd).
    horizon : int
        N, planned steps (>= 1).
    u_min, u_max, x_min, x_max : float or arrays
        Box constraints (+-inf for none).
    db : AgentDB, optional
        Where the safe set is stored; its episodes under ``safe_set`` are loaded now.
    safe_set : str
        Name of the safe set in ``db``.
    local : (int, int), optional
        (last episodes, nearest points per episode) for the local safe set.
    solver : str
        cvxpy solver; "CLARABEL" (interior point, accurate enough for the monotone
        iteration cost) by default.
    goal_tol : float
        A run has reached the goal when |x| <= goal_tol (Euclidean).
    """

    def __init__(
        self,
        A: Any,
        B: Any,
        Q: Any,
        R: Any,
        horizon: int,
        u_min: Any = -np.inf,
        u_max: Any = np.inf,
        x_min: Any = None,
        x_max: Any = None,
        *,
        db: AgentDB | None = None,
        safe_set: str = "lmpc",
        local: tuple[int, int] | None = None,
        solver: str = "CLARABEL",
        goal_tol: float = 1e-4,
    ) -> None:
        self.A = as_matrix("A", A, (None, None))
        n = self.A.shape[0]
        self.B = as_matrix("B", B, (n, None))
        m = self.B.shape[1]
        self.Q, self.R = as_matrix("Q", Q, (n, n)), as_matrix("R", R, (m, m))
        self._Lq, self._Lr = psd_sqrt("Q", self.Q), psd_sqrt("R", self.R)
        if not (isinstance(horizon, int | np.integer) and horizon >= 1):
            raise ControlError(f"horizon must be an int >= 1, got {horizon!r}")
        if local is not None and not (len(local) == 2 and min(local) >= 1):
            raise ControlError(f"local must be (episodes >= 1, points >= 1), got {local!r}")
        self.horizon, self.n_states, self.n_inputs = int(horizon), n, m
        self.u_min = as_bounds("u_min", u_min, m, -np.inf)
        self.u_max = as_bounds("u_max", u_max, m, np.inf)
        self.x_min = as_bounds("x_min", x_min, n, -np.inf)
        self.x_max = as_bounds("x_max", x_max, n, np.inf)
        self.db, self.safe_set, self.local = db, safe_set, local
        self.solver, self.goal_tol = solver.upper(), float(goal_tol)
        self._episodes: list[tuple[np.ndarray, np.ndarray]] = []  # (states (T+1, n), J (T+1,))
        self.costs: list[float] = []
        self.plan: MPCPlan | None = None
        self._problem: tuple[int, cp.Problem, dict[str, Any]] | None = None
        self._guide: np.ndarray | None = None
        if db is not None:
            self.refresh()

    def __getstate__(self) -> dict[str, Any]:
        """Pickles with its safe set but without the QP (rebuilt at the next solve) and
        without ``db`` (a connection; set ``db`` again after unpickling to keep storing)."""
        return {**self.__dict__, "_problem": None, "db": None}

    # ------------------------------------------------------------------ safe set
    def stage_cost(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """x_k'Q x_k + u_k'R u_k per row (u padded with zeros at the last state)."""
        u = np.vstack([u, np.zeros((len(x) - len(u), self.n_inputs))])
        return np.einsum("ij,jk,ik->i", x, self.Q, x) + np.einsum("ij,jk,ik->i", u, self.R, u)

    def refresh(self) -> None:
        """Reload the safe set from ``db`` (episodes another process added included)."""
        if self.db is None:
            return
        stored = self.db.trajectories(self.safe_set)
        for t in stored:
            if t.x.shape[1] != self.n_states:
                raise ControlError(
                    f"safe set {self.safe_set!r} holds {t.x.shape[1]}-state trajectories, this "
                    f"LMPC has {self.n_states} states; use another safe_set name"
                )
        self._episodes = [(t.x, t.cost_to_go) for t in stored]
        self.costs = [float(t.cost_to_go[0]) for t in stored]

    @property
    def n_episodes(self) -> int:
        """Number of trajectories in the safe set."""
        return len(self._episodes)

    def add_trajectory(self, x: Any, u: Any) -> float:
        """Add a trajectory that ends at the goal to the safe set; returns its cost.

        Parameters
        ----------
        x : array (T + 1, n)
            States, x[-1] within ``goal_tol`` of the goal.
        u : array (T, m)
            The inputs that produced them (checked against the model and constraints).
        """
        x = as_matrix("x", x, (None, self.n_states))
        u = as_matrix("u", np.reshape(u, (-1, self.n_inputs)), (len(x) - 1, self.n_inputs))
        if np.linalg.norm(x[-1]) > self.goal_tol:
            raise ControlError(
                f"trajectory ends at {x[-1].tolist()}, not within goal_tol={self.goal_tol} of "
                "the goal 0; the safe set only takes trajectories that reach it"
            )
        gap = np.abs(x[1:] - x[:-1] @ self.A.T - u @ self.B.T).max() if len(u) else 0.0
        scale = 1e-6 * max(1.0, np.abs(x).max())
        if gap > scale:
            raise ControlError(f"trajectory does not follow x+ = A x + B u (max gap {gap:.3g})")
        bounds = np.concatenate([self.u_min, self.u_max, self.x_min, self.x_max])
        tol = 1e-6 * (1.0 + np.abs(bounds[np.isfinite(bounds)]).max(initial=0.0))
        if (np.any(u < self.u_min - tol) or np.any(u > self.u_max + tol)
                or np.any(x < self.x_min - tol) or np.any(x > self.x_max + tol)):
            raise ControlError("trajectory violates the constraints; the safe set must be safe")
        cost_to_go = np.cumsum(self.stage_cost(x, u)[::-1])[::-1]
        if self.db is not None:
            self.db.add_trajectory(self.safe_set, x, u, cost_to_go)
        self._episodes.append((x, cost_to_go))
        self.costs.append(float(cost_to_go[0]))
        return float(cost_to_go[0])

    def _terminal_points(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """States (M, n) and cost-to-go (M,) the terminal state may combine (goal first)."""
        if not self._episodes:
            raise ControlError(
                "the safe set is empty: add one feasible trajectory that reaches the goal "
                "(add_trajectory) before solving"
            )
        goal = (np.zeros((1, self.n_states)), np.zeros(1))
        if self.local is None:
            parts = [goal, *self._episodes]
        else:
            episodes, points = self.local
            parts = [goal]
            for states, cost in self._episodes[-episodes:]:
                guide = self._guide
                if guide is None:  # first step: where this episode was N steps after x
                    i = int(np.argmin(np.linalg.norm(states - x, axis=1)))
                    guide = states[min(i + self.horizon, len(states) - 1)]
                near = np.argsort(np.linalg.norm(states - guide, axis=1))[:points]
                parts.append((states[near], cost[near]))
        return np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    # ------------------------------------------------------------------ control
    def _build(self, size: int) -> tuple[cp.Problem, dict[str, Any]]:
        n, m, N = self.n_states, self.n_inputs, self.horizon
        x0 = cp.Parameter(n, name="x0")
        points = cp.Parameter((n, size), name="safe_set")
        costs = cp.Parameter(size, name="cost_to_go")
        X, U = cp.Variable((N + 1, n)), cp.Variable((N, m))
        lam = cp.Variable(size, nonneg=True)
        cost = cp.sum_squares(X[:N] @ self._Lq.T) + cp.sum_squares(U @ self._Lr.T) + costs @ lam
        cons = [X[0] == x0, X[1:] == X[:-1] @ self.A.T + U @ self.B.T,
                X[N] == points @ lam, cp.sum(lam) == 1]
        for var, lo, hi in ((U, self.u_min, self.u_max), (X[1:], self.x_min, self.x_max)):
            for cols, bound, upper in ((np.isfinite(lo), lo, False), (np.isfinite(hi), hi, True)):
                if cols.any():
                    idx = np.flatnonzero(cols)
                    cons.append(var[:, idx] <= bound[idx] if upper else var[:, idx] >= bound[idx])
        problem = cp.Problem(cp.Minimize(cost), cons)
        return problem, {"x0": x0, "points": points, "costs": costs, "X": X, "U": U}

    def solve(self, x: Any) -> np.ndarray:
        """The first input of the LMPC plan from state ``x`` (plan kept in :attr:`plan`)."""
        x = as_vector("x", x, self.n_states)
        points, costs = self._terminal_points(x)
        if self._problem is None or self._problem[0] != len(costs):
            self._problem = (len(costs), *self._build(len(costs)))
        _, problem, p = self._problem
        p["x0"].value, p["points"].value, p["costs"].value = x, points.T, costs
        start = time.perf_counter()
        try:
            problem.solve(solver=self.solver, warm_start=True,
                          canon_backend=cp.SCIPY_CANON_BACKEND)
        except cp.error.SolverError as exc:
            raise ControlError(f"LMPC solver {self.solver} failed: {exc}") from None
        if problem.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            raise InfeasibleError(
                f"LMPC problem is infeasible from x={x.tolist()}: the safe set cannot be "
                f"reached in {self.horizon} steps; start from a state of a stored trajectory "
                "or lengthen the horizon"
            )
        if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            raise ControlError(f"LMPC solver {self.solver} ended with status {problem.status!r}")
        X, U = p["X"].value, np.clip(p["U"].value, self.u_min, self.u_max)
        self.plan = MPCPlan(X, U, float(problem.value), problem.status,
                            time.perf_counter() - start)
        self._guide = X[-1]
        return U[0].copy()

    def run_iteration(self, x0: Any, max_steps: int = 1000) -> Trajectory:
        """Run the closed loop from x0 to the goal, add it to the safe set, return it.

        Raises
        ------
        ControlError
            The goal was not reached within ``max_steps`` (nothing is stored).
        """
        x = as_vector("x0", x0, self.n_states)
        xs, us = [x], []
        self._guide = None
        while np.linalg.norm(x) > self.goal_tol:
            if len(us) >= max_steps:
                raise ControlError(
                    f"LMPC did not reach the goal within {max_steps} steps (|x| = "
                    f"{np.linalg.norm(x):.3g}); raise max_steps or goal_tol"
                )
            u = self.solve(x)
            x = self.A @ x + self.B @ u
            xs.append(x)
            us.append(u)
        X = np.array(xs)
        U = np.array(us).reshape(len(us), self.n_inputs)
        cost = self.add_trajectory(X, U)
        return Trajectory(X, U, cost)
