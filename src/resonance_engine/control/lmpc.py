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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from resonance_engine._lazy import lazy_module
from resonance_engine.control._checks import as_bounds, as_matrix, as_vector, psd_sqrt
from resonance_engine.control.mpc import MPCPlan, _box
from resonance_engine.errors import ControlError, InfeasibleError

if TYPE_CHECKING:
    import cvxpy as cp

    from resonance_engine.store import AgentDB
else:
    cp = lazy_module("cvxpy")  # imported at the first solve, not with the package

__all__ = ["LMPC", "LMPCBatch", "Trajectory", "Convergence", "constrained_optimum",
           "lmpc_convergence"]


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
        self._problem: _StackedQP | None = None
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
    def solve(self, x: Any) -> np.ndarray:
        """The first input of the LMPC plan from state ``x`` (plan kept in :attr:`plan`)."""
        x = as_vector("x", x, self.n_states)
        u, self._problem = _solve_stacked([self], x[None], self._problem)
        return u[0]

    def run_iteration(self, x0: Any, max_steps: int = 1000) -> Trajectory:
        """Run the closed loop from x0 to the goal, add it to the safe set, return it.

        Raises
        ------
        ControlError
            The goal was not reached within ``max_steps`` (nothing is stored).
        """
        x = as_vector("x0", x0, self.n_states)
        xs: list[np.ndarray] = [x]
        us: list[np.ndarray] = []
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


# ---------------------------------------------------------------------------- one QP for many
#: Terminal sets are padded with the goal (state 0, cost-to-go 0: already in every set, so
#: the hull and its barycentric cost do not change) to a multiple of this many points, so
#: the QP is rebuilt only when a set outgrows its padding.
_PAD = 8


