"""KalmanFilter: the linear-Gaussian state estimator.

Model::

    x[k+1] = A x[k] + B u[k] + w,   w ~ N(0, Q)
    z[k]   = H x[k] + v,            v ~ N(0, R)

``predict`` propagates the mean and covariance through the model; ``update`` conditions
them on an observation (Joseph form, so P stays symmetric positive definite). Entries of
``z`` that are NaN are missing: the update uses only the observed rows, and an all-NaN
observation skips the update.

``batch=K`` runs K independent filters that share the model (e.g. one per agent of a
swarm) with array operations: ``x`` is then (K, n), ``P`` (K, n, n), ``z`` (K, p) and
``u`` (K, m).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from resonance_engine.control._checks import as_matrix, as_vector
from resonance_engine.errors import ControlError

__all__ = ["KalmanFilter"]


class KalmanFilter:
    """Discrete-time Kalman filter (or a batch of independent ones sharing the model).

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
    x0 : array, shape (n,) or (K, n), optional
        Initial mean (default zeros).
    P0 : array, shape (n, n), optional
        Initial covariance (default identity), the same for every filter of a batch.
    batch : int, optional
        Number of independent filters (None: a single filter).

    Attributes
    ----------
    x : ndarray, shape (n,) or (K, n)
        Current mean: the posterior after :meth:`update`, the prior after :meth:`predict`.
    P : ndarray, shape (n, n) or (K, n, n)
        Current covariance, same convention.
    log_likelihood : float or ndarray (K,)
        Sum over updates of log N(innovation; 0, S) (the marginal log-likelihood of the
        observations seen, nats).
    last_log_likelihood : float or ndarray (K,)
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
        batch: int | None = None,
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
        if batch is not None and not (isinstance(batch, int) and batch >= 1):
            raise ControlError(f"batch must be an int >= 1 or None, got {batch!r}")
        self.batch = batch
        K = batch or 1
        self._x = np.zeros((K, n)) if x0 is None else self._rows("x0", x0, n)
        P = np.eye(n) if P0 is None else as_matrix("P0", P0, (n, n))
        self._P = np.broadcast_to(P, (K, n, n)).copy()
        self._ll = np.zeros(K)
        self._last_ll = np.zeros(K)

    def _rows(self, name: str, value: Any, size: int, allow_nan: bool = False) -> np.ndarray:
        """(size,) for a single filter or (K, size) for a batch, as a (K, size) array."""
        if self.batch is None:
            return as_vector(name, value, size, allow_nan)[None]
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != (self.batch, size):
            raise ControlError(f"{name} must have shape ({self.batch}, {size}), got {arr.shape}")
        bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
        if np.any(bad):
            raise ControlError(f"{name} must be finite{' or NaN' if allow_nan else ''}")
        return arr

    def _out(self, arr: np.ndarray) -> Any:
        return arr[0] if self.batch is None else arr

    @property
    def x(self) -> np.ndarray:
        return self._out(self._x)

    @x.setter
    def x(self, value: Any) -> None:
        self._x = self._rows("x", value, self.n_states)

    @property
    def P(self) -> np.ndarray:
        return self._out(self._P)

    @property
    def log_likelihood(self) -> Any:
        return float(self._ll[0]) if self.batch is None else self._ll.copy()

    @property
    def last_log_likelihood(self) -> Any:
        return float(self._last_ll[0]) if self.batch is None else self._last_ll.copy()

    @property
    def n_states(self) -> int:
        """Length of the state vector."""
        return self.A.shape[0]

    def predict(self, u: Any | None = None) -> np.ndarray:
        """Propagate one step: x = A x + B u, P = A P A' + Q. Returns the prior mean."""
        x = self._x @ self.A.T
        if u is not None:
            if self.B is None:
                raise ControlError("predict(u) needs the input matrix B; pass B= to KalmanFilter")
            x = x + self._rows("u", u, self.B.shape[1]) @ self.B.T
        self._x = x
        self._P = self.A @ self._P @ self.A.T + self.Q
        return self.x

    def update(self, z: Any) -> np.ndarray:
        """Condition on the observation ``z`` ((p,) or (K, p); NaN entries are missing).

        Returns the posterior mean. A filter whose observation is all NaN keeps its ``x``
        and ``P``.
        """
        z = self._rows("z", z, self.H.shape[0], allow_nan=True)
        seen = ~np.isnan(z)
        self._last_ll[:] = 0.0
        full = seen.all(axis=1)
        if full.any():
            self._condition(np.flatnonzero(full), z[full], self.H, self.R)
        for k in np.flatnonzero(seen.any(axis=1) & ~full):  # partly missing: one by one
            rows = seen[k]
            self._condition(np.array([k]), z[k:k + 1, rows], self.H[rows],
                            self.R[np.ix_(rows, rows)])
        self._ll += self._last_ll
        return self.x

    def _condition(self, idx: np.ndarray, z: np.ndarray, H: np.ndarray, R: np.ndarray) -> None:
        """Joseph-form update of the filters ``idx`` on observations z (k, q)."""
        x, P = self._x[idx], self._P[idx]
        innovation = z - x @ H.T
        PHt = P @ H.T  # (k, n, q)
        S = H @ PHt + R  # (k, q, q)
        try:
            chol = np.linalg.cholesky(S)
        except np.linalg.LinAlgError:
            raise ControlError(
                f"innovation covariance is not positive definite (S = {S}); R must be "
                "positive definite"
            ) from None
        gain = np.linalg.solve(S, np.swapaxes(PHt, 1, 2))  # S^-1 H P = K'
        gain = np.swapaxes(gain, 1, 2)  # (k, n, q)
        self._x[idx] = x + np.einsum("knq,kq->kn", gain, innovation)
        I_KH = np.eye(self.n_states) - gain @ H
        P = I_KH @ P @ np.swapaxes(I_KH, 1, 2) + gain @ R @ np.swapaxes(gain, 1, 2)
        self._P[idx] = 0.5 * (P + np.swapaxes(P, 1, 2))
        white = np.linalg.solve(chol, innovation[..., None])[..., 0]
        logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        self._last_ll[idx] = -0.5 * ((white**2).sum(axis=1) + logdet
                                     + z.shape[1] * math.log(2.0 * math.pi))

    def step(self, z: Any, u: Any | None = None) -> np.ndarray:
        """:meth:`predict` then :meth:`update`; returns the posterior mean."""
        self.predict(u)
        return self.update(z)
