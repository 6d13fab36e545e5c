"""``resonance swarm`` and ``resonance experiment sync``: run a swarm, test the claim."""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import time
from typing import Any

import numpy as np

from resonance_engine.cli.args import (
    COUNT,
    COUNT0,
    FINITE,
    NONNEGATIVE,
    ParsedArg,
    input_file,
    name_list,
    nonempty,
    number,
)
from resonance_engine.cli.common import (
    add_common_options,
    output_dir,
    print_summary,
    progress_bar,
    show_progress,
)
from resonance_engine.cli.db import add_db_options, open_db
from resonance_engine.cli.progress import ProgressTracker
from resonance_engine.cli.sweep import add_executor_options
from resonance_engine.dist.executor import resolve_executor
from resonance_engine.errors import ConfigError

__all__ = ["register", "cmd_swarm", "cmd_experiment_sync", "load_measure"]


def load_measure(spec: str | None) -> Any:
    """A measure factory from ``"package.module:function"`` (None: the default analyzer)."""
    if spec is None:
        return None
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"--measure must look like 'package.module:factory', got {spec!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load measure factory {spec!r}: {exc}") from None
    if not callable(factory):
        raise ConfigError(f"measure factory {spec!r} is not callable")
    try:
        measure = factory()
    except Exception as exc:  # a function that is no factory (math:sqrt): say so, once
        raise ConfigError(
            f"measure factory {spec!r} failed when called without arguments: "
            f"{type(exc).__name__}: {exc}; it must return a function of the fields"
        ) from None
    if not callable(measure):
        raise ConfigError(
            f"measure factory {spec!r} returned {type(measure).__name__} {measure!r:.60}, not a "
            "function of the fields (see resonance_engine.swarm.measure)"
        )
    return factory


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "swarm",
        help="run a swarm of wave-field agents that coordinate through 64-byte signatures",
        description=(
            "Run N agents (one batched solver) that publish complexity signatures on a bus "
            "and nudge their drive toward the swarm's CI; print CS, MDEA-CS, basin "
            "stability (--basin), alerts and bytes per tick; write swarm.png."
        ),
    )
    p.add_argument("--agents", type=COUNT, default=8,
                   help="agents in the swarm (default 8)")
    p.add_argument("--ticks", type=COUNT, default=300, help="ticks to run (default 300)")
    p.add_argument("--coupling-mode", choices=_coupling_modes(), default="gain",
                   help="coupling mechanism (README: 'Coupling modes'; default gain)")
    p.add_argument("--controller", type=_controller_spec, default=None,
                   metavar="adaptive|mpc|lmpc|rl:DIR/policy.zip",
                   help="a controller sets the drives instead of --coupling-mode (README: "
                   "'Swarm controllers'); --coupling is then its K; rl:DIR/policy.zip runs "
                   "a policy trained by 'resonance train --env swarm'")
    p.add_argument("--coupling", type=FINITE, default=None, metavar="K",
                   help="coupling strength K in the mode's unit (0 = independent agents; "
                   "default: the mode's default, gain 0.05, kuramoto 10 1/s)")
    p.add_argument("--ci-sampling", choices=("average", "tick"), default="average",
                   help="average: CI is the mean over frames that resolve the drives "
                   "(default); tick: one frame per tick (aliased when ticks are slow)")
    p.add_argument("--size", type=COUNT, default=128, help="cells per side of each field")
    p.add_argument("--steps-per-tick", type=COUNT, default=10,
                   help="solver steps per tick (default 10)")
    p.add_argument("--window", type=COUNT, default=64, help="CS window in ticks")
    p.add_argument("--bus", type=nonempty, default="memory",
                   help="'memory' (default) or a NATS URL such as nats://127.0.0.1:4222")
    p.add_argument("--role", choices=("all", "agents", "coordinator"), default="all",
                   help="with a NATS bus: host only some agents (--agent-ids) or only measure")
    p.add_argument("--agent-ids", type=nonempty,
                   help="comma-separated agent ids hosted here (--role agents)")
    p.add_argument("--exchange", choices=("signature", "state"), default="signature",
                   help="'state' also publishes every full field, to measure its traffic")
    p.add_argument("--basin", type=COUNT0, default=0, metavar="N",
                   help="also estimate basin stability from N perturbed runs (default 0: no)")
    p.add_argument("--perturbation", type=NONNEGATIVE, default=0.5,
                   help="basin stability: std of the kick to the log drive gain")
    add_executor_options(p)  # basin-stability runs; with a NATS bus and dask: the agents too
    p.add_argument("--measure", type=nonempty, metavar="MODULE:FACTORY",
                   help="measure factory (default: resonance_engine.metrics.ComplexityAnalyzer)")
    add_db_options(p)
    add_common_options(p)
    p.set_defaults(func=cmd_swarm)

    e = sub.add_parser("experiment", help="controlled experiments that test the blueprint's claims")
    names = e.add_subparsers(dest="experiment", metavar="NAME", parser_class=type(e))
    names.required = True
    s = names.add_parser(
        "sync",
        help="coupling mechanisms swept over K and seeds: CS > 0.95? with which traffic? "
        "-> report.md",
        description=(
            "Run every mechanism (--mechanisms) at each K of its sweep and K = 0 over several "
            "seeds with heterogeneous agents; measure Pearson CS and MDEA-CS with surrogate "
            "p-values, the bytes per tick each mechanism needs beside full states, basin "
            "stability and MFPT at the best K; write report.md with a verdict table."
        ),
    )
    s.add_argument("--mechanisms", type=name_list([*_coupling_modes(), "rl"]),
                   default=",".join(_default_mechanisms()),
                   help="comma-separated coupling modes (default: all five)")
    s.add_argument("--controllers", type=name_list([*_controllers(), "none"]),
                   default=",".join(_default_controllers()),
                   help="comma-separated controllers run as more rows (default: "
                   f"{','.join(_default_controllers())}; 'none' for none)")
    s.add_argument("--strengths", type=ParsedArg(_strength), action="append", default=[],
                   metavar="MODE=K1,K2",
                   help="K values of one mechanism (repeatable; default: its sweep)")
    s.add_argument("--policy", type=input_file, metavar="DIR/policy.zip",
                   help="a swarm policy written by 'resonance train': one more row, 'rl' "
                   "(needs the rl extra; the swarm takes the policy's --size and steps per "
                   "tick)")
    s.add_argument("--agents", type=COUNT, default=6, help="agents (default 6)")
    s.add_argument("--size", type=COUNT, default=64, help="cells per side (default 64)")
    s.add_argument("--ticks", type=COUNT, default=200, help="measured ticks per run")
    s.add_argument("--warmup", type=COUNT0, default=40, help="discarded ticks per run")
    s.add_argument("--seeds", type=COUNT, default=3, help="number of seeds (default 3)")
    s.add_argument("--window", type=COUNT, default=64, help="CS window in ticks")
    s.add_argument("--surrogates", type=COUNT0, default=200,
                   help="surrogates of each p-value (default 200; 0: none)")
    s.add_argument("--basin", type=COUNT0, default=4, metavar="N",
                   help="basin-stability kicks per mechanism at its best K (0: none)")
    s.add_argument("--perturbation", type=NONNEGATIVE, default=1.0,
                   help="std of the basin kicks (log gain, rad)")
    s.add_argument("--mfpt", type=COUNT0, default=3, metavar="N",
                   help="MFPT runs per mechanism at its best K (0: none)")
    s.add_argument("--noise", type=NONNEGATIVE, default=0.1,
                   help="MFPT noise per tick (log gain, rad)")
    s.add_argument("--horizon", type=COUNT, default=128,
                   help="ticks after a basin kick, and the MFPT horizon (default 128: the "
                   "final CS window then starts after the relaxation)")
    s.add_argument("--faults", type=name_list([*_faults(), "none"]),
                   default=",".join(_faults()),
                   help="faults of the early-warning runs on the best-synchronised mechanism "
                   f"(default {','.join(_faults())}; 'none' for no early-warning runs)")
    s.add_argument("--warning-horizon", type=COUNT, default=10, metavar="TICKS",
                   help="ticks ahead the early warning forecasts CS (default 10)")
    s.add_argument("--warning-threshold", type=number(low=-1.0, high=1.0, low_open=True),
                   metavar="CS", help="the CS whose crossing the early warning predicts "
                   "(default 0.7, the health threshold)")
    add_executor_options(s)  # where the runs and the samples execute
    s.add_argument("--bus", type=nonempty, default="memory",
                   help="bus of the full-state traffic measurement")
    s.add_argument("--measure", type=nonempty, metavar="MODULE:FACTORY",
                   help="measure factory (see swarm)")
    add_common_options(s, out_default="resonance-out/sync")
    s.set_defaults(func=cmd_experiment_sync)

    from resonance_engine.cli.measures import register_experiment

    register_experiment(names)  # resonance experiment measures


