"""``resonance run``: simulate the default scenario (or a TOML config) and summarize it."""

from __future__ import annotations

import argparse
import time
from typing import Any

from resonance_engine.backends import BACKEND_NAMES
from resonance_engine.cli.common import (
    add_common_options,
    output_dir,
    print_summary,
    progress_bar,
    show_progress,
)
from resonance_engine.config import RunConfig, default_pond, load_run_config
from resonance_engine.viz import save_field_png

__all__ = ["register", "cmd_run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a wave-field simulation (default: 512x512 pond, three sources, 2000 steps)",
        description="Run a simulation and write a summary and a picture of the final field.",
    )
    p.add_argument("--config", metavar="FILE.toml", help="run configuration (see README)")
    p.add_argument("--size", type=int, help="grid cells per side of the default pond (default 512)")
    p.add_argument("--steps", type=int, help="number of time steps (default 2000)")
    p.add_argument("--backend", choices=BACKEND_NAMES, help="compute backend (default auto)")
    add_common_options(p)
    p.set_defaults(func=cmd_run)


def _config_from_args(args: argparse.Namespace) -> RunConfig:
    seed = args.seed if args.seed is not None else 0
    if args.config:
        config = load_run_config(args.config)
        if args.seed is not None:
            config.seed = args.seed
        if args.size is not None:
            config.simulation.nx = config.simulation.ny = args.size
    else:
        config = RunConfig(simulation=default_pond(args.size or 512, seed=seed), seed=seed)
    if args.steps is not None:
        config.steps = args.steps
    if args.backend is not None:
        config.simulation.backend = args.backend
    return RunConfig.model_validate(config.model_dump())


def cmd_run(args: argparse.Namespace) -> int:
    """Run the simulation with a progress bar; Ctrl-C stops and still writes the results."""
    config = _config_from_args(args)
    solver = config.simulation.build()
    out = output_dir(args.out)
    chunk = max(1, min(50, config.steps // 100 or 1))
    interrupted = False
    start = time.perf_counter()
    with progress_bar(show_progress(args), log_lines=not args.quiet) as bar:
        task = bar.add_task("simulating", total=config.steps, status="")
        try:
            while solver.step_count < config.steps:
                solver.step(min(chunk, config.steps - solver.step_count))
                rate = solver.step_count / (time.perf_counter() - start)
                bar.update(task, completed=solver.step_count, status=f"{rate:,.0f} steps/s")
        except KeyboardInterrupt:
            interrupted = True
    elapsed = time.perf_counter() - start
    picture = save_field_png(
        solver.u, out / "field.png", f"u at t = {solver.t:.3f} s (step {solver.step_count})"
    )
    summary: dict[str, Any] = {
        "grid": f"{solver.nx}x{solver.ny}",
        "dx": solver.dx,
        "dt": solver.dt,
        "courant_number": solver.courant_number,
        "boundary": solver.boundary,
        "backend": solver.backend,
        "steps": solver.step_count,
        "t": solver.t,
        "energy": solver.energy(),
        "steps_per_s": solver.step_count / elapsed if elapsed > 0 else 0.0,
        "seed": config.seed,
        "picture": str(picture),
        "interrupted": interrupted,
    }
    print_summary(args, "resonance run", summary)
    return 130 if interrupted else 0
