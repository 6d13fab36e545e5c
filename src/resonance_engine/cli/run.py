"""``resonance run``: simulate, measure, store and summarize one run."""

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
from resonance_engine.cli.db import add_db_options, open_db
from resonance_engine.config import RunConfig, default_pond, load_run_config
from resonance_engine.metrics import ComplexityAnalyzer, ComplexityMetrics, summarize_series
from resonance_engine.metrics.plots import save_metrics_png
from resonance_engine.store import RunRecorder
from resonance_engine.viz import save_field_png

__all__ = ["register", "cmd_run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a wave-field simulation (default: 512x512 pond, three sources, 2000 steps)",
        description="Run a simulation, measure D, G, C, tau and CI, store the run and write "
        "a summary and pictures.",
    )
    p.add_argument("--config", metavar="FILE.toml", help="run configuration (see README)")
    p.add_argument("--size", type=int, help="grid cells per side of the default pond (default 512)")
    p.add_argument("--steps", type=int, help="number of time steps (default 2000)")
    p.add_argument(
        "--metrics-every", type=int, metavar="N", help="steps between measured frames (default 10)"
    )
    p.add_argument("--backend", choices=BACKEND_NAMES, help="compute backend (default auto)")
    add_db_options(p)
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
    if args.metrics_every is not None:
        config.metrics_every = args.metrics_every
    if args.backend is not None:
        config.simulation.backend = args.backend
        # no metric shaders yet: with wgpu the measures run on the CPU from a read-back
        config.metrics.backend = "auto" if args.backend == "wgpu" else args.backend
    return RunConfig.model_validate(config.model_dump())


def cmd_run(args: argparse.Namespace) -> int:
    """Run with a progress bar; Ctrl-C or SIGTERM stops, stores and writes what there is."""
    config = _config_from_args(args)
    solver = config.simulation.build()
    analyzer = ComplexityAnalyzer(config.metrics)
    out = output_dir(args.out)
    db = open_db(args)
    recorder = None
    if db is not None:
        recorder = RunRecorder.start(db, config.model_dump(mode="json"), config.seed, name="run")
    every = config.metrics_every
    history: list[ComplexityMetrics] = []
    interrupted = False
    start = time.perf_counter()
    try:
        with progress_bar(show_progress(args), log_lines=not args.quiet) as bar:
            task = bar.add_task("simulating", total=config.steps, status="")
            while solver.step_count < config.steps:
                solver.step(
                    min(every - solver.step_count % every, config.steps - solver.step_count)
                )
                if solver.step_count % every and solver.step_count < config.steps:
                    continue
                frame = analyzer.observe(solver, keep_fields=solver.step_count >= config.steps)
                assert isinstance(frame, ComplexityMetrics)
                history.append(frame)
                if recorder is not None:
                    recorder.record(frame, field=solver.u)
                rate = solver.step_count / (time.perf_counter() - start)
                status = f"{rate:,.0f} steps/s  CI {frame.ci:.4g}  D {frame.fractal_dim:.3f}"
                bar.update(task, completed=solver.step_count, status=status)
    except KeyboardInterrupt:
        interrupted = True
    elapsed = time.perf_counter() - start
    try:
        if not history or history[-1].ci_field is None:  # interrupted: measure where it stopped
            final = analyzer.observe(solver, keep_fields=True)
            assert isinstance(final, ComplexityMetrics)
            if history and history[-1].step == final.step:
                history[-1] = final  # the same frame again, now with its fields
            else:
                history.append(final)
                if recorder is not None:
                    recorder.record(final, field=solver.u)
        final = history[-1]
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
            **summarize_series(history),
            "fractal_r2_final": final.fractal_r2,
            "seed": config.seed,
            "run_id": None if recorder is None else recorder.run_id,
            "db": None if db is None else str(args.db),
            "interrupted": interrupted,
        }
        title = f"t = {solver.t:.3f} s (step {solver.step_count})"
        summary["picture"] = str(save_field_png(solver.u, out / "field.png", f"u at {title}"))
        summary["metrics_picture"] = str(
            save_metrics_png(solver.u, history, out / "metrics.png", f"run at {title}")
        )
    finally:
        if recorder is not None:
            recorder.close(
                "interrupted" if interrupted else "finished",
                summary if "summary" in locals() else None,
            )
        if db is not None:
            db.close()
    print_summary(args, "resonance run", summary)
    return 130 if interrupted else 0