# ---------------------------------------------------------------------------- swarm
def _coupling_modes() -> list[str]:
    from resonance_engine.swarm.coupling import COUPLING_MODES, MECHANISM_MODULES

    # a trained policy (mode rl) is chosen with --controller rl:DIR/policy.zip
    return [m for m in dict.fromkeys([*COUPLING_MODES, *MECHANISM_MODULES]) if m != "rl"]


def _controllers() -> list[str]:
    from resonance_engine.swarm.controllers import CONTROLLERS

    return list(CONTROLLERS)


def _controller_spec(text: str) -> str:
    """--controller: a name of _controllers() or rl:POLICY_FILE."""
    if text in _controllers() or (text.startswith("rl:") and len(text) > 3):
        return text
    raise argparse.ArgumentTypeError(
        f"invalid choice {text!r} (choose from {', '.join(_controllers())} or rl:DIR/policy.zip)"
    )


def _coupling(args: argparse.Namespace) -> Any:
    """The Coupling named by --controller or --coupling-mode with strength --coupling (or
    its default)."""
    from resonance_engine.swarm.coupling import coupling_class, make_coupling

    mode = getattr(args, "controller", None) or args.coupling_mode
    if mode.startswith("rl:"):
        from resonance_engine.rl.policy import PolicyCoupling

        return PolicyCoupling(policy=mode[3:])
    k = args.coupling
    if k is None:
        k = coupling_class(mode).default_strength
    return make_coupling(mode, k)


