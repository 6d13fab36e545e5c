"""Benchmarks behind ``resonance bench`` (one module per benchmark).

They report medians over repeats and ratios against a baseline measured in the same
run, because the machines they run on are shared and noisy. Tests never time anything.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

__all__ = ["median_seconds", "interleaved_seconds"]


def median_seconds(
    fn: Callable[[], object],
    repeats: int = 5,
    min_time: float = 0.2,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median time of ``fn()`` over ``repeats`` rounds (s).

    Each round calls ``fn`` as often as needed to last at least ``min_time`` seconds
    (found from a first call), so short kernels are not dominated by timer noise.
    ``clock`` is wall time by default; ``time.thread_time`` gives the CPU time of the
    calling thread (for single-threaded work on a loaded machine).
    """
    start = clock()
    fn()
    once = max(clock() - start, 1e-9)
    calls = max(1, int(min_time / once))
    samples = []
    for _ in range(repeats):
        start = clock()
        for _ in range(calls):
            fn()
        samples.append((clock() - start) / calls)
    return statistics.median(samples)


def interleaved_seconds(
    fns: Mapping[str, Callable[[], object]], repeats: int = 5, min_time: float = 0.2
) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall times of several functions timed in alternating rounds (s).

    Round ``r`` times every function once (each called often enough to last
    ``min_time``), so that load from other processes hits all of them alike. Returns the
    median time of each and, for every name after the first, the median over rounds of
    (first's time / its time): a ratio of two runs measured side by side, which is far
    steadier on a shared machine than the ratio of two medians.
    """
    calls = {}
    for name, fn in fns.items():
        start = time.perf_counter()
        fn()
        calls[name] = max(1, int(min_time / max(time.perf_counter() - start, 1e-9)))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(calls[name]):
                fn()
            samples[name].append((time.perf_counter() - start) / calls[name])
    first, *others = fns
    ratios = {
        name: statistics.median(a / b for a, b in zip(samples[first], samples[name], strict=True))
        for name in others
    }
    return {name: statistics.median(v) for name, v in samples.items()}, ratios
