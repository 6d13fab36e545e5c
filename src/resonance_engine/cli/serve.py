"""``resonance serve``: run a simulation and watch it live in a browser."""

from __future__ import annotations

import argparse
import csv
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from resonance_engine.backends import BACKEND_NAMES
from resonance_engine.cli.args import (
    COUNT,
    NONNEGATIVE,
    PORT,
    POSITIVE,
    host_name,
    input_file,
    integer,
    nonempty,
)
from resonance_engine.cli.common import (
    add_common_options,
    output_dir,
    print_summary,
    run_config_from_args,
    warn_without_sources,
)
from resonance_engine.cli.db import add_db_options
from resonance_engine.config import RunConfig
from resonance_engine.errors import ConfigError

__all__ = ["register", "cmd_serve", "security_notice"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run a simulation and watch the field and its metrics live in a browser",
        description=(
            "Start a simulation and a web dashboard (live heatmap of the field, charts of "
            "the metrics, pause/resume and live damping, wave speed and source frequency). "
            "Runs until Ctrl-C, then writes the final field and the metric history to --out."
        ),
    )
    p.add_argument("--config", type=input_file, metavar="FILE.toml",
                   help="run configuration (see README)")
    p.add_argument(
        "--size",
        type=COUNT,
        help="grid cells per side of the default pond (default 256; 128 per agent with --swarm)",
    )
    p.add_argument("--backend", choices=BACKEND_NAMES, help="compute backend (default auto)")
    p.add_argument(
        "--host",
        type=host_name,
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    p.add_argument(
        "--allow-host",
        type=host_name,
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests naming this host (repeatable; '*' allows any). Only "
        "loopback names and --host are answered otherwise (protection against DNS rebinding)",
    )
    p.add_argument(
        "--port", type=PORT, default=8765, help="TCP port (default 8765; 0 picks a free one)"
    )
    p.add_argument(
        "--token",
        type=nonempty,
        help="require this token for the page and the WebSocket "
        "('auto' makes a random one); the printed URL carries it",
    )
    p.add_argument("--fps", type=POSITIVE, default=30.0,
                   help="largest frame rate sent (default 30)")
    p.add_argument(
        "--max-side",
        type=COUNT,
        default=256,
        help="largest frame side in cells; bigger fields are block-averaged (default 256)",
    )
    p.add_argument(
        "--metrics-every",
        type=COUNT,
        metavar="N",
        help="steps between metric rows (default: the config's metrics_every, else 50)",
    )
    p.add_argument(
        "--chunk", type=COUNT, default=10,
        help="steps between two looks at the controls (default 10)",
    )
    p.add_argument(
        "--metrics",
        choices=("complexity", "stats"),
        default="complexity",
        help="what the charts show: D, G, C, tau, CI (default; the config's [metrics] table "
        "sets their parameters) or the field's RMS and peak |u| ('stats', not stored)",
    )
    p.add_argument(
        "--swarm",
        type=integer(low=2),
        metavar="N",
        help="run a swarm of N agents (needs resonance_engine.swarm)",
    )
    p.add_argument(
        "--coupling",
        type=NONNEGATIVE,
        default=0.3,
        help="coupling strength K of the swarm's agents (default 0.3; 0 = independent)",
    )
    p.add_argument(
        "--steps-per-tick",
        type=COUNT,
        default=10,
        help="solver steps per swarm tick (default 10)",
    )
    p.add_argument(
        "--engine",
        choices=("python", "browser"),
        default="python",
        help="where the simulation runs: here (default) or in the browser (the page runs the "
        "WGSL shaders on WebGPU, or its JavaScript fallback; the server only serves the page "
        "and stores the metrics it sends)",
    )
    add_db_options(p)
    p.add_argument(
        "--replay",
        metavar="RUN",
        type=COUNT,
        help="show run RUN of --db read-only (its metric history) instead of simulating",
    )
    add_common_options(p)
    p.set_defaults(func=cmd_serve)


def security_notice(host: str, token: str | None) -> str | None:
    """The warning to print for a server reachable from other machines without a token."""
    from resonance_engine.web.server import is_loopback

    if is_loopback(host) or token is not None:
        return None
    return (
        f"resonance serve: warning: listening on {host} without authentication: anyone who "
        "can reach this port can watch and control the run; use --token (or --token auto) "
        "or --host 127.0.0.1"
    )


def _metrics_source(choice: str, config: RunConfig) -> Any:
    from resonance_engine.metrics import ComplexityAnalyzer
    from resonance_engine.web.chart_feeds import ComplexityFeed, FieldStatsFeed

    if choice == "stats":
        return FieldStatsFeed()
    return ComplexityFeed(ComplexityAnalyzer(config.metrics))


def _swarm(args: argparse.Namespace, config: RunConfig) -> Any:
    from resonance_engine.swarm import Swarm, SwarmConfig

    simulation = config.simulation if args.config else None
    swarm_config = SwarmConfig(
        size=config.simulation.nx,
        steps_per_tick=args.steps_per_tick,
        backend=config.simulation.backend,
        simulation=simulation,
    )
    recorder = None
    if not args.no_db:
        from resonance_engine.cli.db import open_db
        from resonance_engine.swarm.storage import AgentDBRecorder

        db = open_db(args)
        assert db is not None
        stored = {
            "agents": args.swarm,
            "coupling": args.coupling,
            "size": config.simulation.nx,
            "steps_per_tick": args.steps_per_tick,
            "command": "serve",
        }
        recorder = AgentDBRecorder(db, stored, config.seed, name="serve")
    try:
        swarm = Swarm(
            args.swarm, swarm_config, coupling=args.coupling, seed=config.seed, recorder=recorder
        )
    except BaseException:
        if recorder is not None:
            recorder.close("failed")
            recorder.db.close()
        raise
    return swarm, recorder


def _recorder(args: argparse.Namespace, config: RunConfig, source: Any) -> Any:
    """A RunRecorder on --db for the complexity measures (None with --no-db, or when
    the charts show field statistics, which AgentDB does not keep)."""
    if args.no_db or not getattr(source, "store_types", None):
        return None
    from resonance_engine.cli.db import open_db
    from resonance_engine.store import RunRecorder

    db = open_db(args)
    assert db is not None
    return RunRecorder.start(db, config.model_dump(mode="json"), config.seed, name="serve")


def _serve_replay(args: argparse.Namespace, token: str | None) -> int:
    from resonance_engine.store import AgentDB
    from resonance_engine.web.replay import ReplayRunner
    from resonance_engine.web.server import Dashboard

    if not Path(args.db).exists():
        raise ConfigError(f"--replay: no database at {str(args.db)!r}; pass --db PATH")
    with AgentDB(args.db, readonly=True) as db:
        replay = ReplayRunner.from_db(db, args.replay)
    dashboard = Dashboard(
        replay,
        token=token,
        title=f"resonance-engine · replay of {replay.title}",
        allowed_hosts=args.allow_host,
    )
    notice = security_notice(args.host, token)
    info = sys.stderr if args.json else sys.stdout

    def ready(dash: Dashboard) -> None:
        if notice:
            sys.stderr.write(notice + "\n")
        info.write(f"resonance serve: replay of {replay.title} at {dash.url()} (Ctrl-C stops)\n")
        info.flush()

    dashboard.serve(args.host, args.port, on_ready=ready)
    print_summary(
        args,
        "resonance serve --replay",
        {
            "url": dashboard.url(with_token=False),
            "run_id": args.replay,
            "moments": len(replay.rows),
            "db": str(args.db),
        },
    )
    return 0


def _serve_browser(args: argparse.Namespace, token: str | None) -> int:
    """Serve the browser engine's page; store the metric rows it sends (unless --no-db)."""
    from resonance_engine.cli.export_web import site_from_args
    from resonance_engine.web.server import Dashboard
    from resonance_engine.web.site_app import create_site_app

    if args.swarm is not None:
        raise ConfigError("--engine browser runs one field; drop --swarm")
    site = site_from_args(args)
    recorder = None
    if not args.no_db:
        from resonance_engine.cli.db import open_db
        from resonance_engine.store import RunRecorder

        db = open_db(args)
        assert db is not None
        stored_config = {**site, "engine": "browser"}
        recorder = RunRecorder.start(db, stored_config, args.seed or 0, name="serve-browser")
    app = create_site_app(site, recorder=recorder, token=token, allowed_hosts=args.allow_host)
    dashboard = Dashboard(None, token=token, app=app)
    notice = security_notice(args.host, token)
    info = sys.stderr if args.json else sys.stdout

    def ready(dash: Dashboard) -> None:
        if notice:
            sys.stderr.write(notice + "\n")
        info.write(f"resonance serve: the browser engine's page at {dash.url()} (Ctrl-C stops)\n")
        info.flush()

    try:
        dashboard.serve(args.host, args.port, on_ready=ready)
    finally:
        if recorder is not None:
            recorder.close("finished", {"frames": app.state.stored["frames"]})
            recorder.db.close()
    sim = site["simulation"]
    print_summary(
        args,
        "resonance serve --engine browser",
        {
            "url": dashboard.url(with_token=False),
            "grid": f"{sim['nx']}x{sim['ny']}",
            "frames_stored": app.state.stored["frames"],
            "run_id": None if recorder is None else recorder.run_id,
            "db": None if recorder is None else str(args.db),
        },
    )
    return 0


def _write_history(path: Path, names: tuple[str, ...], rows: list[list[float]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "t", *names])
        writer.writerows(rows)
    return path


#: Third-party modules of the optional ``web`` extra (the only import ``serve`` may miss).
WEB_EXTRA = ("starlette", "uvicorn", "websockets")


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted; then write field.png and metrics.csv to --out."""
    try:
        from resonance_engine.web.runner import SimulationRunner
        from resonance_engine.web.server import Dashboard
    except ImportError as exc:
        if exc.name not in WEB_EXTRA:
            raise  # a broken installation fails loudly
        raise ConfigError(
            f"resonance serve needs the web extra ({exc.name} is missing): "
            "pip install 'resonance-engine[web]'"
        ) from None
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be in [0, 65535], got {args.port}")
    token = secrets.token_urlsafe(16) if args.token == "auto" else args.token
    if token is not None and not token:
        raise ConfigError("--token must not be empty")
    if args.replay is not None:
        return _serve_replay(args, token)
    if args.engine == "browser":
        return _serve_browser(args, token)
    # the analyzer costs ~100 steps: measure every 50 to keep the run moving
    default_size = 128 if args.swarm else 256
    config = run_config_from_args(args, default_size, default_metrics_every=50)
    options: dict[str, Any] = {"fps": args.fps, "max_side": args.max_side}
    recorder: Any = None
    runner: SimulationRunner | None = None
    # what can be refused is refused before the output folder and the database are made
    single = config.simulation.build() if args.swarm is None else None
    if args.swarm is not None:
        from resonance_engine.swarm.batched import check_swarm_memory

        check_swarm_memory(args.swarm, config.simulation.nx)
    out = output_dir(args.out, files=("field.png", "metrics.csv"))
    warn_without_sources(args, config)
    try:
        if single is None:
            swarm, recorder = _swarm(args, config)
            runner = SimulationRunner.for_swarm(swarm, **options)
        else:
            runner = SimulationRunner(
                single,
                _metrics_source(args.metrics, config),
                chunk=args.chunk,
                metrics_every=config.metrics_every,
                **options,
            )
            recorder = runner.recorder = _recorder(args, config, runner.metrics)
        solver = runner.solver
        title = f"resonance-engine · {solver.nx}×{solver.ny}"
        if args.swarm is not None:
            title += f" · swarm of {args.swarm}"
        dashboard = Dashboard(runner, token=token, title=title, allowed_hosts=args.allow_host)
        notice = security_notice(args.host, token)
        info = sys.stderr if args.json else sys.stdout

        def ready(dash: Dashboard) -> None:
            if notice:
                sys.stderr.write(notice + "\n")
            info.write(f"resonance serve: dashboard at {dash.url()} (Ctrl-C stops)\n")
            info.flush()

        start = time.perf_counter()
        dashboard.serve(args.host, args.port, on_ready=ready)
    finally:
        if recorder is not None:
            failed = runner is None or runner.error is not None
            steps = None if runner is None else runner.solver.step_count
            recorder.close("failed" if failed else "finished", {"steps": steps})
            recorder.db.close()
    elapsed = time.perf_counter() - start
    from resonance_engine.viz import save_field_png

    picture = save_field_png(
        runner.field(), out / "field.png", f"u at t = {solver.t:.3f} s (step {solver.step_count})"
    )
    history = _write_history(out / "metrics.csv", runner.series, runner.history())
    summary: dict[str, Any] = {
        "url": dashboard.url(with_token=False),
        "grid": f"{solver.nx}x{solver.ny}",
        "steps": solver.step_count,
        "t": solver.t,
        "served_s": elapsed,
        "frames_encoded": runner.frames_encoded,
        "metrics": runner.description,
        "error": runner.error,
        "picture": str(picture),
        "history": str(history),
        "run_id": None if recorder is None else recorder.run_id,
        "db": None if recorder is None else str(args.db),
    }
    print_summary(args, "resonance serve", summary)
    return 0
