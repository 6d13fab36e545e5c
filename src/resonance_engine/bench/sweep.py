"""Sweep scale-out: the same sweep on 1 and 2 Dask workers (and in-process for reference).

The sweep is ``--runs`` runs of the default pond at ``--size`` (distinct damping values),
one numba thread per run. Both Dask clusters are started and warmed up (every worker runs
one task, so numba's cache is loaded) before the timed rounds, which interleave the
settings (serial, 1 worker, 2 workers, serial, ...) so that load from other processes on
a shared machine hits them alike; the median of ``--repeats`` rounds is reported. Printed:

- wall time in this process, serially (``serial``) and on 1 and 2 Dask workers;
- ``speedup 2 vs 1 workers``: the 1-worker time over the 2-worker time;
- ``per-task overhead``: (1-worker Dask time - serial time) / runs, i.e. what Dask adds
  to each task (scheduling, pickling, result transfer) on this machine, and the round
  trip of a no-op task on the 1-worker cluster;
- ``run cpu/wall``: CPU time over wall time of the runs (median over rounds). Well below
  1 means the runs waited for a core: the machine was busy with other work, and the
  timings (above all the 2-worker speedup) say more about that load than about Dask.
"""

from __future__ import annotations

import argparse
import operator
import os
import statistics
import time
from typing import Any

from resonance_engine.cli.args import COUNT, integer, integers
from resonance_engine.dist.executor import DaskExecutor, Executor, LocalExecutor
from resonance_engine.dist.params import SweepParameter
from resonance_engine.dist.sweep import RunOptions, plan_sweep, run_sweep

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=COUNT, default=16, help="runs per sweep (default 16)")
    p.add_argument("--size", type=integer(low=16), default=256,
                   help="grid cells per side (default 256)")
    p.add_argument("--steps", type=COUNT, default=1000, help="steps per run (default 1000)")
    p.add_argument("--frames", type=COUNT, default=10, help="metric frames per run (default 10)")
    p.add_argument("--repeats", type=COUNT, default=3, help="timed sweeps per setting (median)")
    p.add_argument(
        "--workers", type=integers(low=1), default="1,2",
            help="comma-separated Dask worker counts (default 1,2)"
    )


def _time_sweep(executor: Executor, plan: Any, options: RunOptions) -> tuple[float, float]:
    """Wall time of the sweep (s) and the share of its runs' wall time spent on a CPU."""
    start = time.perf_counter()
    report = run_sweep(plan, executor, None, options=options)
    seconds = time.perf_counter() - start
    if report.failures:
        raise RuntimeError(f"benchmark run failed: {report.failures[0]}")
    runs = report.results.values()
    return seconds, sum(r.cpu_s for r in runs) / sum(r.wall_s for r in runs)


def _noop_overhead_ms(executor: Executor, n: int = 200) -> float:
    """Round trip of a trivial task through the executor (ms per task, median of 3)."""
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        executor.starmap(operator.add, [(i, 1) for i in range(n)])
        samples.append((time.perf_counter() - start) / n * 1e3)
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
    executors: dict[str, Executor] = {"serial": LocalExecutor(0)}
    try:
        for n in args.workers:
            start = time.perf_counter()
            executors[f"dask {n}w"] = DaskExecutor(n_workers=n, threads_per_worker=1)
            results[f"dask {n}w start s"] = time.perf_counter() - start
        # warm up: every worker loads numba's cache once
        for executor in executors.values():
            run_sweep((plan[0], plan[1][: executor.workers]), executor, None, options=options)
        # interleave the settings so that load from other processes hits them alike
        samples: dict[str, list[float]] = {name: [] for name in executors}
        cpu_share: dict[str, list[float]] = {name: [] for name in executors}
        for _ in range(args.repeats):
            for name, executor in executors.items():
                seconds, share = _time_sweep(executor, plan, options)
                samples[name].append(seconds)
                cpu_share[name].append(share)
        if "dask 1w" in executors:
            results["dask 1w no-op task round trip ms"] = _noop_overhead_ms(
                executors["dask 1w"]
            )
    finally:
        for executor in executors.values():
            executor.close()
    timings = {name: statistics.median(values) for name, values in samples.items()}
    for name, seconds in timings.items():
        results[f"{name} s"] = seconds
        results[f"{name} runs/s"] = args.runs / seconds
        results[f"{name} run cpu/wall"] = statistics.median(cpu_share[name])
    if "dask 1w" in timings:
        results["per-task overhead ms (dask 1w - serial)"] = (
            (timings["dask 1w"] - timings["serial"]) / args.runs * 1e3
        )
        for name, seconds in timings.items():
            if name.startswith("dask") and name != "dask 1w":
                results[f"speedup {name} vs dask 1w"] = timings["dask 1w"] / seconds
    return results
