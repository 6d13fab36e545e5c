"""The shift subtracted before local moments, shared by the metrics and every backend."""

from __future__ import annotations

import numpy as np

__all__ = ["moment_shift"]


def moment_shift(batch: np.ndarray, stats: np.ndarray) -> np.ndarray:
    """The value subtracted before taking the local moments, per member (b,).

    The frame mean (it keeps E[u^2] - E[u]^2 from cancelling), except for a frame that is
    constant to rounding, where it is one of its cells, so that the variance is exactly 0.
    """
    shift = stats[:, 0].copy()
    spread = stats[:, 1] - stats[:, 0] ** 2
    flat = spread <= 1e-12 * np.maximum(stats[:, 1], np.finfo(np.float64).tiny)
    shift[flat] = batch[flat, 0, 0]
    return shift
