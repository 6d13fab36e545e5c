"""KalmanFilter: the linear-Gaussian state estimator.

Model::

    x[k+1] = A x[k] + B u[k] + w,   w ~ N(0, Q)
    z[k]   = H x[k] + v,            v ~ N(0, R)

``predict`` propagates the mean and covariance through the model; ``update`` conditions
them on an observation (Joseph form, so P stays symmetric positive definite). Entries of
``z`` that are NaN are missing: the update uses only the observed rows, and an all-NaN
observation skips the update.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from resonance_engine.control._checks import as_matrix, as_vector
from resonance_engine.errors import ControlError

__all__ = ["KalmanFilter"]


class KalmanFilter:
    """Discrete-time Kalman filter.

    Parameters
    ----------
    A : array, shape (n, n)
        State transition.
    H : array, shape (p, n)
        Observation matrix.
    Q : array, shape (n, n)
        Process noise covariance.
    R : array, shape (p, p)
        Observation noise covariance (positive definite).
    B : array, shape (n, m), optional
        Input matrix (``predict(u)`` needs it).
    x0 : array, shape (n,), optional
        Initial mean (default zeros).
    P0 : array, shape (n, n), optional
        Initial covariance (default identity).

    Attributes
    ----------
    x : ndarray, shape (n,)
        Current mean: the posterior after :meth:`update`, the prior after :meth:`predict`.
    P : ndarray, shape (n, n)
        Current covariance, same convention.
    log_likelihood : float
        Sum over updates of log N(innovation; 0, S) (the marginal log-likelihood of the
        observations seen, nats).
    last_log_likelihood : float
        The term of the last update (0.0 for a skipped one).

    Examples
    --------
    >>> kf = KalmanFilter(A=[[1.0]], H=[[1.0]], Q=[[0.0]], R=[[1.0]], x0=[0.0], P0=[[1.0]])
    >>> _ = kf.update([2.0])
    >>> round(float(kf.x[0]), 6), round(float(kf.P[0, 0]), 6)
    (1.0, 0.5)
    """

    def __init__(
        self,
        A: Any,
        H: Any,
        Q: Any,
        R: Any,
        B: Any | None = None,
        x0: Any | None = None,
        P0: Any | None = None,
    ) -> None:
        self.A = as_matrix("A", A, (None, None))
        n = self.A.shape[0]
        if self.A.shape != (n, n):
            raise ControlError(f"A must be square, got shape {self.A.shape}")
        self.H = as_matrix("H", H, (None, n))
        p = self.H.shape[0]
        self.Q = as_matrix("Q", Q, (n, n))
        self.R = as_matrix("R", R, (p, p))
        self.B = None if B is None else as_matrix("B", B, (n, None))
        self.x = np.zeros(n) if x0 is None else as_vector("x0", x0, n)
        self.P = np.eye(n) if P0 is None else as_matrix("P0", P0, (n, n)).copy()
        self.log_likelihood = 0.0
        self.last_log_likelihood = 0.0

    @property
    def n_states(self) -> int:
        """Length of the state vector."""
        return self.A.shape[0]

    def predict(self, u: Any | None = None) -> np.ndarray:
        """Propagate one step: x = A x + B u, P = A P A' + Q. Returns the prior mean."""
        x = self.A @ self.x
        if u is not None:
            if self.B is None:
                raise ControlError("predict(u) needs the input matrix B; pass B= to KalmanFilter")
            x = x + self.B @ as_vector("u", u, self.B.shape[1])
        self.x = x
        self.P = self.A @ self.P @ self.A.T + self.Q
        return self.x

    def update(self, z: Any) -> np.ndarray:
        """Condition on the observation ``z`` (shape (p,); NaN entries are missing).

        Returns the posterior mean. An observation with every entry NaN leaves ``x`` and
        ``P`` unchanged.
        """
        z = as_vector("z", z, self.H.shape[0], allow_nan=True)
        seen = ~np.isnan(z)
        self.last_log_likelihood = 0.0
        if not seen.any():
            return self.x
        H = self.H[seen]
        R = self.R[np.ix_(seen, seen)]
        innovation = z[seen] - H @ self.x
        S = H @ self.P @ H.T + R
        try:
            chol = np.linalg.cholesky(S)
        except np.linalg.LinAlgError:
            raise ControlError(
                f"innovation covariance is not positive definite (S = {S}); R must be "
                "positive definite"
            ) from None
        K = np.linalg.solve(S, H @ self.P).T  # P H' S^-1 (S and P symmetric)
        self.x = self.x + K @ innovation
        I_KH = np.eye(self.n_states) - K @ H
        self.P = I_KH @ self.P @ I_KH.T + K @ R @ K.T
        self.P = 0.5 * (self.P + self.P.T)
        white = np.linalg.solve(chol, innovation)
        self.last_log_likelihood = -0.5 * (
            float(white @ white)
            + 2.0 * float(np.log(np.diag(chol)).sum())
            + len(innovation) * math.log(2.0 * math.pi)
        )
        self.log_likelihood += self.last_log_likelihood
        return self.x

    def step(self, z: Any, u: Any | None = None) -> np.ndarray:
        """:meth:`predict` then :meth:`update`; returns the posterior mean."""
        self.predict(u)
        return self.update(z)
