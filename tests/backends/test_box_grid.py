"""The tight box grids of the occupancy count."""

from __future__ import annotations

import doctest

import numpy as np

from resonance_engine.backends import box_grid
from resonance_engine.backends.box_grid import extent, tight_shifts


def test_doctests() -> None:
    assert doctest.testmod(box_grid).failed == 0


def test_tight_shifts_cover_the_extent_with_the_fewest_boxes() -> None:
    for lo, hi, size, step in [(30, 272, 64, 8), (0, 1023, 64, 8), (5, 5, 4, 1), (3, 40, 16, 4)]:
        shifts = tight_shifts(lo, hi, size, step)
        boxes = {d: (hi + d) // size - (lo + d) // size + 1 for d in range(0, size, step)}
        fewest = min(boxes.values())
        assert fewest == -(-(hi - lo + 1) // size) or fewest == -(-(hi - lo + 1) // size) + 1
        assert shifts.tolist() == [d for d, n in boxes.items() if n == fewest]
    # a grid that spans the whole axis is tight only unshifted
    assert tight_shifts(0, 1023, 64, 8).tolist() == [0]


def test_extent_of_each_member() -> None:
    mask = np.zeros((2, 10, 12), dtype=bool)
    mask[0, 2, 3] = mask[0, 7, 9] = True
    assert extent(mask).tolist() == [[2, 7, 3, 9], [0, 9, 0, 11]]  # empty: the whole grid
