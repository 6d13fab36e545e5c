"""Leapfrog step throughput: ms/step and Gcell/s per backend and grid size.

Ratios printed: each backend against the numpy reference at the same size; the numba
solver against the plainest three-buffer numba stencil (one parallel loop over rows per
step, no damping, sources or boundaries) and against a triad a = b + s c over arrays of
the same size (two loads and one store per cell: the memory-bandwidth bound of a
single-step in-place update, which the solver's two-steps-per-sweep kernel can beat).
These three are timed in alternating rounds and the ratios are medians of per-round
ratios, so load from other processes hits them alike. Devito's rate on the same grid is
added where Devito is installed. The wgpu backend is measured against a buffer-to-buffer
copy on the same GPU (:mod:`resonance_engine.bench.gpu`).
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial
from typing import Any

import numpy as np

from resonance_engine.bench import gpu, interleaved_seconds, median_seconds
from resonance_engine.cli.args import COUNT, integers, name_list
from resonance_engine.field.solver import WaveSolver2D

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sizes",
        type=integers(low=16),
        default=None,
        help="comma-separated grid sizes (cells per side; default 256,1024,4096, or "
        "1024,4096,8192 when only wgpu is measured)",
    )
    p.add_argument(
        "--backends",
        "--backend",
        type=name_list(("numpy", "numba", "wgpu")),
        default="numpy,numba",
        help="comma-separated backends (numpy, numba, wgpu)",
    )
    p.add_argument("--steps", type=COUNT, default=20, help="steps per timed call (default 20)")
    p.add_argument(
        "--gpu-steps", type=COUNT, default=500, help="wgpu steps per timed call (default 500)"
    )
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--repeats", type=COUNT, default=5, help="timed rounds; the median is reported")
    p.add_argument(
        "--threads",
        type=integers(low=1),
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
    backends = list(args.backends)
    sizes = args.sizes or ([1024, 4096, 8192] if backends == ["wgpu"] else [256, 1024, 4096])
    threads = [1]
    if "numba" in backends:
        import numba

        threads = [numba.get_num_threads()]
    if args.threads:
        threads = list(args.threads)
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
        from resonance_engine.backends.numba_cpu import field as kernels

        a, b, c = (np.ones(size * size, dtype=args.dtype) for _ in range(3))
        grids = [np.zeros((size, size), dtype=args.dtype) for _ in range(3)]
        grids[1][size // 2, size // 2] = 1.0
        timed = {
            "solver": partial(solver.step, args.steps),
            "plain": partial(kernels.plain_stencil_steps, grids[0], grids[1], grids[2], args.steps),
            "triad": partial(kernels.triad, a, b, c, 0.5),
        }
        for n in threads:
            numba.set_num_threads(n)
            tag = f"{size} numba {n}T"
            times, ratios = interleaved_seconds(timed, args.repeats)
            rate = size * size * args.steps / times["solver"]
            results[f"{tag} ms/step"] = times["solver"] / args.steps * 1e3
            results[f"{tag} Gcell/s"] = rate / 1e9
            if numpy_rate:
                results[f"{tag} / numpy"] = rate / numpy_rate
            results[f"{size} plain stencil {n}T Gcell/s"] = (
                size * size * args.steps / times["plain"] / 1e9
            )
            results[f"{size} triad {n}T Gcell/s"] = size * size / times["triad"] / 1e9
            results[f"{tag} / plain stencil"] = 1.0 / ratios["plain"]
            # the solver does ``steps`` updates in its time, the triad one pass
            results[f"{tag} / triad"] = args.steps / ratios["triad"]
        devito = devito_rate(size, args.steps, args.repeats, args.dtype)
        if devito is not None:
            results[f"{size} devito Gcell/s"] = devito / 1e9
            results[f"{size} numba / devito"] = results[f"{size} numba {threads[-1]}T Gcell/s"] * (
                1e9 / devito
            )
    return results


def devito_rate(size: int, steps: int, repeats: int, dtype: str) -> float | None:
    """Cells per second of Devito's leapfrog for the same wave equation, or None.

    Devito (``pip install devito``, optional) generates and compiles OpenMP C for the
    undamped second-order wave equation on a ``size`` x ``size`` grid; the first call
    (code generation and compilation) is not timed.
    """
    try:
        import devito  # noqa: F401
    except ImportError:
        return None
    from devito import Eq, Grid, Operator, TimeFunction, solve

    grid = Grid(shape=(size, size), extent=(size - 1.0, size - 1.0), dtype=np.dtype(dtype).type)
    u = TimeFunction(name="u", grid=grid, time_order=2, space_order=2)
    u.data[:, size // 2, size // 2] = 1.0
    update = Eq(u.forward, solve(u.dt2 - 0.25 * u.laplace, u.forward))
    op = Operator([update], opt="advanced")
    dt = 0.5
    op.apply(time_M=2, dt=dt)
    seconds = median_seconds(lambda: op.apply(time_M=steps, dt=dt), repeats) / steps
    return size * size / seconds
