"""KuramotoNetwork: phase oscillators coupled all-to-all (mean field) or through a sparse graph.

    d theta_i / dt = omega_i + (K / N) sum_j A_ij sin(theta_j - theta_i - alpha) + sqrt(2 D) xi_i(t)

with xi independent unit white noises. All-to-all coupling (``adjacency=None``) is
A_ij = 1 for every pair, i = j included (that term adds -(K/N) sin(alpha), nothing when
alpha = 0), and is computed from the mean field r exp(i psi) = (1/N) sum_j exp(i theta_j)
as K r sin(psi - theta_i - alpha): O(N) per step. A sparse adjacency costs O(nnz) per step.

Integration: ``method="euler"`` (default) is Euler-Maruyama,
theta <- theta + dt f(theta) + sqrt(2 D dt) N(0, 1), first order in dt without noise and
strong order 1/2 with it; ``method="rk4"`` is the classical fourth-order Runge-Kutta
scheme, for noise-free networks only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from resonance_engine.backends import oscillator_kernels, resolve_backend
from resonance_engine.backends.base import KURAMOTO_METHODS, SparseCoupling
from resonance_engine.errors import ConfigError
from resonance_engine.oscillators.phase import order_parameter

__all__ = ["KuramotoNetwork", "sparse_coupling"]

#: Noise numbers drawn per kernel call at most (bounds the memory of a noisy step).
NOISE_CHUNK = 1 << 21


def _finite(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be numeric, got {value!r}") from exc
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    return arr


def sparse_coupling(adjacency: Any, n: int) -> SparseCoupling:
    """The CSR arrays of an n x n coupling matrix (scipy.sparse or a dense array).

    Parameters
    ----------
    adjacency : scipy.sparse matrix or array, or array_like
        A_ij: the weight with which oscillator j acts on oscillator i (row i).
    n : int
        Number of oscillators.
    """
    try:
        from scipy import sparse
    except ImportError as exc:  # pragma: no cover - scipy is a dependency
        raise ConfigError("a sparse adjacency needs scipy (pip install scipy)") from exc
    matrix = adjacency if sparse.issparse(adjacency) else _finite("adjacency", adjacency)
    if matrix.shape != (n, n):
        raise ConfigError(
            f"adjacency must be {n} x {n} (one row and column per oscillator), got "
            f"shape {matrix.shape}"
        )
    csr = sparse.csr_array(matrix, dtype=np.float64)
    csr.sum_duplicates()
    if not np.all(np.isfinite(csr.data)):
        raise ConfigError("adjacency holds non-finite weights")
    return SparseCoupling(
        csr.indptr.astype(np.int64), csr.indices.astype(np.int64), csr.data.astype(np.float64)
    )


class KuramotoNetwork:
    """One Kuramoto network, or a batch of independent ones stepped together.

    Parameters
    ----------
    natural_frequencies : array_like, shape (n,) or (batch, n)
        omega_i (rad/s). A 2D array makes a batch of ``batch`` networks of ``n``
        oscillators that share the adjacency.
    coupling : float or array_like of shape (batch,)
        K (rad/s); the coupling term is (K / n) sum_j A_ij sin(...).
    adjacency : scipy.sparse matrix or array, array_like of shape (n, n), or None
        A_ij (dimensionless weights, row i is acted on by column j). None means
        all-to-all through the mean field.
    phase_lag : float or array_like of shape (batch,)
        alpha (rad), the Sakaguchi phase lag.
    noise : float
        D (rad^2/s): each phase gets sqrt(2 D) times unit white noise.
    dt : float
        Time step (s).
    seed : int or None
        Seeds the random initial phases (uniform in [0, 2 pi)) and the noise.
    phases : array_like, optional
        Initial phases (rad), shape (n,) or (batch, n), instead of random ones.
    method : {"euler", "rk4"}
        Euler-Maruyama, or fourth-order Runge-Kutta (needs ``noise=0``).
    backend : {"auto", "numba", "numpy"}

    Examples
    --------
    >>> net = KuramotoNetwork(np.zeros(100), coupling=1.0, seed=0)
    >>> net.step(2000)
    >>> r, psi = net.order_parameter()
    >>> bool(r > 0.999), round(net.t, 6)
    (True, 20.0)
    """

    def __init__(
        self,
        natural_frequencies: Any,
        coupling: Any,
        adjacency: Any = None,
        phase_lag: Any = 0.0,
        noise: float = 0.0,
        dt: float = 0.01,
        seed: int | None = None,
        *,
        phases: Any = None,
        method: str = "euler",
        backend: str = "auto",
    ) -> None:
        omega = _finite("natural_frequencies", natural_frequencies)
        if omega.ndim not in (1, 2) or omega.shape[-1] == 0:
            raise ConfigError(
                "natural_frequencies must have shape (n,) or (batch, n) with n >= 1, got "
                f"shape {omega.shape}"
            )
        self.batch: int | None = None if omega.ndim == 1 else omega.shape[0]
        self._omega = np.array(np.atleast_2d(omega))  # a copy: the caller's array stays theirs
        nb, n = self._omega.shape
        self.size = n
        self._coupling = self._per_member("coupling", coupling)
        self._phase_lag = self._per_member("phase_lag", phase_lag)
        if not (isinstance(dt, int | float | np.number) and math.isfinite(dt) and dt > 0):
            raise ConfigError(f"dt must be a finite number > 0 (s), got {dt!r}")
        self.dt = float(dt)
        if not (isinstance(noise, int | float | np.number) and math.isfinite(noise) and noise >= 0):
            raise ConfigError(f"noise must be a finite number >= 0 (rad^2/s), got {noise!r}")
        self.noise = float(noise)
        if method not in KURAMOTO_METHODS:
            raise ConfigError(f"unknown method {method!r}; choose one of {KURAMOTO_METHODS}")
        if method == "rk4" and self.noise > 0:
            raise ConfigError(
                "method='rk4' integrates noise-free networks only; use method='euler' "
                f"(Euler-Maruyama) with noise={self.noise!r}"
            )
        self.method = method
        self.backend = resolve_backend(backend)
        self._kernels = oscillator_kernels(self.backend)
        self.adjacency = None if adjacency is None else sparse_coupling(adjacency, n)
        self._rng = np.random.default_rng(seed)
        self._theta = self._rng.uniform(0.0, 2.0 * np.pi, (nb, n))
        if phases is not None:
            self.phases = phases
        self.step_count = 0

    def _per_member(self, name: str, value: Any) -> np.ndarray:
        arr = _finite(name, value)
        nb = self._omega.shape[0]
        if arr.ndim == 0 or arr.shape == (nb,):
            return np.ascontiguousarray(np.broadcast_to(arr, (nb,)))
        raise ConfigError(f"{name} must be a number or have shape ({nb},), got shape {arr.shape}")

    # ------------------------------------------------------------------ state
    @property
    def t(self) -> float:
        """Simulated time (s)."""
        return self.step_count * self.dt

    @property
    def phases(self) -> np.ndarray:
        """Phases theta (rad, not wrapped), shape (n,) or (batch, n); a copy."""
        return self._theta[0].copy() if self.batch is None else self._theta.copy()

    @phases.setter
    def phases(self, value: Any) -> None:
        arr = _finite("phases", value)
        want = (self.size,) if self.batch is None else self._theta.shape
        if self.batch is not None and arr.shape == (self.size,):
            arr = np.broadcast_to(arr, want)
        if arr.shape != want:
            raise ConfigError(f"phases must have shape {want}, got {arr.shape}")
        self._theta = np.array(arr.reshape(self._theta.shape), dtype=np.float64)  # a copy

    @property
    def natural_frequencies(self) -> np.ndarray:
        """omega (rad/s), shape (n,) or (batch, n); a copy. Settable (e.g. to let the
        frequencies adapt between steps); a shape (n,) value is used for every member."""
        return self._omega[0].copy() if self.batch is None else self._omega.copy()

    @natural_frequencies.setter
    def natural_frequencies(self, value: Any) -> None:
        arr = _finite("natural_frequencies", value)
        try:
            self._omega = np.array(np.broadcast_to(arr, self._omega.shape))
        except ValueError as exc:
            want = (self.size,) if self.batch is None else self._omega.shape
            raise ConfigError(
                f"natural_frequencies must have shape {want}, got {arr.shape}"
            ) from exc

    @property
    def coupling(self) -> float | np.ndarray:
        """K (rad/s): a float, or shape (batch,) for a batch."""
        return float(self._coupling[0]) if self.batch is None else self._coupling.copy()

    @coupling.setter
    def coupling(self, value: Any) -> None:
        self._coupling = self._per_member("coupling", value)

    def order_parameter(self) -> tuple[Any, Any]:
        """(r, psi) of the current phases (floats, or arrays of shape (batch,))."""
        return order_parameter(self.phases)

    # ------------------------------------------------------------------ stepping
    def step(self, n: int = 1, forcing: Any = None) -> None:
        """Advance ``n`` steps of ``dt``.

        Parameters
        ----------
        n : int
        forcing : array_like, optional
            Extra rate (rad/s) added to every oscillator's d theta/dt during these
            steps, shape (n_oscillators,) or (batch, n_oscillators): how an external
            signal (e.g. a wave field read at the oscillators) acts on the phases.
        """
        if not isinstance(n, int | np.integer) or n < 0:
            raise ConfigError(f"step count must be an integer >= 0, got {n!r}")
        omega = self._omega
        if forcing is not None:
            extra = _finite("forcing", forcing)
            try:
                omega = np.ascontiguousarray(omega + np.broadcast_to(extra, omega.shape))
            except ValueError as exc:
                raise ConfigError(
                    f"forcing must broadcast to {omega.shape}, got shape {extra.shape}"
                ) from exc
        k_over_n = self._coupling / self.size
        remaining = int(n)
        per_call = max(1, NOISE_CHUNK // self._theta.size) if self.noise > 0 else remaining
        while remaining:
            chunk = min(remaining, per_call)
            noise = None
            if self.noise > 0:
                scale = math.sqrt(2.0 * self.noise * self.dt)
                noise = scale * self._rng.standard_normal((chunk, *self._theta.shape))
            self._kernels.kuramoto_steps(
                self._theta,
                omega,
                k_over_n,
                self._phase_lag,
                self.dt,
                chunk,
                noise,
                self.adjacency,
                self.method,
            )
            self.step_count += chunk
            remaining -= chunk
