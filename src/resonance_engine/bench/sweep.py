"""Sweep scale-out: the same sweep on 1 and 2 Dask workers (and in-process for reference).

The sweep is ``--runs`` runs of the default pond at ``--size`` (distinct damping values),
one numba thread per run. Each Dask cluster is started and warmed up (every worker runs
one task, so numba's cache is loaded) before the timed rounds; the median of
``--repeats`` rounds is reported. Printed:

- wall time in this process, serially (``serial``) and on 1 and 2 Dask workers;
- ``speedup 2 vs 1 workers``: the 1-worker time over the 2-worker time;
- ``per-task overhead``: (1-worker Dask time - serial time) / runs, i.e. what Dask adds
  to each task (scheduling, pickling, result transfer) on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from resonance_engine.dist.executor import DaskExecutor, Executor, LocalExecutor
from resonance_engine.dist.params import SweepParameter
from resonance_engine.dist.sweep import RunOptions, plan_sweep, run_sweep

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=16, help="runs per sweep (default 16)")
    p.add_argument("--size", type=int, default=256, help="grid cells per side (default 256)")
    p.add_argument("--steps", type=int, default=1000, help="steps per run (default 1000)")
    p.add_argument("--frames", type=int, default=10, help="metric frames per run (default 10)")
    p.add_argument("--repeats", type=int, default=3, help="timed sweeps per setting (median)")
    p.add_argument(
        "--workers", default="1,2", help="comma-separated Dask worker counts (default 1,2)"
    )


def _timed(executor: Executor, plan: Any, options: RunOptions, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        report = run_sweep(plan, executor, None, options=options)
        samples.append(time.perf_counter() - start)
        if report.failures:
            raise RuntimeError(f"benchmark run failed: {report.failures[0]}")
    return statistics.median(samples)


def run(args: argparse.Namespace) -> dict[str, Any]:
    options = RunOptions(frames=args.frames, threads=1)
    damping = tuple(round(0.02 + 0.01 * i, 4) for i in range(args.runs))
    plan = plan_sweep(
        None, [SweepParameter("damping", damping)], size=args.size, steps=args.steps,
        options=options,
    )
    results: dict[str, Any] = {
        "runs": args.runs,
        "grid": f"{args.size}x{args.size}",
        "steps": args.steps,
        "cpus": os.cpu_count(),
    }
    serial = LocalExecutor(0)
    run_sweep((plan[0], plan[1][:1]), serial, None, options=options)  # load numba
    serial_s = _timed(serial, plan, options, args.repeats)
    results["serial s"] = serial_s
    results["serial s/run"] = serial_s / args.runs
    timings: dict[int, float] = {}
    for n in (int(w) for w in args.workers.split(",")):
        start = time.perf_counter()
        with DaskExecutor(n_workers=n, threads_per_worker=1) as executor:
            results[f"dask {n}w start s"] = time.perf_counter() - start
            warm = (plan[0], plan[1][:n])
            run_sweep(warm, executor, None, options=options)
            timings[n] = _timed(executor, plan, options, args.repeats)
        results[f"dask {n}w s"] = timings[n]
        results[f"dask {n}w runs/s"] = args.runs / timings[n]
    if 1 in timings:
        results["per-task overhead ms (dask 1w - serial)"] = (
            (timings[1] - serial_s) / args.runs * 1e3
        )
        for n, seconds in timings.items():
            if n != 1:
                results[f"speedup {n} vs 1 workers"] = timings[1] / seconds
    return results
