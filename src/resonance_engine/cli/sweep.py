"""``resonance sweep``: run the cartesian product of parameters on a process pool or Dask.

Results stream back to this process as runs finish; it is the only writer of the
database. Prints a table and writes ``sweep.png`` (heatmaps of final CI and D over the
grid, or energy and max|u| without the metrics) and ``sweep.csv`` into ``--out``.
Exit code 0 when every run finished, 1 when some failed (each is listed with its
parameters), 130 after Ctrl-C (finished runs are kept), 2 for bad input.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from resonance_engine.cli.args import COUNT, COUNT0, ParsedArg, input_file
from resonance_engine.cli.common import (
    add_common_options,
    output_dir,
    print_summary,
    progress_bar,
    show_progress,
)
from resonance_engine.cli.db import add_db_options, open_db
from resonance_engine.config import load_run_config
from resonance_engine.dist.executor import EXECUTOR_CHOICES, resolve_executor
from resonance_engine.dist.params import parse_param
from resonance_engine.dist.report import headline_quantities, save_sweep_heatmap, sweep_rows
from resonance_engine.dist.results import AgentDBResults, MemoryResults
from resonance_engine.dist.sweep import (
    RunOptions,
    RunResult,
    RunSpec,
    SweepFailure,
    SweepReport,
    plan_sweep,
    run_sweep,
)
from resonance_engine.json_safe import json_safe

__all__ = ["register", "cmd_sweep", "add_executor_options", "executor_spec"]


def executor_spec(text: str) -> str:
    """An argparse type: a name of :data:`EXECUTOR_CHOICES` or a scheduler address
    (``tcp://host:port``), checked before any work starts."""
    scheme, sep, address = text.partition("://")
    if text in EXECUTOR_CHOICES or (sep and scheme.isidentifier() and address.strip()):
        return text
    raise argparse.ArgumentTypeError(
        f"unknown executor {text!r}; use one of {', '.join(EXECUTOR_CHOICES)} or a Dask "
        "scheduler address like tcp://host:8786"
    )


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """``--executor`` and ``--workers``: where parallel runs execute (see resolve_executor)."""
    parser.add_argument(
        "--executor",
        type=executor_spec,
        default="local",
        metavar="local|serial|dask|tcp://HOST:PORT",
        help="where runs execute: local process pool (default), serial (this process), "
        "dask (a LocalCluster on 127.0.0.1) or a Dask scheduler address",
    )
    parser.add_argument(
        "--workers", type=COUNT, help="worker processes for local and dask (default: CPU count)"
    )

def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a parameter sweep (cartesian product) locally or on a Dask cluster",
        description=(
            "Run every combination of the --param values, in parallel, and store each run. "
            "Example: resonance sweep pond.toml --param damping=0.02:0.2:10 "
            "--param frequency=2,4,8 --executor dask"
        ),
    )
    p.add_argument(
        "config",
        nargs="?",
        metavar="CONFIG.toml",
        type=input_file,
        help="run configuration (default: the default pond at --size)",
    )
    p.add_argument(
        "--param",
        type=ParsedArg(parse_param),
        action="append",
        required=True,
        metavar="NAME=VALUES",
        help="a swept parameter: NAME=start:stop:num (linspace), NAME=a,b,c or NAME=value; "
        "repeat for a grid (names: steps, seed, size, damping, wave_speed, frequency, "
        "amplitude, ..., or a dotted path like simulation.sources.0.frequency)",
    )
    add_executor_options(p)
    p.add_argument("--size", type=COUNT, help="grid size of the default pond (default 128)")
    p.add_argument("--steps", type=COUNT0, help="steps per run (default: from the config, 2000)")
    p.add_argument(
        "--frames", type=COUNT, default=20, help="metric frames per run (default 20)"
    )
    p.add_argument(
        "--threads", type=COUNT, default=1, help="numba threads per run (default 1)"
    )
    add_db_options(p)
    add_common_options(p, out_default="resonance-out/sweep")
    p.set_defaults(func=cmd_sweep)


def _write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _print_rows(rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    columns = [k for k in rows[0] if k != "key"] if rows else []
    for column in columns:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(
            *(f"{row[c]:.6g}" if isinstance(row[c], float) else str(row[c]) for c in columns)
        )
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Plan, run, store and report a sweep."""
    parameters = list(args.param)
    base = load_run_config(args.config) if args.config else None
    if base is not None and args.size is not None:
        base.simulation.nx = base.simulation.ny = args.size
    options = RunOptions(frames=args.frames, threads=args.threads)
    plan = plan_sweep(
        base,
        parameters,
        size=args.size or 128,
        seed=args.seed,
        steps=args.steps,
        options=options,
    )
    out = output_dir(args.out, files=("sweep.csv", "sweep.png"))
    db = open_db(args)
    results = MemoryResults() if db is None else AgentDBResults(db, owned=True)
    try:
        executor = resolve_executor(args.executor, args.workers)
        dashboard = getattr(executor, "dashboard_link", None)
        if dashboard and not (args.quiet or args.json):
            Console(stderr=True).print(f"Dask dashboard: {dashboard}", markup=False)
        try:
            report = _run(args, plan, executor, results, options)
        finally:
            executor.close()
    finally:
        results.close()
    quantities = headline_quantities(report)
    rows = sweep_rows(report, quantities)
    table = _write_csv(rows, out / "sweep.csv")
    picture = save_sweep_heatmap(report, out / "sweep.png", quantities)
    summary: dict[str, Any] = {
        **report.summary(),
        "grid": " x ".join(f"{p.name}({len(p.values)})" for p in parameters),
        "db": None if args.no_db else str(args.db),
        "table": str(table),
        "picture": str(picture),
    }
    if args.json:
        summary["rows"] = [{k: json_safe(v) for k, v in row.items()} for row in rows]
        summary["failures"] = [
            {"params": f.params, "error": f.failure.error_type, "message": f.failure.message}
            for f in report.failures + report.unstored
        ]
    elif not args.quiet:
        _print_rows(rows, "resonance sweep: runs")
    if not (args.quiet or args.json):
        errors = Console(stderr=True)
        for failure in report.unstored:
            errors.print(f"run not stored: {failure}", markup=False, highlight=False)
    print_summary(args, "resonance sweep", summary)
    if report.interrupted:
        return 130
    return 1 if report.failures or report.unstored else 0


def _run(
    args: argparse.Namespace,
    plan: Any,
    executor: Any,
    results: Any,
    options: RunOptions,
) -> SweepReport:
    quiet = args.quiet or args.json
    errors = Console(stderr=True)
    with progress_bar(show_progress(args), log_lines=not quiet) as bar:
        task = bar.add_task("sweep", total=len(plan[1]), status=executor.describe())

        def on_result(
            spec: RunSpec, result: RunResult | None, failure: SweepFailure | None
        ) -> None:
            bar.update(
                task, advance=1, status=", ".join(f"{k}={v}" for k, v in spec.params.items())
            )
            if failure is not None and not quiet:
                errors.print(f"run failed: {failure}", markup=False, highlight=False)

        return run_sweep(plan, executor, results, options=options, on_result=on_result)