def _distributed(args: argparse.Namespace) -> bool:
    """True for --bus nats://... with --executor dask or a Dask scheduler address: the
    agents then run on Dask workers (role all only)."""
    dask = args.executor == "dask" or (args.executor or "").startswith(("tcp://", "tls://"))
    return dask and args.role == "all" and args.bus.startswith("nats://")


def _agent_ids(args: argparse.Namespace) -> list[int] | None:
    if args.role != "agents":
        return None
    if not args.agent_ids:
        raise ConfigError("--role agents needs --agent-ids, e.g. --agent-ids 0,1")
    try:
        return [int(x) for x in args.agent_ids.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(
            f"--agent-ids must be comma-separated integers, got {args.agent_ids!r}"
        ) from None


def _recorder(args: argparse.Namespace, seed: int) -> Any:
    """An AgentDB recorder for this run, or None with --no-db or --role agents."""
    if args.role == "agents":
        return None  # agents do not measure; the coordinator stores
    db = open_db(args)
    if db is None:
        return None
    from resonance_engine.swarm.storage import AgentDBRecorder

    config = {
        key: getattr(args, key)
        for key in ("agents", "ticks", "coupling", "size", "steps_per_tick", "window", "bus",
                    "exchange", "measure")
    }
    return AgentDBRecorder(db, config, seed, name="swarm")


def _cs_status(run: Any, swarm: Any) -> str:
    coordinator = swarm.coordinator
    cs = math.nan if coordinator is None else coordinator.cs
    return "CS n/a" if not math.isfinite(cs) else f"CS {cs:+.3f}"


def cmd_swarm(args: argparse.Namespace) -> int:
    """Run a swarm with a live CS in the progress bar; Ctrl-C stops and still reports."""
    from resonance_engine.swarm.basin import basin_stability
    from resonance_engine.swarm.batched import Swarm, SwarmConfig, check_swarm_memory
    from resonance_engine.swarm.bus import open_bus
    from resonance_engine.swarm.plots import plot_swarm_run

    if args.agents < 2:
        raise ConfigError(f"--agents must be >= 2, got {args.agents}")
    if args.role != "all" and not args.bus.startswith("nats://"):
        raise ConfigError(f"--role {args.role} needs a NATS bus (--bus nats://host:port)")
    if args.agent_ids is not None and args.role != "agents":
        raise ConfigError(
            f"--agent-ids {args.agent_ids} is only used with --role agents (and a NATS bus); "
            "leave it out to host every agent here"
        )
    if args.window > args.ticks:
        raise ConfigError(
            f"--window {args.window} ticks is longer than the run (--ticks {args.ticks}): CS "
            "would never be computed; use a --window of at most --ticks"
        )
    check_swarm_memory(args.agents, args.size)
    seed = args.seed if args.seed is not None else 0
    measure = load_measure(args.measure)
    coupling = _coupling(args)
    args.coupling = coupling.strength
    config = SwarmConfig(size=args.size, steps_per_tick=args.steps_per_tick, window=args.window,
                         ci_average=args.ci_sampling == "average")
    out = output_dir(args.out, files=("swarm.png",))
    if args.role == "coordinator":
        return _coordinator_only(args, out)
    if _distributed(args):
        return _on_dask(args, config, coupling, seed, measure, out)
    bus = open_bus(args.bus)
    recorder = None
    interrupted = False
    start = time.perf_counter()
    try:
        recorder = _recorder(args, seed)
        swarm = Swarm(
            args.agents, config, coupling=coupling, bus=bus, seed=seed, measure=measure,
            agent_ids=_agent_ids(args), exchange=args.exchange, recorder=recorder,
        )
        with progress_bar(show_progress(args)) as bar:
            progress = ProgressTracker(bar, "swarm", interval=1, status=_cs_status)
            try:
                swarm.run(args.ticks, trackers=[progress])
            except KeyboardInterrupt:
                interrupted = True
        elapsed = time.perf_counter() - start
        swarm.drain()
        summary: dict[str, Any] = {
            "agents": args.agents,
            "agents_here": len(swarm.agents),
            "ticks": swarm.tick_count,
            "coupling_mode": coupling.mode,
            "coupling": coupling.strength,
            "coupling_unit": coupling.unit,
            "exchanged": coupling.carries,
            "grid": f"{args.size}x{args.size}",
            "seed": seed,
            "bus": args.bus,
            "ticks_per_s": swarm.tick_count / elapsed if elapsed > 0 else 0.0,
        }
        coordinator = swarm.coordinator
        if coordinator is not None:
            coordinator.finish()
            summary.update(coordinator.summary())
        summary.update({f"sampling_{k}": v for k, v in swarm.sampling().items()})
        summary["drive_order_parameter_min"] = float(swarm.drive_order_parameter().min())
        traffic = swarm.traffic_per_tick()
        summary["signature_bytes_per_tick"] = traffic["signature"]
        summary["state_bytes_per_tick"] = (
            traffic["state"] if args.exchange == "state" or coupling.state_exchange
            else "not measured (--exchange state)"
        )
        summary["full_state_bytes_per_tick_computed"] = (
            args.agents * args.size * args.size * 4
        )
        if hasattr(coupling, "summary"):
            summary.update(coupling.summary())
        summary["signatures_lost"] = bus.stats.lost
        summary["late_ticks"] = swarm.late_ticks
        if args.basin > 0 and not interrupted:
            from functools import partial

            try:
                with resolve_executor(args.executor, args.workers) as executor:
                    result = basin_stability(
                        partial(Swarm.from_snapshot, swarm.snapshot()), args.basin,
                        args.perturbation, max(args.window, 64), executor=executor,
                        threshold=0.7, seed=seed,
                    )
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: store and report what there is
                interrupted = True
                summary["basin_stability"] = "interrupted"
            else:
                summary["basin_stability"] = result.value
                summary["basin_stability_stderr"] = result.stderr
                if recorder is not None:
                    recorder.record_basin_stability(result.value, result.stderr)
                if coordinator is not None:
                    coordinator.health.check_bs(swarm.tick_count, result.value)
                    summary["alerts"] = len(coordinator.alerts)
        if coordinator is not None and coordinator.ticks:
            summary["picture"] = str(plot_swarm_run(
                coordinator.ci_history(), np.array(coordinator.cs_history), out / "swarm.png",
                f"{args.agents} agents, {coupling.mode} K = {coupling.strength:g}, seed {seed}",
            ))
        else:
            summary["picture"] = str(plot_swarm_run(
                swarm.ci_series(), np.full(swarm.tick_count, np.nan), out / "swarm.png",
                f"agents {list(swarm.agent_ids)} of {args.agents}",
            ))
        summary["interrupted"] = interrupted
        swarm.close()
        if recorder is not None:
            summary["db"] = str(args.db)
            summary["run_id"] = recorder.run_id
            summary["values_stored"] = recorder.written
            recorder.close("interrupted" if interrupted else "finished", summary)
            recorder = None
    finally:
        bus.close()
        if recorder is not None:
            recorder.close("failed")
    print_summary(args, "resonance swarm", summary)
    return 130 if interrupted else 0


def _on_dask(
    args: argparse.Namespace, config: Any, coupling: Any, seed: int, measure: Any, out: Any
) -> int:
    """``--executor dask|tcp://... --bus nats://...``: agents on Dask workers over NATS."""
    from resonance_engine.dist.dask_swarm import run_swarm_on_dask
    from resonance_engine.dist.executor import DaskExecutor
    from resonance_engine.swarm.plots import plot_swarm_run

    if args.exchange != "signature" or args.basin > 0:
        raise ConfigError(
            "the distributed swarm (--executor dask with a NATS bus) runs signature exchange "
            "only; drop --exchange state and --basin, or use --bus memory"
        )
    recorder = _recorder(args, seed)
    start = time.perf_counter()
    try:
        with resolve_executor(args.executor, args.workers) as executor:
            assert isinstance(executor, DaskExecutor)
            result = run_swarm_on_dask(
                executor, args.bus, args.agents, args.ticks, config=config, coupling=coupling,
                seed=seed, measure=measure, recorder=recorder,
            )
    except BaseException:
        if recorder is not None:
            recorder.close("failed")
        raise
    elapsed = time.perf_counter() - start
    coord = dict(result.coordinator)
    ci = np.array(coord.pop("ci")).reshape(-1, args.agents)
    cs = np.array(coord.pop("cs_history"))
    bus_stats = coord.pop("bus")
    summary: dict[str, Any] = {
        "agents": args.agents,
        "groups": len(result.groups),
        "workers": sorted({g["worker"] for g in result.groups}),
        "coupling_mode": coupling.mode,
        "coupling": coupling.strength,
        "coupling_unit": coupling.unit,
        "exchanged": coupling.carries,
        "grid": f"{args.size}x{args.size}",
        "seed": seed,
        "bus": args.bus,
        "wall_s": elapsed,
        **coord,
        "late_ticks": sum(int(g["late_ticks"]) for g in result.groups),
        "signature_bytes_received": bus_stats["bytes_in"]["signature"],
        "signature_bytes_per_tick": bus_stats["bytes_in"]["signature"] / max(1, args.ticks),
    }
    summary["picture"] = str(plot_swarm_run(
        ci, cs, out / "swarm.png",
        f"{args.agents} agents on {len(result.groups)} Dask workers, {coupling.mode} "
        f"K = {coupling.strength:g}",
    ))
    if recorder is not None:
        summary["run_id"] = recorder.run_id
        recorder.close("finished", summary)
    print_summary(args, "resonance swarm (Dask workers over NATS)", summary)
    return 0


def _coordinator_only(args: argparse.Namespace, out: Any) -> int:
    from resonance_engine.swarm.distributed import run_coordinator
    from resonance_engine.swarm.plots import plot_swarm_run

    recorder = _recorder(args, args.seed if args.seed is not None else 0)
    try:
        result = run_coordinator(
            args.bus, args.agents, args.ticks, window=args.window, recorder=recorder
        )
    except BaseException:
        if recorder is not None:
            recorder.close("failed")
        raise
    if recorder is not None:
        result["run_id"] = recorder.run_id
        recorder.close("finished", {k: v for k, v in result.items() if k not in ("ci", "bus")})
    ci = np.array(result.pop("ci")).reshape(-1, args.agents)
    cs = np.array(result.pop("cs_history"))
    bus_stats = result.pop("bus")
    result["signature_bytes_received"] = bus_stats["bytes_in"]["signature"]
    result["picture"] = str(plot_swarm_run(ci, cs, out / "swarm.png", "coordinator"))
    print_summary(args, "resonance swarm (coordinator)", result)
    return 0


# ---------------------------------------------------------------------------- experiment
def _floats(option: str, text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"{option} must be comma-separated numbers, got {text!r}") from None
    if any(not (math.isfinite(v) and v > 0) for v in values):
        raise ConfigError(f"{option} values must be finite and > 0, got {text!r}")
    return values


def _default_mechanisms() -> tuple[str, ...]:
    from resonance_engine.swarm.experiment import DEFAULT_MECHANISMS

    return DEFAULT_MECHANISMS


def _faults() -> list[str]:
    from resonance_engine.swarm.early_warning import FAULTS

    return [f for f in FAULTS if f != "none"]


def _default_controllers() -> tuple[str, ...]:
    from resonance_engine.swarm.experiment import DEFAULT_CONTROLLERS

    return DEFAULT_CONTROLLERS


def _strength(item: str) -> tuple[str, tuple[float, ...]]:
    """One --strengths MODE=K1,K2."""
    mode, sep, values = item.partition("=")
    if not sep or not mode.strip():
        raise ConfigError(f"--strengths must look like MODE=K1,K2, got {item!r}")
    return mode.strip(), _floats(f"--strengths {mode.strip()}", values)


def _warning_summary(w: dict[str, Any]) -> str:
    if not w["measured"]:
        return f"not measured: {w['why']}"
    warned = sum(w[f]["warned_before_crossing"] for f in w["faults"])
    crossed = sum(w[f]["runs_crossing"] for f in w["faults"])
    return (f"{w['mechanism']}: {warned} of {crossed} fault-driven crossings warned; "
            f"false-alarm rate {w['false_alarm_rate']:.2f} on the runs without faults")


def cmd_experiment_sync(args: argparse.Namespace) -> int:
    """Run the synchronization experiment and write report.md."""
    import shlex
    import sys

    from resonance_engine.swarm.experiment import SyncExperimentConfig, run_sync_experiment

    seed = args.seed if args.seed is not None else 0
    mechanisms = tuple(args.mechanisms)
    controllers = [c for c in args.controllers if c != "none"]
    mechanisms = tuple(dict.fromkeys([*mechanisms, *controllers]))
    options: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    if args.policy:
        mechanisms = (*[m for m in mechanisms if m != "rl"], "rl")
        options = (("rl", (("policy", args.policy),)),)
    elif "rl" in mechanisms:
        raise ConfigError("the mechanism rl needs --policy DIR/policy.zip")
    cfg = SyncExperimentConfig(
        options=options, agents=args.agents, size=args.size, warmup=args.warmup, ticks=args.ticks,
        window=args.window, seeds=tuple(range(seed, seed + args.seeds)),
        mechanisms=mechanisms, strengths=tuple(args.strengths),
        surrogates=args.surrogates, basin_samples=args.basin,
        basin_perturbation=args.perturbation, mfpt_runs=args.mfpt, mfpt_noise=args.noise,
        horizon=args.horizon, faults=tuple(f for f in args.faults if f != "none"),
        warning_horizon=args.warning_horizon, warning_threshold=args.warning_threshold,
    )
    measure = load_measure(args.measure)
    out = output_dir(args.out)
    # uncoupled swarms are expected to raise CS alerts: the report counts them instead
    logging.getLogger("resonance_engine.swarm.health").setLevel(logging.ERROR)
    with progress_bar(show_progress(args)) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total, status="")
            bar.update(tasks[stage], completed=done)

        with resolve_executor(args.executor, args.workers) as executor:
            results = run_sync_experiment(
                cfg, out, measure=measure, bus=args.bus, executor=executor, progress=progress,
                command="resonance " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "",
            )
    summary = {
        "report": results["report"],
        "verdicts": results["verdicts"],
        "early_warning": {k: v for k, v in results["early_warning"].items() if k != "trials"},
        "seconds": results["seconds"],
    }
    if args.json:
        print_summary(args, "resonance experiment sync", summary)
    else:
        print_summary(args, "resonance experiment sync", {
            f"{v['mechanism']}": (
                f"CS {v['cs_mean']:.3f} +- {v['cs_sd']:.3f} at K = {v['best_strength']:g}; "
                f"> {cfg.claim_cs}: {'yes' if v['cs_above_claim'] and v['significant'] else 'no'}"
                f"; {v['coupling_bytes_per_tick']:,.0f} B/tick; without state sync: "
                f"{v['without_state_synchronization']}"
            ) for v in results["verdicts"]
        } | {"early warning": _warning_summary(results["early_warning"]),
             "report": results["report"], "seconds": round(results["seconds"], 1)})
    return 0
