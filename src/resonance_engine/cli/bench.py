"""``resonance bench NAME``: the benchmarks, each printing throughput and ratios.

Each benchmark is a module ``resonance_engine.bench.NAME`` with ``add_arguments(parser)``
and ``run(args) -> dict`` (the results, also printed as a table or JSON).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

from resonance_engine.cli.common import add_common_options, print_summary

__all__ = ["register", "BENCHMARKS"]

#: Benchmark name -> one-line help.
BENCHMARKS: dict[str, str] = {
    "solver": "leapfrog step throughput per backend and size, vs numpy and a triad",
    "store": "AgentDB write rate (raw vs MetricWriter) and hybrid query latency",
    "swarm": "signature codec, coordinator per tick, NATS throughput, swarm ticks/s",
    "metrics": "ms per frame of D, G, C, tau and the whole analyzer, vs scipy/numpy",
    "serve": "dashboard overhead: steps/s watched by one browser vs unserved; frames/s",
    "sweep": "16 runs at 256x256 on 1 vs 2 Dask workers: speedup and per-task overhead",
    "oscillators": "Kuramoto oscillator-steps/s (mean field, small world) vs numpy; Tort MI time",
    "browser": "browser engine steps/s (WebGPU in chromium, JS fallback, Node) vs numba",
    "control": "Kalman, batched MPC and LMPC per tick for a swarm; optimiser overhead vs pycma",
    "rl": "RL env steps/s (swarm of 8-128 agents, one field) vs the bare solver; time shares",
    "all": "every benchmark at a quick size; with --json one document (machine, all figures)",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run a benchmark (prints medians and ratios)")
    names = p.add_subparsers(dest="benchmark", metavar="NAME", parser_class=type(p))
    names.required = True
    for name, help_text in BENCHMARKS.items():
        bp = names.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(f"resonance_engine.bench.{name}")
        module.add_arguments(bp)
        add_common_options(bp)
        bp.set_defaults(func=_runner(name))


def _runner(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        module = importlib.import_module(f"resonance_engine.bench.{name}")
        summary = module.run(args)
        print_summary(args, f"resonance bench {name}", summary)
        return 0

    return run