def _padded_size(need: int, local: tuple[int, int] | None) -> int:
    size = -(-need // _PAD) * _PAD
    return min(size, 1 + local[0] * local[1]) if local is not None else size


class _StackedQP:
    """The LMPC QP of ``copies`` LMPCs that share one model, as one cvxpy problem (DPP).

    Copy j's states are columns j*n .. j*n + n - 1 of X (as in a LinearMPC batch), its
    terminal set column j of the (size, copies) parameters; the copies share no variable,
    so the solution of each is the one of its own QP.
    """

    def __init__(self, lmpc: LMPC, copies: int, size: int) -> None:
        n, m, N, K = lmpc.n_states, lmpc.n_inputs, lmpc.horizon, copies
        eye = sp.identity(K, format="csr")

        def blocks(M: np.ndarray) -> sp.csr_matrix:
            return sp.kron(eye, M.T).tocsr()

        self.copies, self.size, self.solver = K, size, lmpc.solver
        self.n, self.m, self.horizon = n, m, N
        self.Q, self.R = lmpc.Q, lmpc.R
        self.x0 = cp.Parameter(n * K, name="x0")
        self.points = [cp.Parameter((size, K), name=f"safe_set{d}") for d in range(n)]
        self.costs = cp.Parameter((size, K), name="cost_to_go")
        X = self.X = cp.Variable((N + 1, n * K), name="x")
        U = self.U = cp.Variable((N, m * K), name="u")
        lam = self.lam = cp.Variable((size, K), nonneg=True, name="lambda")
        cost = (cp.sum_squares(X[:N] @ blocks(lmpc._Lq)) + cp.sum_squares(U @ blocks(lmpc._Lr))
                + cp.sum(cp.multiply(self.costs, lam)))
        cons = [X[0] == self.x0, X[1:] == X[:-1] @ blocks(lmpc.A) + U @ blocks(lmpc.B),
                cp.sum(lam, axis=0) == 1]
        cons += [X[N, d::n] == cp.sum(cp.multiply(self.points[d], lam), axis=0)
                 for d in range(n)]
        cons += _box(U, np.tile(lmpc.u_min, K), np.tile(lmpc.u_max, K))
        cons += _box(X[1:], np.tile(lmpc.x_min, K), np.tile(lmpc.x_max, K))
        self.problem = cp.Problem(cp.Minimize(cost), cons)

    def solve(self, states: np.ndarray, sets: list[tuple[np.ndarray, np.ndarray]],
              bounds: tuple[np.ndarray, np.ndarray]) -> list[MPCPlan]:
        """Plans from ``states`` (copies, n) to the terminal ``sets`` (points, cost-to-go)."""
        n, K, N = self.n, self.copies, self.horizon
        points, costs = np.zeros((n, self.size, K)), np.zeros((self.size, K))
        for j, (p, c) in enumerate(sets):
            points[:, : len(c), j], costs[: len(c), j] = p.T, c
        self.x0.value = states.reshape(-1)
        for d in range(n):
            self.points[d].value = points[d]
        self.costs.value = costs
        start = time.perf_counter()
        try:
            self.problem.solve(solver=self.solver, warm_start=True,
                               canon_backend=cp.SCIPY_CANON_BACKEND)
        except cp.error.SolverError as exc:
            raise ControlError(f"LMPC solver {self.solver} failed: {exc}") from None
        status = self.problem.status
        if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            where = f"x={states[0].tolist()}" if K == 1 else f"one of the {K} states"
            raise InfeasibleError(
                f"LMPC problem is infeasible from {where}: the safe set cannot be reached in "
                f"{N} steps; start from a state of a stored trajectory or lengthen the horizon"
            )
        if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            raise ControlError(f"LMPC solver {self.solver} ended with status {status!r}")
        elapsed = time.perf_counter() - start
        xs = np.asarray(self.X.value).reshape(N + 1, K, n).transpose(1, 0, 2)
        us = np.clip(np.asarray(self.U.value).reshape(N, K, self.m).transpose(1, 0, 2), *bounds)
        lam = np.asarray(self.lam.value)
        plans = []
        for j in range(K):
            value = (np.einsum("ij,jk,ik->", xs[j, :N], self.Q, xs[j, :N])
                     + np.einsum("ij,jk,ik->", us[j], self.R, us[j]) + costs[:, j] @ lam[:, j])
            plans.append(MPCPlan(xs[j], us[j], float(value), status, elapsed))
        return plans


def _solve_stacked(lmpcs: Sequence[LMPC], states: np.ndarray,
                   qp: _StackedQP | None) -> tuple[np.ndarray, _StackedQP]:
    """Solve the LMPCs from ``states`` (one row each) in one QP; set their plans. Returns
    the first inputs (copies, m) and the QP (``qp`` when its size still fits)."""
    sets = [lmpc._terminal_points(x) for lmpc, x in zip(lmpcs, states, strict=True)]
    first = lmpcs[0]
    size = _padded_size(max(len(c) for _, c in sets), first.local)
    if qp is None or (qp.copies, qp.size) != (len(lmpcs), size):
        qp = _StackedQP(first, len(lmpcs), size)
    plans = qp.solve(states, sets, (first.u_min, first.u_max))
    for lmpc, plan in zip(lmpcs, plans, strict=True):
        lmpc.plan, lmpc._guide = plan, plan.x[-1]
    return np.array([plan.u[0] for plan in plans]), qp


class LMPCBatch:
    """Several :class:`LMPC` that share a model, solved as one QP per call.

    Each LMPC keeps its own safe set (and local-safe-set guide); one call of :meth:`solve`
    builds their terminal sets and solves all their problems in one cvxpy problem
    (block-diagonal dynamics, each copy's safe set a column of one parameter), which
    saves cvxpy's per-problem overhead: a swarm's agents, one LMPC each, in one solve. The
    plan of each copy is the one its own :meth:`LMPC.solve` gives, to solver tolerance.

    Parameters
    ----------
    lmpcs : sequence of LMPC
        Same A, B, Q, R, horizon, bounds, local and solver (their safe sets differ).
    """

    def __init__(self, lmpcs: Sequence[LMPC]) -> None:
        self.lmpcs = list(lmpcs)
        if not self.lmpcs:
            raise ControlError("an LMPCBatch needs at least one LMPC")
        first = self.lmpcs[0]
        for other in self.lmpcs[1:]:
            same = (other.horizon == first.horizon and other.local == first.local
                    and other.solver == first.solver
                    and all(np.array_equal(getattr(other, k), getattr(first, k))
                            for k in ("A", "B", "Q", "R", "u_min", "u_max", "x_min", "x_max")))
            if not same:
                raise ControlError("the LMPCs of a batch must share A, B, Q, R, the horizon, "
                                   "the bounds, local and the solver")
        self._qp: _StackedQP | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickles without the QP (rebuilt at the next solve)."""
        return {**self.__dict__, "_qp": None}

    def solve(self, states: Any, which: Sequence[int] | None = None) -> np.ndarray:
        """First inputs (k, m) of the plans of LMPCs ``which`` (default all) from ``states``
        (k, n); each LMPC's :attr:`~LMPC.plan` is set.

        Raises
        ------
        InfeasibleError
            One of the problems is infeasible (solve them one by one to see which).
        """
        chosen = [self.lmpcs[i] for i in (range(len(self.lmpcs)) if which is None else which)]
        first = self.lmpcs[0]
        x = as_matrix("states", np.reshape(states, (-1, first.n_states)),
                      (len(chosen), first.n_states))
        u, self._qp = _solve_stacked(chosen, x, self._qp)
        return u


# ---------------------------------------------------------------------------- episodes needed
def constrained_optimum(lmpc: LMPC, x0: Any, steps: int = 200) -> MPCPlan:
    """The constrained infinite-horizon optimum of the LMPC's task from ``x0``.

    A ``steps``-long QP (cvxpy, the LMPC's solver) with the LMPC's model, cost and bounds
    that ends at the goal: for a stabilizable system and enough steps this is the
    infinite-horizon optimum (the tail beyond is zero). Returns its plan.
    """
    x0 = as_vector("x0", x0, lmpc.n_states)
    X = cp.Variable((steps + 1, lmpc.n_states))
    U = cp.Variable((steps, lmpc.n_inputs))
    cost = cp.sum_squares(X @ lmpc._Lq.T) + cp.sum_squares(U @ lmpc._Lr.T)
    cons = [X[0] == x0, X[steps] == 0, X[1:] == X[:-1] @ lmpc.A.T + U @ lmpc.B.T]
    cons += _box(U, lmpc.u_min, lmpc.u_max) + _box(X[1:], lmpc.x_min, lmpc.x_max)
    problem = cp.Problem(cp.Minimize(cost), cons)
    start = time.perf_counter()
    problem.solve(solver=lmpc.solver, canon_backend=cp.SCIPY_CANON_BACKEND)
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise InfeasibleError(
            f"the goal cannot be reached from x0={x0.tolist()} in {steps} steps within the "
            f"bounds (status {problem.status!r}); use more steps or another start"
        )
    return MPCPlan(np.asarray(X.value), np.asarray(U.value), float(problem.value), problem.status,
                   time.perf_counter() - start)


@dataclass(frozen=True)
class Convergence:
    """How many LMPC episodes a task needed to come within ``tolerance`` of its optimum.

    Attributes
    ----------
    optimum : float
        The constrained infinite-horizon optimum (:func:`constrained_optimum`).
    costs : tuple of float
        Cost of LMPC episode 1, 2, ... from the same start (what the safe set held before
        is not counted).
    tolerance : float
        Relative: an episode is within when its cost <= (1 + tolerance) optimum.
    episodes : int or None
        The first episode within (1-based); None when none of ``costs`` was.
    bound_active : bool
        Whether an input or state bound is active on the optimal trajectory (the
        constrained optimum differs from the unconstrained one).
    """

    optimum: float
    costs: tuple[float, ...]
    tolerance: float
    episodes: int | None
    bound_active: bool


def lmpc_convergence(lmpc: LMPC, x0: Any, *, tolerance: float = 0.005,
                     max_episodes: int = 10, steps: int = 200,
                     max_steps: int = 1000) -> Convergence:
    """Run LMPC episodes from ``x0`` until one costs within ``tolerance`` of the optimum.

    A like-for-like measure of learning: every episode starts from the same state, and
    the yardstick is the constrained infinite-horizon optimum computed outside the LMPC
    (a ``steps``-long QP). ``lmpc`` must hold its first safe set (a feasible trajectory,
    or the goal alone when the goal can be reached within the horizon); its episodes are
    added to it.
    """
    if not (tolerance >= 0 and max_episodes >= 1):
        raise ControlError(f"need tolerance >= 0 and max_episodes >= 1, got {tolerance}, "
                           f"{max_episodes}")
    best = constrained_optimum(lmpc, x0, steps)
    scale = 1e-6 * max(1.0, float(np.abs(best.u).max(initial=0.0)), float(np.abs(best.x).max()))
    active = any(
        np.any(np.isfinite(b) & (np.abs(v - b) <= scale))
        for v, b in ((best.u, lmpc.u_min), (best.u, lmpc.u_max),
                     (best.x[1:], lmpc.x_min), (best.x[1:], lmpc.x_max))
    )
    costs: list[float] = []
    within = None
    while within is None and len(costs) < max_episodes:
        costs.append(lmpc.run_iteration(x0, max_steps).cost)
        if costs[-1] <= (1 + tolerance) * best.cost:
            within = len(costs)
    return Convergence(best.cost, tuple(costs), float(tolerance), within, bool(active))
