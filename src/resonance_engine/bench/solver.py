"""Leapfrog step throughput: ms/step and Gcell/s per backend and grid size.

Ratios printed: each backend against the numpy reference at the same size, and the
numba stencil against a triad a = b + s c over arrays of the same size (the same two
loads and one store per cell: the memory-bandwidth bound of the in-place update). The
wgpu backend is measured against a buffer-to-buffer copy on the same GPU
(:mod:`resonance_engine.bench.gpu`).
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial
from typing import Any

import numpy as np

from resonance_engine.backends import field_kernels
from resonance_engine.bench import gpu, median_seconds
from resonance_engine.field.solver import WaveSolver2D

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sizes",
        default=None,
        help="comma-separated grid sizes (cells per side; default 256,1024,4096, or "
        "1024,4096,8192 when only wgpu is measured)",
    )
    p.add_argument(
        "--backends",
        "--backend",
        default="numpy,numba",
        help="comma-separated backends (numpy, numba, wgpu)",
    )
    p.add_argument("--steps", type=int, default=20, help="steps per timed call (default 20)")
    p.add_argument(
        "--gpu-steps", type=int, default=500, help="wgpu steps per timed call (default 500)"
    )
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--repeats", type=int, default=5, help="timed rounds; the median is reported")
    p.add_argument(
        "--threads",
        default=None,
        help="comma-separated numba thread counts to measure (default: the current count)",
    )


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
    backends = [b.strip() for b in args.backends.split(",")]
    sizes_text = args.sizes or ("1024,4096,8192" if backends == ["wgpu"] else "256,1024,4096")
    sizes = [int(s) for s in sizes_text.split(",")]
    threads = [1]
    if "numba" in backends:
        import numba

        threads = [numba.get_num_threads()]
    if args.threads:
        threads = [int(t) for t in args.threads.split(",")]
    results: dict[str, Any] = {"dtype": args.dtype, "cpus": os.cpu_count()}
    for backend in backends:
        if backend == "wgpu":
            seconds, adapter = gpu.first_call_seconds(args.dtype)
            results["wgpu adapter"] = adapter
            results["wgpu first call incl. device and shader setup (s)"] = seconds
            continue
        start = time.perf_counter()
        _solver(16, backend, args.dtype).step(1)
        results[f"{backend} first call incl. compile/cache load (s)"] = time.perf_counter() - start
    for size in sizes:
        numpy_rate = None
        if "numpy" in backends:
            solver = _solver(size, "numpy", args.dtype)
            steps = max(1, args.steps * 256**2 // size**2)  # the reference is slow on big grids
            seconds = median_seconds(partial(solver.step, steps), args.repeats) / steps
            numpy_rate = size * size / seconds
            results[f"{size} numpy ms/step"] = seconds * 1e3
            results[f"{size} numpy Gcell/s"] = numpy_rate / 1e9
        if "wgpu" in backends:
            results.update(gpu.measure_wgpu(size, args.gpu_steps, args.repeats, args.dtype))
        if "numba" not in backends:
            continue
        solver = _solver(size, "numba", args.dtype)
        a, b, c = (np.ones(size * size, dtype=args.dtype) for _ in range(3))
        triad = partial(field_kernels("numba").triad, a, b, c, 0.5)
        for n in threads:
            numba.set_num_threads(n)
            tag = f"{size} numba {n}T"
            seconds = median_seconds(partial(solver.step, args.steps), args.repeats) / args.steps
            rate = size * size / seconds
            triad_rate = size * size / median_seconds(triad, args.repeats)
            results[f"{tag} ms/step"] = seconds * 1e3
            results[f"{tag} Gcell/s"] = rate / 1e9
            if numpy_rate:
                results[f"{tag} / numpy"] = rate / numpy_rate
            results[f"{size} triad {n}T Gcell/s"] = triad_rate / 1e9
            results[f"{tag} / triad"] = rate / triad_rate
    return results
