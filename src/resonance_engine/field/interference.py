"""The blueprint's analytic interference field and its accumulation.

    A(x, y, t) = sum_i A_i sin(2 pi f_i t - 2 pi f_i r_i / v + phi_i)
    E(x, y, t) = delta E(x, y, t - 1) + ReLU(A(x, y, t))

where r_i is the distance from source i. This is the superposition of undamped
outgoing waves without reflections or 1/sqrt(r) spreading: a cheap idealisation to
compare with :class:`~resonance_engine.field.solver.WaveSolver2D`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from resonance_engine.errors import ConfigError
from resonance_engine.field.sources import PointSource

__all__ = ["InterferenceField"]


class InterferenceField:
    """Analytic superposition of point sources on a grid, with ReLU accumulation.

    Parameters
    ----------
    nx, ny : int
        Grid size (cells).
    dx : float
        Cell spacing along x (m); ``dy`` defaults to it.
    sources : sequence of PointSource
    velocity : float
        Phase velocity v (m/s).
    decay : float
        delta, the memory of the accumulation, in [0, 1) (0.95-0.99 in the blueprint).
    dy : float, optional
    dtype : {"float32", "float64"}

    Notes
    -----
    Each source's spatial phase is precomputed as cos and sin maps, so evaluating
    A(t) costs two multiply-adds per source and cell:
    sin(w t + phi - k r) = sin(w t + phi) cos(k r) - cos(w t + phi) sin(k r).
    """

    def __init__(
        self,
        nx: int,
        ny: int,
        dx: float,
        sources: Sequence[PointSource],
        velocity: float = 1.0,
        decay: float = 0.97,
        dy: float | None = None,
        dtype: str = "float32",
    ) -> None:
        if nx < 1 or ny < 1:
            raise ConfigError(f"grid must have at least one cell, got nx={nx}, ny={ny}")
        if velocity <= 0:
            raise ConfigError(f"velocity must be > 0 (m/s), got {velocity!r}")
        if not 0 <= decay < 1:
            raise ConfigError(f"decay (delta) must be in [0, 1), got {decay!r}")
        if not sources:
            raise ConfigError("InterferenceField needs at least one PointSource")
        dy = dx if dy is None else dy
        self.sources = tuple(sources)
        self.velocity = float(velocity)
        self.decay = float(decay)
        self.dtype = np.dtype(dtype)
        y, x = np.meshgrid(np.arange(ny) * dy, np.arange(nx) * dx, indexing="ij")
        self._cos_kr = np.empty((len(sources), ny, nx), dtype=self.dtype)
        self._sin_kr = np.empty_like(self._cos_kr)
        for i, s in enumerate(self.sources):
            kr = 2 * np.pi * s.frequency * np.hypot(x - s.x, y - s.y) / self.velocity
            self._cos_kr[i] = s.amplitude * np.cos(kr)
            self._sin_kr[i] = s.amplitude * np.sin(kr)
        self.accumulated = np.zeros((ny, nx), dtype=self.dtype)
        self._amplitude = np.zeros_like(self.accumulated)

    def amplitude(self, t: float) -> np.ndarray:
        """A(x, y, t), shape (ny, nx). The returned array is reused by the next call."""
        out = self._amplitude
        out[...] = 0
        for i, s in enumerate(self.sources):
            wt = 2 * np.pi * s.frequency * t + s.phase
            out += self.dtype.type(np.sin(wt)) * self._cos_kr[i]
            out -= self.dtype.type(np.cos(wt)) * self._sin_kr[i]
        return out

    def accumulate(self, t: float) -> np.ndarray:
        """Advance E = delta E + ReLU(A(t)) and return E, shape (ny, nx)."""
        a = self.amplitude(t)
        self.accumulated *= self.decay
        self.accumulated += np.maximum(a, 0)
        return self.accumulated

    def reset(self) -> None:
        """Forget the accumulation."""
        self.accumulated[...] = 0
