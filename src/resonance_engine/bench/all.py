"""``resonance bench all``: every benchmark at a size that finishes in a few minutes.

With ``--json`` it prints one JSON document::

    {"machine": {...platform, cpus, load average before/after, versions...},
     "benchmarks": {"solver": {...every figure and ratio...}, "store": {...}, ...}}

so that figures can be compared across versions and machines (keep the documents; compare
ratios, which are measured in the same run, rather than raw times across machines). The
arguments each benchmark gets are in :data:`QUICK_ARGS`; a benchmark without an entry
runs with its defaults. A benchmark that fails is recorded with its error and the others
still run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from importlib import metadata
from typing import Any

__all__ = ["add_arguments", "run", "machine", "QUICK_ARGS"]

#: The arguments of each benchmark in ``bench all`` (sizes that finish in a few minutes).
QUICK_ARGS: dict[str, list[str]] = {
    "solver": ["--sizes", "256,1024", "--backends", "numpy,numba", "--repeats", "3"],
    "store": [
        "--records", "200000", "--repeats", "2", "--sizes", "10000,100000", "--queries", "20",
    ],
    "swarm": [
        "--nats-signatures", "50000", "--swarm-ticks", "10", "--latency-messages", "500",
        "--repeats", "3",
    ],
    "metrics": ["--sizes", "256,1024", "--repeats", "3"],
    "serve": ["--size", "256", "--seconds", "1.5", "--rounds", "3"],
    "sweep": ["--runs", "4", "--steps", "300", "--repeats", "1"],
    "browser": ["--sizes", "128,256", "--repeats", "3"],
    "oscillators": ["--repeats", "3"],
    "rl": ["--agents", "8,32", "--sizes", "64", "--ticks", "10", "--repeats", "3"],
}

_VERSIONS = ("resonance-engine", "numpy", "numba", "scipy", "apsw", "sqlite-vec", "wgpu")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from resonance_engine.cli.args import name_list
    from resonance_engine.cli.bench import BENCHMARKS

    choices = [n for n in BENCHMARKS if n != "all"]
    p.add_argument("--only", type=name_list(choices), default=None,
                   help="comma-separated benchmarks to run (default all)")
    p.add_argument("--skip", type=name_list(choices, empty=True), default="",
                   help="comma-separated benchmarks to leave out")


def machine() -> dict[str, Any]:
    """What the figures were measured on: platform, CPUs, load, package versions."""
    import numba

    versions: dict[str, str | None] = {}
    for name in _VERSIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "numba threads": numba.get_num_threads(),
        "load average before (1, 5, 15 min)": list(os.getloadavg()),
        "versions": versions,
    }


def _parse(name: str, module: Any) -> argparse.Namespace:
    from resonance_engine.cli.common import add_common_options

    parser = argparse.ArgumentParser(prog=f"resonance bench {name}")
    module.add_arguments(parser)
    add_common_options(parser)
    return parser.parse_args([*QUICK_ARGS.get(name, []), "--quiet"])


def run(args: argparse.Namespace) -> dict[str, Any]:
    from resonance_engine.cli.bench import BENCHMARKS

    names = [n for n in BENCHMARKS if n != "all"]
    if args.only:
        names = list(args.only)
    skip = set(args.skip)
    document: dict[str, Any] = {"machine": machine(), "benchmarks": {}}
    for name in names:
        if name in skip:
            continue
        module = importlib.import_module(f"resonance_engine.bench.{name}")
        print(f"bench all: {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            figures = module.run(_parse(name, module))
        except Exception as exc:  # noqa: BLE001 - one failing benchmark is reported, the rest run
            figures = {"error": f"{type(exc).__name__}: {exc}"}
        figures["seconds"] = time.perf_counter() - start
        document["benchmarks"][name] = figures
    document["machine"]["load average after (1, 5, 15 min)"] = list(os.getloadavg())
    if args.json:
        return document
    flat = {f"machine {k}": v for k, v in document["machine"].items()}
    for name, figures in document["benchmarks"].items():
        flat.update({f"{name}: {k}": v for k, v in figures.items()})
    return flat
