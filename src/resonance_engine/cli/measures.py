"""``resonance experiment measures``: what each complexity measure responds to."""

from __future__ import annotations

import argparse
from typing import Any

from resonance_engine.cli.args import integer
from resonance_engine.cli.common import (
    add_common_options,
    output_dir,
    print_summary,
    progress_bar,
    show_progress,
)

__all__ = ["register_experiment", "cmd_experiment_measures"]


def register_experiment(names: Any) -> None:
    """Add ``measures`` to the subparsers of ``resonance experiment``."""
    m = names.add_parser(
        "measures",
        help="each measure on reference fields and sweeps: what does D/C/G/tau follow? "
        "-> report.md",
        description=(
            "Run D, C, G, tau (calibrated defaults and the blueprint's forms) and S(q) on "
            "plane waves, interference, noise, a power-law field, a carpet, a pulse and the "
            "default pond; sweep threshold, box range, measuring interval, amplitude, grid "
            "and boundary; write report.md with pictures and say whether 'D between 1.5 and "
            "1.8 indicates rich structure' holds for these fields."
        ),
    )
    m.add_argument("--size", type=integer(low=64), default=256,
                   help="cells per side (default 256; at least 64)")
    m.add_argument("--seeds", type=integer(low=2), default=3,
                   help="realisations of each reference field (default 3; at least 2, for "
                   "the spread)")
    add_common_options(m, out_default="resonance-out/measures")
    m.set_defaults(func=cmd_experiment_measures)


def cmd_experiment_measures(args: argparse.Namespace) -> int:
    """Run the measures experiment and write report.md."""
    from resonance_engine.metrics.experiment import (
        MeasuresExperimentConfig,
        run_measures_experiment,
    )

    cfg = MeasuresExperimentConfig(size=args.size, seeds=args.seeds, seed=args.seed or 0)
    out = output_dir(args.out)
    with progress_bar(show_progress(args)) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total, status="")
            bar.update(tasks[stage], completed=done)

        results = run_measures_experiment(cfg, out, progress=progress)
    v = results["verdicts"]
    summary = {
        "report": results["report"],
        "claim_D_1.5_1.8_rich_structure_holds": v["claim_D_1.5_1.8_rich_structure_holds"],
        "fields_with_D_in_1.5_1.8": ", ".join(v["fields_in_range"]["default"]) or "none",
        "rich_fields_D": v["rich_fields_D"],
        "simple_fields_D": v["simple_fields_D"],
        "tau_spread_over_intervals_default": v["tau_spread_resolved_default"],
        "tau_spread_over_intervals_blueprint": v["tau_spread_resolved_blueprint"],
        "C_spread_over_amplitude_default": v["C_amplitude_spread_default"],
        "C_spread_over_amplitude_blueprint": v["C_amplitude_spread_blueprint"],
        "seconds": results["seconds"],
    }
    print_summary(args, "resonance experiment measures", summary)
    return 0
