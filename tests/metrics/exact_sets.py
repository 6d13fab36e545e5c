"""Exact sets for the box-counting tests."""

from __future__ import annotations

import numpy as np


def sierpinski_triangle(order: int) -> np.ndarray:
    """Pascal's triangle mod 2 on a 2^order grid: cell (i, j) is in iff i & j == 0."""
    n = 1 << order
    i, j = np.mgrid[0:n, 0:n]
    return np.asarray((i & j) == 0)


def sierpinski_carpet(n: int, depth: int) -> np.ndarray:
    """The carpet sampled at the centres of an n x n grid, holes down to 3^-depth.

    A point (x, y) of the unit square is out when, at some of the first ``depth``
    ternary digits, the digits of x and y are both 1. (Power-of-two boxes on a carpet
    drawn on a 3^k grid read about 1.85, because boxes and holes never align; sampling
    the continuous carpet avoids that artefact.)
    """
    y, x = np.mgrid[0:n, 0:n]
    fx = (x + 0.5) / n
    fy = (y + 0.5) / n
    keep = np.ones((n, n), dtype=bool)
    for _ in range(depth):
        fx = fx * 3
        fy = fy * 3
        keep &= ~((np.floor(fx) % 3 == 1) & (np.floor(fy) % 3 == 1))
    return keep


def embed(mask: np.ndarray, shape: tuple[int, int], offset: tuple[int, int]) -> np.ndarray:
    """Place a mask in a larger empty grid at (row, column) offset."""
    out = np.zeros(shape, dtype=bool)
    out[offset[0] : offset[0] + mask.shape[0], offset[1] : offset[1] + mask.shape[1]] = mask
    return out
