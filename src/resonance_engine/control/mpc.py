"""LinearMPC: constrained linear model-predictive control on cvxpy.

At every call of :meth:`LinearMPC.solve` the quadratic program ::

    min  sum_{k<N} |x_k - r|_Q^2 + |u_k - u_r|_R^2  +  |x_N - r|_P^2
    s.t. x_0 = x0,  x_{k+1} = A x_k + B u_k + c,
         u_min <= u_k <= u_max,  x_min <= x_k <= x_max  (k >= 1)

is solved and the first input returned (receding horizon). The problem is built once with
cvxpy Parameters for x0, r and u_r (it follows the DPP rules), so later solves only
update numbers and warm-start the solver from the previous solution. ``batch=K`` solves
K independent copies (e.g. the agents of a swarm sharing a model) in one QP.

Terminal cost P: ``"lqr"`` (the solution of the discrete algebraic Riccati equation; with
no active constraints the MPC is then the infinite-horizon LQR), ``"none"``, ``"zero"``
(the terminal state must equal the reference) or a matrix.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from resonance_engine._lazy import lazy_module
from resonance_engine.control._checks import as_bounds, as_matrix, as_vector, psd_sqrt
from resonance_engine.errors import ControlError, InfeasibleError

if TYPE_CHECKING:
    import cvxpy as cp
else:
    cp = lazy_module("cvxpy")  # imported when the first problem is built, not with the package

__all__ = ["LinearMPC", "MPCPlan", "lqr_terminal_cost", "DEFAULT_SOLVER"]

#: The QP solver used unless another is named (warm-started).
DEFAULT_SOLVER = "OSQP"

_SOLVER_OPTIONS: dict[str, dict[str, Any]] = {
    "OSQP": {"eps_abs": 1e-7, "eps_rel": 1e-7, "max_iter": 20000, "polishing": True},
    "CLARABEL": {},
}


def lqr_terminal_cost(A: np.ndarray, B: np.ndarray, Q: np.ndarray, R: np.ndarray) -> np.ndarray:
    """P of the discrete algebraic Riccati equation (infinite-horizon LQR cost-to-go)."""
    try:
        return scipy.linalg.solve_discrete_are(A, B, Q, R)
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise ControlError(
            f"no LQR terminal cost for this (A, B, Q, R): {exc}; the pair (A, B) must be "
            "stabilizable; pass terminal='none' or a matrix"
        ) from None


def _box(var: Any, lo: np.ndarray, hi: np.ndarray) -> list[Any]:
    """lo <= var[:, j] <= hi for the columns j with finite bounds (cvxpy constraints)."""
    out = []
    if np.isfinite(lo).any():
        cols = np.flatnonzero(np.isfinite(lo))
        out.append(var[:, cols] >= lo[cols])
    if np.isfinite(hi).any():
        cols = np.flatnonzero(np.isfinite(hi))
        out.append(var[:, cols] <= hi[cols])
    return out


@dataclass(frozen=True)
class MPCPlan:
    """The solution of one MPC solve.

    Attributes
    ----------
    x : ndarray, shape (N + 1, n), or (K, N + 1, n) for a batch
        Planned states, x[0] = x0.
    u : ndarray, shape (N, m), or (K, N, m)
        Planned inputs (clipped into [u_min, u_max], removing solver tolerance).
    cost : float
        Optimal objective value.
    status : str
        cvxpy's status ("optimal" or "optimal_inaccurate").
    solve_time : float
        Wall-clock seconds of the solve call (parameter update + solver).
    """

    x: np.ndarray
    u: np.ndarray
    cost: float
    status: str
    solve_time: float


class LinearMPC:
    """Receding-horizon controller for x+ = A x + B u + offset with box constraints.

    Parameters
    ----------
    A : array (n, n)
    B : array (n, m)
    Q : array (n, n)
        State weight (positive semi-definite).
    R : array (m, m)
        Input weight (positive definite).
    horizon : int
        N, number of planned inputs (>= 1).
    u_min, u_max : float or array (m,)
        Input bounds (use +-inf for none).
    x_min, x_max : float or array (n,), optional
        State bounds on x_1..x_N (the current state is what it is).
    terminal : "lqr", "none", "zero" or array (n, n)
        Terminal cost or constraint (see the module docstring).
    offset : array (n,), optional
        Constant term c of the model (e.g. ``LinearModel.offset``); :meth:`set_offset`
        changes it, also per copy of a batch.
    batch : int
        Number of independent copies solved together (states (K, n) in, inputs (K, m) out).
    solver : str
        A cvxpy QP solver name: "OSQP" (default, warm-started) or "CLARABEL".

    Examples
    --------
    >>> import numpy as np
    >>> mpc = LinearMPC([[1.0, 1.0], [0.0, 1.0]], [[0.5], [1.0]], np.eye(2), [[1.0]],
    ...                 horizon=10, u_min=-1.0, u_max=1.0)
    >>> u0 = mpc.solve([5.0, 0.0])
    >>> float(u0[0]) >= -1.0, mpc.plan.x.shape
    (True, (11, 2))
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
        x_min: Any | None = None,
        x_max: Any | None = None,
        terminal: str | Any = "lqr",
        *,
        offset: Any | None = None,
        batch: int = 1,
        solver: str = DEFAULT_SOLVER,
    ) -> None:
        self.A = as_matrix("A", A, (None, None))
        n = self.A.shape[0]
        if self.A.shape != (n, n):
            raise ControlError(f"A must be square, got shape {self.A.shape}")
        self.B = as_matrix("B", B, (n, None))
        m = self.B.shape[1]
        self.Q = as_matrix("Q", Q, (n, n))
        self.R = as_matrix("R", R, (m, m))
        if not (isinstance(horizon, int | np.integer) and horizon >= 1):
            raise ControlError(f"horizon must be an int >= 1, got {horizon!r}")
        if not (isinstance(batch, int | np.integer) and batch >= 1):
            raise ControlError(f"batch must be an int >= 1, got {batch!r}")
        if np.linalg.eigvalsh(0.5 * (self.R + self.R.T)).min() <= 0:
            raise ControlError(f"R must be positive definite, got {self.R!r}")
        self.horizon, self.batch = int(horizon), int(batch)
        self.n_states, self.n_inputs = n, m
        self.u_min = as_bounds("u_min", u_min, m, -np.inf)
        self.u_max = as_bounds("u_max", u_max, m, np.inf)
        self.x_min = as_bounds("x_min", x_min, n, -np.inf)
        self.x_max = as_bounds("x_max", x_max, n, np.inf)
        for lo, hi, what in ((self.u_min, self.u_max, "u"), (self.x_min, self.x_max, "x")):
            if np.any(lo > hi):
                raise ControlError(f"{what}_min must be <= {what}_max, got {lo} and {hi}")
        self.offset = np.zeros(n) if offset is None else as_vector("offset", offset, n)
        self.solver = solver.upper()
        if self.solver not in cp.installed_solvers():
            raise ControlError(
                f"QP solver {solver!r} is not installed; installed: {cp.installed_solvers()}"
            )
        self.terminal = terminal
        self.P = self._terminal_matrix(terminal)
        self.plan: MPCPlan | None = None
        self._build()

    def _terminal_matrix(self, terminal: str | Any) -> np.ndarray | None:
        if isinstance(terminal, str):
            if terminal == "lqr":
                return lqr_terminal_cost(self.A, self.B, self.Q, self.R)
            if terminal in ("none", "zero"):
                return None
            raise ControlError(
                f"terminal must be 'lqr', 'none', 'zero' or a matrix, got {terminal!r}"
            )
        return as_matrix("terminal", terminal, (self.n_states, self.n_states))

    def _build(self) -> None:
        # One matrix variable per trajectory: row k holds x_k of every copy, copy j in
        # columns j*n .. j*n + n - 1; the dynamics of the K copies are block diagonal.
        n, m, N, K = self.n_states, self.n_inputs, self.horizon, self.batch
        eye = sp.identity(K, format="csr")
        AK, BK = sp.kron(eye, self.A.T).tocsr(), sp.kron(eye, self.B.T).tocsr()
        LqK = sp.kron(eye, psd_sqrt("Q", self.Q).T).tocsr()
        LrK = sp.kron(eye, psd_sqrt("R", self.R).T).tocsr()
        self._x0 = cp.Parameter(n * K, name="x0")
        self._ref = cp.Parameter(n * K, name="x_ref", value=np.zeros(n * K))
        self._uref = cp.Parameter(m * K, name="u_ref", value=np.zeros(m * K))
        X = self._X = cp.Variable((N + 1, n * K), name="x")
        U = self._U = cp.Variable((N, m * K), name="u")
        self._offset = cp.Parameter(n * K, name="offset", value=np.tile(self.offset, K))
        cost: Any = cp.sum_squares((X[1:N] - self._ref) @ LqK) if N > 1 else 0
        cost += cp.sum_squares((U - self._uref) @ LrK)
        cons: list[Any] = [X[0] == self._x0, X[1:] == X[:-1] @ AK + U @ BK + self._offset]
        cons += _box(U, np.tile(self.u_min, K), np.tile(self.u_max, K))
        cons += _box(X[1:], np.tile(self.x_min, K), np.tile(self.x_max, K))
        if self.P is not None:
            LpK = sp.kron(eye, psd_sqrt("terminal", self.P).T).tocsr()
            cost += cp.sum_squares((X[N] - self._ref) @ LpK)
        elif self.terminal == "zero":
            cons.append(X[N] == self._ref)
        self.problem = cp.Problem(cp.Minimize(cost), cons)

    def _flat(self, name: str, value: Any, size: int) -> np.ndarray:
        """(size,) or (K, size) input as the (K * size,) value of a Parameter."""
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim <= 1:
            arr = np.broadcast_to(as_vector(name, arr, size), (self.batch, size))
        if arr.shape != (self.batch, size) or not np.all(np.isfinite(arr)):
            raise ControlError(
                f"{name} must be finite with shape ({size},) or ({self.batch}, {size}), "
                f"got shape {arr.shape}"
            )
        return arr.reshape(-1).copy()

    def set_offset(self, offset: Any) -> None:
        """Change the model's constant term c: (n,) for every copy or (K, n) per copy."""
        self._offset.value = self._flat("offset", offset, self.n_states)

    def set_reference(self, x_ref: Any, u_ref: Any | None = None) -> None:
        """Track ``x_ref`` ((n,) or (K, n)) with input reference ``u_ref`` (default 0)."""
        self._ref.value = self._flat("x_ref", x_ref, self.n_states)
        if u_ref is not None:
            self._uref.value = self._flat("u_ref", u_ref, self.n_inputs)

    def solve(self, x0: Any) -> np.ndarray:
        """Plan from ``x0`` ((n,), or (K, n) for a batch); return the first input.

        The whole plan is kept in :attr:`plan` (an :class:`MPCPlan`).

        Raises
        ------
        InfeasibleError
            No input sequence meets the constraints from this state.
        ControlError
            The solver failed for another reason.
        """
        single = np.ndim(x0) <= 1
        self._x0.value = self._flat("x0", x0, self.n_states)
        start = time.perf_counter()
        try:
            self.problem.solve(
                solver=self.solver,
                warm_start=True,
                canon_backend=cp.SCIPY_CANON_BACKEND,  # the one that handles sparse kron
                **_SOLVER_OPTIONS.get(self.solver, {}),
            )
        except cp.error.SolverError as exc:
            raise ControlError(f"MPC solver {self.solver} failed: {exc}") from None
        elapsed = time.perf_counter() - start
        status = self.problem.status
        if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            raise InfeasibleError(
                f"MPC problem is infeasible from x0={np.asarray(x0).tolist()} with "
                f"u in [{self.u_min.tolist()}, {self.u_max.tolist()}] and x in "
                f"[{self.x_min.tolist()}, {self.x_max.tolist()}] over {self.horizon} steps; "
                "start inside the constraints, widen them or lengthen the horizon"
            )
        if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            raise ControlError(f"MPC solver {self.solver} ended with status {status!r}")
        K, N = self.batch, self.horizon
        xs = cast(np.ndarray, self._X.value).reshape(N + 1, K, self.n_states).transpose(1, 0, 2)
        us = cast(np.ndarray, self._U.value).reshape(N, K, self.n_inputs).transpose(1, 0, 2)
        us = np.clip(us, self.u_min, self.u_max)
        if single:
            xs, us = xs[0], us[0]
        self.plan = MPCPlan(xs, us, float(self.problem.value), status, elapsed)
        return us[..., 0, :].copy()
