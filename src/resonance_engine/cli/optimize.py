"""``resonance optimize``: tune parameters with CMA-ES (BIPOP restarts) on an executor.

Every evaluation is stored in the database (``--db``), so ``--resume ID`` continues an
interrupted optimisation with the same history an uninterrupted one would have had, and
``--list`` shows the stored ones. Writes ``convergence.png`` into ``--out``. Exit code 0
when finished, 130 after Ctrl-C (what was evaluated is kept), 2 for bad input.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from resonance_engine.cli.args import (
    COUNT,
    COUNT0,
    FINITE,
    POSITIVE,
    ParsedArg,
    input_file,
    integer,
    nonempty,
)
from resonance_engine.cli.common import (
    add_common_options,
    output_dir,
    print_summary,
    progress_bar,
    show_progress,
)
from resonance_engine.cli.db import add_db_options, open_db
from resonance_engine.cli.sweep import add_executor_options
from resonance_engine.errors import ConfigError

__all__ = ["register", "cmd_optimize", "parse_opt_param"]


def parse_opt_param(text: str) -> tuple[str, float, float | None, float | None]:
    """``NAME=X0`` or ``NAME=X0:LOW:HIGH`` -> (name, x0, low, high)."""
    name, sep, rest = text.partition("=")
    parts = rest.split(":")
    try:
        if not (sep and name and len(parts) in (1, 3)):
            raise ValueError
        values = [float(p) for p in parts]
    except ValueError:
        raise ConfigError(
            f"--param {text!r}: write NAME=X0 or NAME=X0:LOW:HIGH, e.g. coupling=0.3:0:2"
        ) from None
    if not all(math.isfinite(v) for v in values):
        raise ConfigError(f"--param {text!r}: values must be finite numbers")
    if len(values) == 1:
        return name, values[0], None, None
    x0, lo, hi = values
    if not lo <= x0 <= hi or lo >= hi:
        raise ConfigError(f"--param {text!r}: need LOW <= X0 <= HIGH and LOW < HIGH")
    return name, x0, lo, hi


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "optimize", help="tune parameters with CMA-ES (BIPOP restarts), evaluations stored",
        description="Minimise an objective with CMA-ES on a process pool or Dask; every "
        "evaluation is stored in AgentDB.",
    )
    p.add_argument("objective", nargs="?", type=nonempty, metavar="OBJECTIVE",
                   help="cs, target, separation or module:function")
    p.add_argument("--param", type=ParsedArg(parse_opt_param), action="append",
                   default=[], metavar="NAME=X0[:LOW:HIGH]",
                   help="a tuned parameter, its start and optional bounds (repeat)")
    p.add_argument("--sigma0", type=POSITIVE, default=0.25,
                   help="initial step: a fraction of each bounded range, else absolute "
                   "(default 0.25)")
    p.add_argument("--budget", type=COUNT, default=200, help="maximum evaluations (default 200)")
    p.add_argument("--popsize", type=integer(low=2),
                   help="population of the first run (default pycma's)")
    p.add_argument("--restarts", type=COUNT0, default=9, help="maximum restarts (default 9)")
    p.add_argument("--no-bipop", action="store_true", help="IPOP restarts instead of BIPOP")
    p.add_argument("--replicates", type=COUNT,
                   help="seeds per candidate (default 1 for named objectives, none for "
                   "module:function)")
    p.add_argument("--ftarget", type=FINITE, help="stop at a value <= this")
    p.add_argument("--target-d", type=FINITE, help="target objective: mean D to match")
    p.add_argument("--target-ci", type=FINITE, help="target objective: mean CI to match")
    p.add_argument("--scenarios", type=input_file, metavar="FILE.toml",
                   help="separation objective: [[a]] and [[b]] scenario tables")
    p.add_argument("--agents", type=COUNT, default=4, help="cs objective: agents (default 4)")
    p.add_argument("--ticks", type=COUNT, default=96, help="cs objective: ticks (default 96)")
    p.add_argument("--size", type=COUNT, default=32,
                   help="cs objective: cells per side (default 32)")
    p.add_argument("--resume", type=COUNT, metavar="ID", help="continue stored optimisation ID")
    p.add_argument("--list", action="store_true", help="list the stored optimisations")
    add_executor_options(p)
    add_db_options(p)
    add_common_options(p)
    p.set_defaults(func=cmd_optimize)


def _list(args: argparse.Namespace) -> int:
    from resonance_engine.store import AgentDB

    with AgentDB(args.db, readonly=True) as db:
        rows = [{"id": o.optimization_id, "name": o.name, "status": o.status,
                 "objective": o.config.get("objective"), "best": o.best_value,
                 "evaluations": len(db.evaluations(o.optimization_id))}
                for o in db.optimizations()]
    if args.json:
        print_summary(args, "optimisations", {"optimizations": rows})
    else:
        for row in rows:
            print("  ".join(f"{k}={v}" for k, v in row.items()))
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    from resonance_engine.dist.executor import resolve_executor
    from resonance_engine.optimize import Progress, optimize
    from resonance_engine.optimize.objectives import OBJECTIVES, make_objective
    from resonance_engine.optimize.plots import save_convergence

    if args.list:
        return _list(args)
    if not args.objective:
        raise ConfigError("name an objective (cs, target, separation or module:function)")
    if not args.param:
        raise ConfigError("give at least one --param NAME=X0[:LOW:HIGH]")
    params = list(args.param)
    names = [p[0] for p in params]
    if len(set(names)) != len(names):
        raise ConfigError(f"a --param is given twice: {names}")
    bounded = [p[2] is not None for p in params]
    if any(bounded) and not all(bounded):
        raise ConfigError("give bounds for every --param or for none")
    bounds = ([p[2] for p in params], [p[3] for p in params]) if all(bounded) else None
    stds = [p[3] - p[2] for p in params] if bounds else None

    options: dict[str, Any] = {}
    if args.objective == "cs":
        options = {"agents": args.agents, "ticks": args.ticks, "size": args.size}
    elif args.objective == "target":
        options = {"fractal_dim": args.target_d, "ci": args.target_ci}
    elif args.objective == "separation":
        options = {"scenarios": args.scenarios}
    objective = make_objective(args.objective, names, options)
    seed = args.seed if args.seed is not None else 0
    replicates = args.replicates
    if replicates is None:
        replicates = 1 if args.objective in OBJECTIVES else 0
    if replicates < 0:
        raise ConfigError(f"--replicates must be >= 0, got {replicates}")
    seeds = tuple(1000 * seed + i for i in range(replicates))
    out = output_dir(args.out, files=("convergence.png",))
    db = open_db(args)
    executor = resolve_executor(args.executor, args.workers)
    try:
        with progress_bar(show_progress(args), log_lines=not args.quiet) as bar:
            task = bar.add_task("optimize", total=args.budget, status="")

            def progress(p: Progress) -> None:
                bar.update(task, completed=min(p.evaluations, p.budget),
                           status=f"best {p.best_f:.5g} (restart {p.restart})")

            result = optimize(
                objective, [p[1] for p in params], args.sigma0, bounds=bounds,
                budget=args.budget, popsize=args.popsize, bipop=not args.no_bipop,
                restarts=args.restarts, executor=executor, seed=seed, db=db, names=names,
                seeds=seeds, stds=stds, ftarget=args.ftarget, resume=args.resume,
                progress=progress, config={"objective": args.objective, "options": options},
            )
    finally:
        executor.close()
        if db is not None:
            db.close()
    summary = {**result.summary(), "executor": args.executor, "replicate_seeds": list(seeds)}
    if result.history:
        summary["picture"] = str(save_convergence(result, out / "convergence.png"))
    print_summary(args, f"optimize {args.objective}", summary)
    return 130 if result.status == "interrupted" else 0
