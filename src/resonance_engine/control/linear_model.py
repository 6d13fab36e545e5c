"""fit_linear_model: a linear model x[k+1] = A x[k] + B u[k] + c learned from trajectories.

Least squares on stacked one-step pairs (dynamic mode decomposition with inputs, DMDc),
with an optional ridge penalty on A and B (not on the offset c). The held-out error is
measured on the last ``holdout`` fraction of the pairs with a model fitted to the rest;
the returned model is then refitted to all pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from resonance_engine.errors import ControlError

__all__ = ["LinearModel", "fit_linear_model"]


@dataclass(frozen=True)
class LinearModel:
    """x[k+1] = A x[k] + B u[k] + offset (+ noise with covariance ``residual_cov``).

    Attributes
    ----------
    A : ndarray, shape (n, n)
    B : ndarray, shape (n, m)
    offset : ndarray, shape (n,)
        Zero when fitted with ``affine=False``.
    residual_cov : ndarray, shape (n, n)
        Covariance of the one-step residuals on the fitted pairs.
    heldout_rmse : ndarray, shape (n,)
        Root-mean-square one-step prediction error per state on the held-out pairs
        (NaN when nothing was held out).
    heldout_baseline_rmse : ndarray, shape (n,)
        The same for the persistence forecast x[k+1] = x[k] (a model worth using beats it).
    n_pairs : int
        Number of (x[k], u[k], x[k+1]) pairs fitted.
    """

    A: np.ndarray
    B: np.ndarray
    offset: np.ndarray
    residual_cov: np.ndarray
    heldout_rmse: np.ndarray
    heldout_baseline_rmse: np.ndarray
    n_pairs: int

    def predict(self, x: Any, u: Any) -> np.ndarray:
        """One step ahead: A x + B u + offset (x shape (..., n), u shape (..., m))."""
        return np.asarray(x) @ self.A.T + np.asarray(u) @ self.B.T + self.offset

    def simulate(self, x0: Any, U: Any) -> np.ndarray:
        """Roll the model out from x0 under inputs U (T, m): states (T + 1, n)."""
        U = np.atleast_2d(np.asarray(U, dtype=np.float64))
        X = np.empty((len(U) + 1, self.A.shape[0]))
        X[0] = x0
        for k, u in enumerate(U):
            X[k + 1] = self.predict(X[k], u)
        return X


def _pairs(X: Any, U: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack (x[k], u[k], x[k+1]) from one trajectory or a list of them."""
    if isinstance(X, np.ndarray) and X.ndim == 2:
        X, U = [X], [U]
    xs, us, ys = [], [], []
    for i, (x, u) in enumerate(zip(X, U, strict=True)):
        x = np.asarray(x, dtype=np.float64)
        u = np.asarray(u, dtype=np.float64)
        if u.ndim == 1:
            u = u[:, None]
        if x.ndim != 2 or u.ndim != 2 or len(x) != len(u) + 1:
            raise ControlError(
                f"trajectory {i}: X must be (T + 1, n) and U (T, m), got {x.shape} and {u.shape}"
            )
        xs.append(x[:-1])
        us.append(u)
        ys.append(x[1:])
    x0, u0, y = np.concatenate(xs), np.concatenate(us), np.concatenate(ys)
    finite = np.isfinite(x0).all(1) & np.isfinite(u0).all(1) & np.isfinite(y).all(1)
    return x0[finite], u0[finite], y[finite]


def _solve(x: np.ndarray, u: np.ndarray, y: np.ndarray, ridge: float, affine: bool) -> np.ndarray:
    """Theta (n + m [+1], n) minimising |y - Z Theta|^2 + ridge |Theta_AB|^2."""
    columns = [x, u] + ([np.ones((len(x), 1))] if affine else [])
    Z = np.hstack(columns)
    penalty = np.full(Z.shape[1], float(ridge))
    if affine:
        penalty[-1] = 0.0
    gram = Z.T @ Z + np.diag(penalty)
    try:
        return np.linalg.solve(gram, Z.T @ y)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(Z, y, rcond=None)[0]


def fit_linear_model(
    X: np.ndarray | Sequence[np.ndarray],
    U: np.ndarray | Sequence[np.ndarray] | None = None,
    ridge: float = 0.0,
    *,
    affine: bool = True,
    holdout: float = 0.2,
) -> LinearModel:
    """Fit x[k+1] = A x[k] + B u[k] + c by (ridge) least squares.

    Parameters
    ----------
    X : array (T + 1, n) or list of such arrays
        State trajectories (e.g. columns D, G, C, tau, CI). Rows with NaN are dropped
        with the pairs they belong to.
    U : array (T, m) or (T,), or list of such arrays, optional
        Inputs applied between consecutive states (None: an autonomous model, m = 0).
    ridge : float
        Tikhonov penalty on the entries of A and B (>= 0).
    affine : bool
        Fit the offset c (otherwise c = 0).
    holdout : float
        Fraction of the pairs (the last ones) used to measure the prediction error, in
        [0, 1); 0 skips the measurement.

    Returns
    -------
    LinearModel
        Refitted on all pairs; ``heldout_rmse`` comes from the fit without the held-out part.
    """
    if not (np.isfinite(ridge) and ridge >= 0):
        raise ControlError(f"ridge must be finite and >= 0, got {ridge!r}")
    if not 0.0 <= holdout < 1.0:
        raise ControlError(f"holdout must lie in [0, 1), got {holdout!r}")
    if U is None:
        runs = [X] if isinstance(X, np.ndarray) and X.ndim == 2 else list(X)
        U = [np.zeros((len(x) - 1, 0)) for x in runs]
        X = runs
    x, u, y = _pairs(X, U)
    n, m = x.shape[1], u.shape[1]
    need = n + m + int(affine)
    if len(x) < need:
        raise ControlError(
            f"need at least {need} finite (x, u, x') pairs to fit {n} states and {m} inputs, "
            f"got {len(x)}; record a longer trajectory"
        )
    n_test = int(round(holdout * len(x)))
    nan = np.full(n, np.nan)
    rmse, base = nan, nan
    if n_test > 0 and len(x) - n_test >= need:
        theta = _solve(x[:-n_test], u[:-n_test], y[:-n_test], ridge, affine)
        z = np.hstack([x[-n_test:], u[-n_test:]] + ([np.ones((n_test, 1))] if affine else []))
        rmse = np.sqrt(np.mean((y[-n_test:] - z @ theta) ** 2, axis=0))
        base = np.sqrt(np.mean((y[-n_test:] - x[-n_test:]) ** 2, axis=0))
    theta = _solve(x, u, y, ridge, affine)
    A, B = theta[:n].T, theta[n:n + m].T
    offset = theta[n + m] if affine else np.zeros(n)
    residual = y - x @ A.T - u @ B.T - offset
    dof = max(1, len(x) - need)
    cov = residual.T @ residual / dof
    return LinearModel(A, B, offset, cov, rmse, base, len(x))
