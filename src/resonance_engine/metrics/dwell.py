"""Dwell time tau: how long each cell has resembled its recent past.

Two forms. :class:`RecursiveDwell` (the default of the analyzer) is in seconds and
needs only the previous frame. It integrates

    dtau/dt = 1 - tau / lambda - tau |du/dt| / h,        h = scale * RMS(u)

exactly over each frame interval dt, with |du/dt| taken as the mean rate
|u_n - u_{n-1}| / dt of the interval::

    a = |u_n - u_{n-1}| / h,   k dt = dt / lambda + a,   E = exp(-k dt)
    tau_n = E tau_{n-1} + dt (1 - E) / (k dt)

tau grows by the time a cell keeps its value and is cut down by its change in units of
h; its steady value 1 / (1/lambda + |du/dt| / h) is the local time over which the field
changes by h, capped by lambda (an unchanging cell dwells lambda). Since the change of a
cell over several frames adds up, tau does not depend on the measuring interval as long as
the frames resolve the motion; below about 4 frames per period the differences no longer
follow the motion and tau is aliased (the analyzer says so in its note).

:class:`DwellTimeTracker` is the seed's code form, in frames, with a bounded similarity::

    tau_t(x, y) = sum_{k=1}^{n} exp(-k / lambda) * s(u_t(x, y), u_{t-k}(x, y))
    s(a, b) = max(0, 1 - |a - b| / h),   h = scale * RMS(u_t)

over the n = min(frames seen, K) most recent past frames in a ring buffer. s is 1 for
an unchanged value and falls linearly to 0 at a difference of h (the seed's 1 - |a - b|,
made dimensionless and clipped so that it cannot go negative). tau is in frames: 0 for
a cell unlike all its past, at most ``max_dwell`` = sum_k exp(-k / lambda) for a cell
that has not changed for K frames. (The paper-style sum of |differences| measures
change, not dwell, and is not used.)

Storage: by default the ring holds int16 codes round(u * 32767 / max|u|) with one scale
per stored frame, half the bytes of float32 (the dwell update is limited by reading the
K past frames); the error is at most max|u| / 65534 per cell, far below h. With
``storage="float"`` the frames are stored exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from resonance_engine.backends import metric_kernels
from resonance_engine.backends.base import FrameParams
from resonance_engine.backends.frame_scales import dwell_scales
from resonance_engine.errors import ConfigError, FieldError
from resonance_engine.field.memory import check_fits
from resonance_engine.metrics._input import as_batch, check_finite

__all__ = ["DwellTimeTracker", "RecursiveDwell", "recursive_coefficients"]



class DwellTimeTracker:
    """Ring buffer of past frames and the dwell field of each new frame.

    Parameters
    ----------
    shape : tuple of int
        (ny, nx) for one field or (b, ny, nx) for a batch.
    history : int
        K, the number of past frames kept (default 16).
    lam : float
        lambda, the decay of the lag weights exp(-k / lambda) (frames, default 4).
    scale : float
        h = scale * RMS of the current frame (default 1).
    storage : {"int16", "float"}
        16-bit codes per frame (default) or the field's dtype.
    dtype : dtype
        Float dtype of the fields (default float32).
    backend : str
        "auto", "numpy" or "numba".

    Examples
    --------
    >>> import numpy as np
    >>> tracker = DwellTimeTracker((8, 8), history=4, lam=2.0)
    >>> for _ in range(5):
    ...     tau = tracker.update(np.ones((8, 8), dtype=np.float32))
    >>> bool(np.allclose(tau, tracker.max_dwell))
    True
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        history: int = 16,
        lam: float = 4.0,
        *,
        scale: float = 1.0,
        storage: str = "int16",
        dtype: np.dtype | type = np.float32,
        backend: str = "auto",
    ) -> None:
        if len(shape) not in (2, 3) or min(shape) < 1:
            raise ConfigError(
                f"shape must be (ny, nx) or (b, ny, nx) with positive sizes, got {shape}"
            )
        if int(history) != history or history < 1:
            raise ConfigError(f"history must be a positive number of frames, got {history!r}")
        if not lam > 0 or not scale > 0:
            raise ConfigError(f"lam and scale must be > 0, got {lam!r} and {scale!r}")
        if storage not in ("int16", "float"):
            raise ConfigError(f"storage must be 'int16' or 'float', got {storage!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ConfigError(f"dtype must be float32 or float64, got {self.dtype}")
        self.shape = tuple(int(s) for s in shape)
        self._batch_shape = self.shape if len(self.shape) == 3 else (1, *self.shape)
        self.history = int(history)
        self.lam = float(lam)
        self.scale = float(scale)
        self.storage = storage
        self._kernels = metric_kernels(backend)
        b, ny, nx = self._batch_shape
        hdtype = np.int16 if storage == "int16" else self.dtype
        check_fits(
            b * self.history * ny * nx * np.dtype(hdtype).itemsize,
            f"the dwell-time history of {self.history} frames of {b} {nx}x{ny} fields",
            "use a smaller grid, fewer agents or a shorter dwell history",
        )
        self._ring = np.zeros((b, self.history, ny, nx), dtype=hdtype)
        self._slot_scale = np.ones((b, self.history))
        self._head = 0
        self.frames_seen = 0
        self._all_weights = np.exp(-np.arange(1, self.history + 1) / self.lam)

    @property
    def max_dwell(self) -> float:
        """The largest possible tau: sum_{k=1}^{K} exp(-k / lambda) (frames)."""
        return float(self._all_weights.sum())

    def reset(self) -> None:
        """Forget every past frame."""
        self._head = 0
        self.frames_seen = 0
        self._slot_scale[:] = 1.0

    def lag_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(ring slot, weight) of each lag k = 1..n available for the next update."""
        n = min(self.frames_seen, self.history)
        lags = np.arange(1, n + 1)
        slots = (self._head - lags) % self.history
        return slots.astype(np.int64), self._all_weights[:n]

    def frame_params(self, u: np.ndarray, stats: np.ndarray, **others: Any) -> FrameParams:
        """The kernel parameters of the next frame (dwell part from this tracker).

        Call :meth:`advance` with them once the kernel has run.
        """
        inv_h, store = dwell_scales(stats, self.scale, self.storage)
        slots, weights = self.lag_table()
        return FrameParams(
            history=self._ring, slots=slots, lag_weights=weights, slot_scale=self._slot_scale,
            inv_h=inv_h, store_slot=self._head, store_scale=store, **others,
        )

    def advance(self, params: FrameParams) -> None:
        """Record that the frame of ``params`` was stored in the ring."""
        self._slot_scale[:, self._head] = 1.0 / params.store_scale
        self._head = (self._head + 1) % self.history
        self.frames_seen += 1

    def update_batch(self, u: np.ndarray, stats: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Dwell of a checked (b, ny, nx) batch with its frame stats; stores the frame.

        ``stats`` is :meth:`MetricKernels.frame_stats` of ``u`` (mean, mean square, max|u|).
        """
        inv_h, store = dwell_scales(stats, self.scale, self.storage)
        slots, weights = self.lag_table()
        self._kernels.dwell(
            u, self._ring, slots, weights, self._slot_scale, inv_h, self._head, store, out
        )
        self._slot_scale[:, self._head] = 1.0 / store
        self._head = (self._head + 1) % self.history
        self.frames_seen += 1
        return out

    def update(self, u: np.ndarray) -> np.ndarray:
        """Add a frame and return its dwell field.

        Parameters
        ----------
        u : ndarray, shape ``self.shape``

        Returns
        -------
        ndarray, shape ``self.shape``, dtype ``self.dtype``
            tau (frames), in [0, max_dwell].
        """
        batch, _ = as_batch(u)
        if batch.shape != self._batch_shape:
            raise FieldError(f"the tracker was made for shape {self.shape}, got {np.shape(u)}")
        batch = np.ascontiguousarray(batch, dtype=self.dtype)
        check_finite(batch)
        out = np.empty_like(batch)
        self.update_batch(batch, self._kernels.frame_stats(batch), out)
        return out.reshape(self.shape)

    def __repr__(self) -> str:
        return (
            f"DwellTimeTracker(shape={self.shape}, history={self.history}, lam={self.lam}, "
            f"scale={self.scale}, storage={self.storage!r}, frames_seen={self.frames_seen})"
        )



class RecursiveDwell:
    """The recursive dwell in seconds (see the module docstring) of one run.

    Parameters
    ----------
    shape : tuple of int
        (ny, nx) for one field or (b, ny, nx) for a batch.
    lam : float
        lambda, the memory (s, default 0.1).
    scale : float
        h = scale * RMS of the current frame (default 1).
    dtype : dtype
        Float dtype of the fields (default float32).
    backend : str
        "auto", "numpy" or "numba".

    Examples
    --------
    >>> import numpy as np
    >>> dwell = RecursiveDwell((8, 8), lam=0.1)
    >>> for n in range(400):
    ...     tau = dwell.update(np.ones((8, 8), dtype=np.float32), dt=0.001)
    >>> round(float(tau.mean()), 4)  # an unchanging cell dwells lambda
    0.1
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        lam: float = 0.1,
        *,
        scale: float = 1.0,
        dtype: np.dtype | type = np.float32,
        backend: str = "auto",
    ) -> None:
        if len(shape) not in (2, 3) or min(shape) < 1:
            raise ConfigError(
                f"shape must be (ny, nx) or (b, ny, nx) with positive sizes, got {shape}"
            )
        if not lam > 0 or not scale > 0:
            raise ConfigError(f"lam and scale must be > 0, got {lam!r} and {scale!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ConfigError(f"dtype must be float32 or float64, got {self.dtype}")
        self.shape = tuple(int(s) for s in shape)
        self._batch_shape = self.shape if len(self.shape) == 3 else (1, *self.shape)
        self.lam = float(lam)
        self.scale = float(scale)
        self._kernels = metric_kernels(backend)
        b, ny, nx = self._batch_shape
        self.state = np.zeros((b, 2, ny, nx), dtype=self.dtype)
        self.frames_seen = 0
        self._empty_ring = np.zeros((b, 1, 1, 1), dtype=np.int16)

    @property
    def max_dwell(self) -> float:
        """The largest mean tau, that of an unchanging field: lambda (s)."""
        return self.lam

    def reset(self) -> None:
        """Forget the previous frame and tau."""
        self.frames_seen = 0
        self.state[...] = 0

    def coefficients(self, dt: float) -> tuple[float, float, float]:
        """(decay, increment, rate) of the next frame (:func:`recursive_coefficients`)."""
        return recursive_coefficients(self.frames_seen, dt, self.lam)

    def frame_params(
        self, u: np.ndarray, stats: np.ndarray, dt: float, **others: Any
    ) -> FrameParams:
        """The kernel parameters of the next frame (dwell part from this tracker).

        Call :meth:`advance` with them once the kernel has run.
        """
        inv_h, _ = dwell_scales(stats, self.scale, "float")
        decay, increment, rate = self.coefficients(dt)
        b = self._batch_shape[0]
        return FrameParams(
            history=self._empty_ring, slots=np.zeros(0, dtype=np.int64),
            lag_weights=np.zeros(0), slot_scale=np.ones((b, 1)), inv_h=inv_h,
            store_slot=-1, store_scale=np.ones(b), recursive=self.state, decay=decay,
            increment=increment, decay_rate=rate, **others,
        )

    def advance(self, params: FrameParams) -> None:
        """Record that the kernel has stored the frame of ``params``."""
        self.frames_seen += 1

    def update(self, u: np.ndarray, dt: float) -> np.ndarray:
        """Add a frame, ``dt`` seconds after the previous one, and return its tau (s).

        Parameters
        ----------
        u : ndarray, shape ``self.shape``
        dt : float
            Seconds since the previous frame (ignored for the first frame, whose tau is 0).

        Returns
        -------
        ndarray, shape ``self.shape``, dtype ``self.dtype``
        """
        batch, _ = as_batch(u)
        if batch.shape != self._batch_shape:
            raise FieldError(f"the tracker was made for shape {self.shape}, got {np.shape(u)}")
        batch = np.ascontiguousarray(batch, dtype=self.dtype)
        check_finite(batch)
        inv_h, _ = dwell_scales(self._kernels.frame_stats(batch), self.scale, "float")
        decay, increment, rate = self.coefficients(dt)
        out = np.empty_like(batch)
        self._kernels.recursive_dwell(batch, self.state, inv_h, decay, increment, rate, out)
        self.frames_seen += 1
        return out.reshape(self.shape)

    def __repr__(self) -> str:
        return (
            f"RecursiveDwell(shape={self.shape}, lam={self.lam}, scale={self.scale}, "
            f"frames_seen={self.frames_seen})"
        )


def recursive_coefficients(frames_seen: int, dt: float, lam: float) -> tuple[float, float, float]:
    """(decay, increment, rate) of the recursive dwell's next frame, dt seconds after the
    previous one: exp(-dt / lambda), dt and dt / lambda (zeros for the first frame).

    Raises
    ------
    FieldError
        When a frame after the first has no positive dt.
    """
    if frames_seen == 0:
        return 0.0, 0.0, 0.0
    if not dt > 0:
        raise FieldError(
            f"the recursive dwell needs increasing frame times, got a step of {dt!r} s "
            "(pass t= to update, or set MetricsConfig.frame_interval)"
        )
    return math.exp(-dt / lam), float(dt), dt / lam
