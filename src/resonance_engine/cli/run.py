"""``resonance run``: simulate, measure, store and summarize one run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from resonance_engine.backends import BACKEND_NAMES
from resonance_engine.cli.args import COUNT, COUNT0, input_file
from resonance_engine.cli.common import (
    add_common_options,
    output_dir,
    print_summary,
    progress_bar,
    run_config_from_args,
    show_progress,
    warn_without_sources,
)
from resonance_engine.cli.db import add_db_options, open_db
from resonance_engine.cli.progress import ProgressTracker
from resonance_engine.loop import Run, RunLoop, Tracker
from resonance_engine.metrics import (
    ComplexityAnalyzer,
    ComplexityMetrics,
    MeasureTracker,
    summarize_series,
)
from resonance_engine.metrics.plots import save_metrics_png
from resonance_engine.store import RecordTracker, RunRecorder
from resonance_engine.viz import save_field_png

__all__ = ["register", "cmd_run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a wave-field simulation (default: 512x512 pond, three sources, 2000 steps)",
        description="Run a simulation, measure D, G, C, tau and CI, store the run and write "
        "a summary and pictures.",
    )
    p.add_argument("--config", type=input_file, metavar="FILE.toml",
                   help="run configuration (see README)")
    p.add_argument("--size", type=COUNT,
                   help="grid cells per side of the default pond (default 512)")
    p.add_argument("--steps", type=COUNT0, help="number of time steps (default 2000)")
    p.add_argument(
        "--metrics-every", type=COUNT, metavar="N",
        help="steps between measured frames (default 10)",
    )
    p.add_argument("--backend", choices=BACKEND_NAMES, help="compute backend (default auto)")
    add_db_options(p)
    add_common_options(p)
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    """Run with a progress bar; Ctrl-C or SIGTERM stops, stores and writes what there is."""
    config = run_config_from_args(args, default_size=512)
    solver = config.simulation.build()
    out = output_dir(args.out, files=("field.png", "metrics.png"))
    warn_without_sources(args, config)
    db = open_db(args)
    try:
        recorder = None
        if db is not None:
            recorder = RunRecorder.start(
                db, config.model_dump(mode="json"), config.seed, name="run"
            )
        measure = MeasureTracker(ComplexityAnalyzer(config.metrics), config.metrics_every)
        with progress_bar(show_progress(args), log_lines=not args.quiet) as bar:
            trackers: list[Any] = [
                measure,
                ProgressTracker(bar, "simulating", status=_status),
                _RunSummary(measure, config.seed, None if db is None else str(args.db), out),
            ]
            if recorder is not None:
                trackers.append(RecordTracker(recorder, field=lambda s: s.u))
            run = RunLoop(solver, trackers, steps=config.steps).run()
    finally:
        if db is not None:
            db.close()
    print_summary(args, "resonance run", run.info["summary"])
    return 130 if run.status == "interrupted" else 0


def _status(run: Run, solver: Any) -> str:
    frame = run.frame
    return f"{run.steps_per_s:,.0f} steps/s  CI {frame.ci:.4g}  D {frame.fractal_dim:.3f}"


class _RunSummary(Tracker):
    """Builds the summary and the pictures of ``resonance run`` when the run ends."""

    def __init__(self, measure: MeasureTracker, seed: int, db: str | None, out: Path) -> None:
        super().__init__()
        self.measure = measure
        self.seed = seed
        self.db = db
        self.out = out

    def finish(self, run: Run, status: str) -> None:
        if status == "failed":
            return
        solver, history = run.state, self.measure.history
        final: ComplexityMetrics = history[-1]
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
            "steps_per_s": run.steps_per_s,
            **summarize_series(history),
            "fractal_r2_final": final.fractal_r2,
            "seed": self.seed,
            "run_id": run.info.get("run_id"),
            "db": self.db,
            "interrupted": status == "interrupted",
        }
        title = f"t = {solver.t:.3f} s (step {solver.step_count})"
        summary["picture"] = str(save_field_png(solver.u, self.out / "field.png", f"u at {title}"))
        summary["metrics_picture"] = str(
            save_metrics_png(solver.u, history, self.out / "metrics.png", f"run at {title}")
        )
        run.info["summary"] = summary
