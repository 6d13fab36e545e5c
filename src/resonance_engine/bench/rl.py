"""RL benchmark: environment steps per second against the bare engine, in the same run.

For the swarm environment (:class:`~resonance_engine.rl.swarm_env.SwarmEnv`) at every
agent count of ``--agents`` and grid side of ``--sizes``, and for the field environment
(:class:`~resonance_engine.rl.field_env.WaveFieldEnv`) at every side of ``--sizes``:

- ``env steps/s``: ``env.step`` with zero actions (for the swarm: one tick of all agents;
  ``agent-steps/s`` multiplies by the agents, which is what SB3 counts as timesteps);
- ``bare solver ticks/s``: the same environment's solver (for the swarm: its ONE batched
  solver) stepping ``steps_per_tick`` steps, nothing else: what the engine alone does;
- ``env / bare solver``: the ratio of the two, timed in alternating rounds
  (:func:`~resonance_engine.bench.interleaved_seconds`) so that load hits both alike;
- ``share solver``, ``share measures``, ``share wrapper``: where the time of the
  environment steps went, from timers put around the solver's ``step`` and the measure
  inside the environment (the wrapper share is the rest: drive updates, signatures, the
  bus, CS, observations and rewards).

The environments need gymnasium and PettingZoo only (no torch).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from resonance_engine.bench import interleaved_seconds
from resonance_engine.cli.args import COUNT, NONNEGATIVE, integers

__all__ = ["add_arguments", "run", "time_calls"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--agents", type=integers(low=2), default="8,32,128",
                   help="swarm sizes, comma-separated")
    p.add_argument("--sizes", type=integers(low=16), default="64,128",
                   help="grid sides, comma-separated")
    p.add_argument("--steps-per-tick", type=COUNT, default=10, help="solver steps per env step")
    p.add_argument("--ticks", type=COUNT, default=20,
                   help="env steps of the share measurement (default 20)")
    p.add_argument("--field", action=argparse.BooleanOptionalAction, default=True,
                   help="also the one-field environment (default on)")
    p.add_argument("--repeats", type=COUNT, default=3, help="timed rounds; the median is reported")
    p.add_argument("--min-time", type=NONNEGATIVE, default=0.2,
                   help="least length of one timed round (s)")


def time_calls(obj: Any, name: str, totals: dict[str, float], key: str) -> None:
    """Put a timer around ``obj.name`` (an instance attribute shadowing the method): every
    call adds its wall time (s) to ``totals[key]``."""
    inner: Callable[..., Any] = getattr(obj, name)
    totals.setdefault(key, 0.0)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - start

    setattr(obj, name, timed)


def _shares(step: Callable[[], object], ticks: int, totals: dict[str, float]) -> dict[str, float]:
    for key in totals:
        totals[key] = 0.0
    start = time.perf_counter()
    for _ in range(ticks):
        step()
    wall = time.perf_counter() - start
    shares = {f"share {key}": value / wall for key, value in totals.items()}
    shares["share wrapper"] = 1.0 - sum(shares.values())
    return shares


def _figures(
    label: str,
    env_step: Callable[[], object],
    bare_step: Callable[[], object],
    agents: int,
    totals: dict[str, float],
    args: argparse.Namespace,
) -> dict[str, float]:
    times, ratios = interleaved_seconds(
        {"bare": bare_step, "env": env_step}, repeats=args.repeats, min_time=args.min_time
    )
    out = {
        f"{label} env steps/s": 1.0 / times["env"],
        f"{label} bare solver ticks/s": 1.0 / times["bare"],
        f"{label} env / bare solver": ratios["env"],
    }
    if agents > 1:
        out[f"{label} agent-steps/s"] = agents / times["env"]
    out.update({f"{label} {k}": v for k, v in _shares(env_step, args.ticks, totals).items()})
    return out


def _swarm(n: int, size: int, args: argparse.Namespace) -> dict[str, float]:
    from resonance_engine.rl.swarm_env import SwarmEnv

    env = SwarmEnv(n_agents=n, size=size, steps_per_tick=args.steps_per_tick,
                   episode_ticks=2**31, warmup_ticks=2, window=8)
    try:
        env.reset(seed=0)
        assert env.swarm is not None
        swarm = env.swarm
        zeros = {a: np.zeros(3, dtype=np.float32) for a in env.possible_agents}
        totals: dict[str, float] = {}
        time_calls(swarm.solver, "step", totals, "solver")
        time_calls(swarm, "_measure", totals, "measures")
        spt = args.steps_per_tick

        def bare() -> None:
            swarm.solver.step(spt)

        return _figures(f"swarm {n} agents {size}^2", lambda: env.step(zeros), bare, n,
                        totals, args)
    finally:
        env.close()


def _field(size: int, args: argparse.Namespace) -> dict[str, float]:
    from resonance_engine.rl.field_env import WaveFieldEnv

    env = WaveFieldEnv(size=size, steps_per_tick=args.steps_per_tick, episode_ticks=2**31,
                       warmup_ticks=2)
    try:
        env.reset(seed=0)
        solver, tracker = env._solver, env._measure
        assert solver is not None
        totals: dict[str, float] = {}
        time_calls(solver, "step", totals, "solver")
        time_calls(tracker, "handle", totals, "measures")
        zero = np.zeros(3, dtype=np.float32)
        spt = args.steps_per_tick

        def bare() -> None:
            solver.step(spt)

        return _figures(f"field {size}^2", lambda: env.step(zero), bare, 1, totals, args)
    finally:
        env.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    agents, sizes = list(args.agents), list(args.sizes)
    summary: dict[str, Any] = {"load before": os.getloadavg()[0],
                               "steps per env step": args.steps_per_tick}
    for size in sizes:
        if args.field:
            summary.update(_field(size, args))
        for n in agents:
            summary.update(_swarm(n, size, args))
    summary["load after"] = os.getloadavg()[0]
    return summary
