"""Which shifted box grids the occupancy count averages over, shared by every backend."""

from __future__ import annotations

import numpy as np

__all__ = ["extent", "tight_shifts"]


def extent(mask: np.ndarray) -> np.ndarray:
    """First and last active row and column of each member, shape (b, 4): (r0, r1, c0, c1).

    ``mask`` is (b, h, w) of bool or uint8 flags (a mask or one level of the box pyramid).
    A member without an active flag gets (0, h - 1, 0, w - 1).
    """
    b, h, w = mask.shape
    out = np.empty((b, 4), dtype=np.int64)
    rows: np.ndarray = np.asarray(mask.any(axis=2))
    cols: np.ndarray = np.asarray(mask.any(axis=1))
    for k in range(b):
        r = np.flatnonzero(rows[k])
        c = np.flatnonzero(cols[k])
        out[k] = (r[0], r[-1], c[0], c[-1]) if len(r) else (0, h - 1, 0, w - 1)
    return out


def tight_shifts(lo: int, hi: int, size: int, step: int) -> np.ndarray:
    """The shifts that cover positions lo..hi with the fewest boxes.

    Boxes of side ``size`` start at -d + k size for a shift d (a multiple of ``step`` below
    ``size``); the shifts d that need the fewest boxes to cover lo..hi along this axis are
    returned (ascending). The occupancy count of a set is the mean over the grids whose
    shifts are tight along both axes: a grid that needs an extra row or column of boxes
    across the set's extent inflates the coarse counts (a set shifted against the grid
    reads low), and the smallest count over all shifts picks, at coarse sizes where boxes
    are few, the luckiest grid rather than a typical one (a Koch curve reads high).

    Examples
    --------
    >>> tight_shifts(30, 272, 64, 8).tolist()  # 243 cells from 30: four boxes from 17..30
    [40]
    """
    d = np.arange(0, size, step)
    boxes = (hi + d) // size - (lo + d) // size
    result: np.ndarray = d[boxes == boxes.min()]
    return result
