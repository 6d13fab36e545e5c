"""Per-frame scale factors computed from a frame's statistics, shared by the metrics and
every backend: the shift of the local moments and the dwell similarity/storage scales."""

from __future__ import annotations

import numpy as np

__all__ = ["moment_shift", "dwell_scales"]

#: Cap of 1/h for a frame that is zero everywhere (similarity scale h = 0).
_MAX_INV_H = 1e30


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


def dwell_scales(
    stats: np.ndarray, scale: float, storage: str
) -> tuple[np.ndarray, np.ndarray]:
    """The dwell similarity scale 1/h and the storage scale of each member's frame.

    Parameters
    ----------
    stats : ndarray, shape (b, 3)
        Frame statistics (mean, mean square, max |u|).
    scale : float
        h = scale * RMS of the frame.
    storage : {"int16", "float"}
        int16 frames are stored as round(u * 32767 / max|u|); float frames as they are.

    Returns
    -------
    inv_h, store : ndarray, shape (b,)
    """
    rms = np.sqrt(np.maximum(stats[:, 1], 0.0))
    h = scale * rms
    inv_h = np.where(h > 1.0 / _MAX_INV_H, 1.0 / np.maximum(h, 1.0 / _MAX_INV_H), _MAX_INV_H)
    if storage == "int16":
        maxabs = stats[:, 2]
        store = np.where(maxabs > 0, 32767.0 / np.where(maxabs > 0, maxabs, 1.0), 1.0)
    else:
        store = np.ones(stats.shape[0])
    return inv_h, store
