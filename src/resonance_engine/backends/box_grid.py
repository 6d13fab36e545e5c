"""Which shifted box grids the occupancy count averages over, shared by every backend."""

from __future__ import annotations

import numpy as np

__all__ = ["extent", "tight_shifts", "shift_factor", "source_drop", "tight_mean"]


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


def shift_factor(size: int, base: int) -> int:
    """Shifts per axis of the box grid of side ``size`` (the grid moves by size / factor).

    Base 2: none (1) for sizes 1 and 2, 2 for 4 and 8, 4 for 16 and 8 from 32 up (boxes
    are few there, and the bias of an unlucky alignment grows); base 3: 3 from size 3.
    A backend counts the boxes of side s from the aligned boxes of side s / factor.
    """
    if base == 3:
        return 3 if size >= 3 else 1
    if size <= 2:
        return 1
    if size <= 8:
        return 2
    return 4 if size < 32 else 8


def source_drop(factor: int, base: int) -> int:
    """How many levels below a box size its shifted boxes are counted from: the boxes of
    side s are ``factor`` x ``factor`` aligned boxes of side s / factor = s / base^drop."""
    return 1 if base == 3 else factor.bit_length() - 1


def tight_mean(found: np.ndarray, box: np.ndarray, size: int, step: int) -> float:
    """Mean of the counts ``found[iy, ix]`` (shift iy * step, ix * step) over the grids
    that are tight along both axes for the extent ``box`` = (r0, r1, c0, c1)."""
    ty = tight_shifts(int(box[0]), int(box[1]), size, step) // step
    tx = tight_shifts(int(box[2]), int(box[3]), size, step) // step
    return float(found[np.ix_(ty, tx)].mean())
