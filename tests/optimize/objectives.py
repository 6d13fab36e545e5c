"""Test objectives (module level, so that worker processes can import them)."""

from __future__ import annotations

import numpy as np


def rosenbrock(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def rastrigin(x: np.ndarray) -> float:
    return float(10 * len(x) + np.sum(x**2 - 10 * np.cos(2 * np.pi * x)))


def inside_unit_box(x: np.ndarray) -> float:
    """Raises for a candidate outside [0, 1]^d: an evaluation there would fail the test."""
    if np.any(x < 0.0) or np.any(x > 1.0):
        raise AssertionError(f"evaluated outside the bounds: {x}")
    return float(np.sum((x + 0.5) ** 2))  # optimum on the lower bound, x = 0


def noisy_sphere(x: np.ndarray, seed: int) -> float:
    return float(np.sum(x**2) + np.random.default_rng(seed).normal(scale=0.1))


class Interrupting:
    """Sphere that raises KeyboardInterrupt (Ctrl-C) at its n-th call."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def __call__(self, x: np.ndarray) -> float:
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return rosenbrock(x)


def sometimes_failing(x: np.ndarray) -> float:
    if x[0] > 0.5:
        raise ValueError("no value above 0.5")
    return float(np.sum(x**2))
