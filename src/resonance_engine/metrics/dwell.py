"""Dwell time tau: how much each cell still resembles its recent past.

The seed's code form, with a bounded similarity::

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

from typing import Any

import numpy as np

from resonance_engine.backends import metric_kernels
from resonance_engine.backends.base import FrameParams
from resonance_engine.backends.frame_scales import dwell_scales
from resonance_engine.errors import ConfigError, FieldError
from resonance_engine.metrics._input import as_batch, check_finite

__all__ = ["DwellTimeTracker"]



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

