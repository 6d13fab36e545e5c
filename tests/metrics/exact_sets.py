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


def random_cantor(keep: int, depth: int, rng: np.random.Generator) -> np.ndarray:
    """A random 3x3 Cantor set on a 3^depth grid: every kept square keeps ``keep`` of its
    nine sub-squares, drawn independently; dimension log(keep) / log(3)."""
    m = np.ones((1, 1), dtype=bool)
    for _ in range(depth):
        n = m.shape[0]
        grid = np.zeros((n, 3, n, 3), dtype=bool)
        iy, ix = np.nonzero(m)
        for i, j in zip(iy, ix, strict=True):
            cells = rng.choice(9, keep, replace=False)
            grid[i, cells // 3, j, cells % 3] = True
        m = grid.reshape(3 * n, 3 * n)
    return m


def koch_curve(width: int, depth: int) -> np.ndarray:
    """The Koch curve of ``depth`` iterations drawn across ``width`` cells (every segment
    sampled densely), on a grid of height ceil(width / 3.4); dimension log 4 / log 3."""
    pts = np.array([0.0 + 0.0j, 1.0 + 0.0j])
    turn = np.exp(1j * np.pi / 3)
    for _ in range(depth):
        a, b = pts[:-1], pts[1:]
        d = (b - a) / 3
        new = np.empty(4 * len(a) + 1, dtype=complex)
        new[0:-1:4] = a
        new[1::4] = a + d
        new[2::4] = a + d + d * turn
        new[3::4] = a + 2 * d
        new[-1] = pts[-1]
        pts = new
    t = np.linspace(0, 1, 16, endpoint=False)
    dense = (pts[:-1, None] + t[None, :] * (pts[1:] - pts[:-1])[:, None]).ravel()
    height = int(np.ceil(width / 3.4))
    mask = np.zeros((height, width), dtype=bool)
    x = np.minimum((dense.real * width).astype(int), width - 1)
    y = np.minimum((dense.imag * width).astype(int), height - 1)
    mask[y, x] = True
    return mask
