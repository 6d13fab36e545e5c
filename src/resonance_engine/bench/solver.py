"""Leapfrog step throughput: ms/step and Gcell/s per backend and grid size.

Ratios printed: each backend against the numpy reference at the same size, and the
numba stencil against a triad a = b + s c over arrays of the same size (the same two
loads and one store per cell: the memory-bandwidth bound of the in-place update).
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial
from typing import Any

import numpy as np

from resonance_engine.backends import field_kernels
from resonance_engine.bench import median_seconds
from resonance_engine.field.solver import WaveSolver2D

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sizes", default="256,1024,4096", help="comma-separated grid sizes (cells per side)"
    )
    p.add_argument("--backends", default="numpy,numba", help="comma-separated backends")
    p.add_argument("--steps", type=int, default=20, help="steps per timed call (default 20)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--repeats", type=int, default=5, help="timed rounds; the median is reported")


def _solver(size: int, backend: str, dtype: str) -> WaveSolver2D:
    solver = WaveSolver2D(
        size,
        size,
        dx=1.0,
        damping=0.01,
        boundary="absorbing",
        dtype=dtype,
        backend=backend,
        check_interval=10**9,
    )
    solver.set_gaussian_pulse(size / 2, size / 2, size / 16)
    return solver


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = [b.strip() for b in args.backends.split(",")]
    results: dict[str, Any] = {
        "threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
        "dtype": args.dtype,
    }
    for backend in backends:
        start = time.perf_counter()
        _solver(16, backend, args.dtype).step(1)
        results[f"{backend} first call incl. compile/cache load (s)"] = time.perf_counter() - start
    for size in sizes:
        rates: dict[str, float] = {}
        for backend in backends:
            solver = _solver(size, backend, args.dtype)
            # the numpy reference is slow on big grids: fewer steps per call
            steps = max(1, args.steps if backend != "numpy" else args.steps * 256**2 // size**2)
            seconds = median_seconds(partial(solver.step, steps), args.repeats) / steps
            rates[backend] = size * size / seconds
            results[f"{size} {backend} ms/step"] = seconds * 1e3
            results[f"{size} {backend} Gcell/s"] = rates[backend] / 1e9
        if "numpy" in rates:
            for backend in backends:
                if backend != "numpy":
                    results[f"{size} {backend} / numpy"] = rates[backend] / rates["numpy"]
        if "numba" in rates:
            kernels = field_kernels("numba")
            a, b, c = (np.ones(size * size, dtype=args.dtype) for _ in range(3))
            seconds = median_seconds(partial(kernels.triad, a, b, c, 0.5), args.repeats)
            results[f"{size} triad Gcell/s"] = size * size / seconds / 1e9
            results[f"{size} numba / triad"] = rates["numba"] * seconds / (size * size)
    return results
