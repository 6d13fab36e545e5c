"""Gain G: the neighbourhood mean of the amplitude |u|.

G(x, y) = mean of |u| over the window x window square centred on (x, y); near the
edges, over the part of the square inside the grid. Computed in O(N) per frame: running
sums along y (float64 accumulators) and, along x, sums over the window of the column
sums kept in cache.
"""

from __future__ import annotations

import numpy as np

from resonance_engine.backends import metric_kernels
from resonance_engine.errors import ConfigError
from resonance_engine.metrics._input import as_batch, check_finite

__all__ = ["gain_field"]


def check_window(window: int) -> int:
    """The window side as an int, or ConfigError when it is not a positive odd number."""
    if int(window) != window or window < 1 or window % 2 == 0:
        raise ConfigError(f"the gain window must be a positive odd number of cells, got {window!r}")
    return int(window)


def gain_field(u: np.ndarray, window: int = 5, *, backend: str = "auto") -> np.ndarray:
    """Local mean amplitude of a field.

    Parameters
    ----------
    u : ndarray, shape (ny, nx) or (b, ny, nx)
        Field(s) (units of u).
    window : int
        Odd side of the square window (cells, default 5).
    backend : str
        "auto", "numpy" or "numba".

    Returns
    -------
    ndarray, same shape and float dtype as ``u``
        G (units of u), >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> float(gain_field(np.full((8, 8), -2.0), 3)[4, 4])
    2.0
    """
    w = check_window(window)
    batch, single = as_batch(u)
    check_finite(batch)
    out = np.empty_like(batch)
    metric_kernels(backend).gain(batch, w, out)
    return out[0] if single else out
