"""Benchmarks behind ``resonance bench`` (one module per benchmark).

They report medians over repeats and ratios against a baseline measured in the same
run, because the machines they run on are shared and noisy. Tests never time anything.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

__all__ = ["median_seconds"]


def median_seconds(fn: Callable[[], object], repeats: int = 5, min_time: float = 0.2) -> float:
    """Median wall time of ``fn()`` over ``repeats`` rounds (s).

    Each round calls ``fn`` as often as needed to last at least ``min_time`` seconds
    (found from a first call), so short kernels are not dominated by timer noise.
    """
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-9)
    calls = max(1, int(min_time / once))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)
