"""Basin stability and mean first passage time of a synchronized swarm.

Basin stability (BS)
    Start from a synchronized swarm (``swarm_factory()`` returns one, e.g. rebuilt from a
    snapshot), kick every agent's log drive gain and drive phases by
    ``perturbation * N(0, 1)`` (log gain; rad), run
    ``horizon`` ticks with a fresh CS window, and call the sample a success when CS at the
    horizon is >= ``threshold``. BS = successes / n with standard error sqrt(p (1 - p) / n).
    ``horizon`` must cover the coordinator's window, so the final CS only sees
    post-perturbation ticks; make it longer than the window by the relaxation time (e.g.
    twice the window), or the final window still holds the relaxation from the kick.

Mean first passage time (MFPT)
    Start from a synchronized swarm, run one window without noise (so the CS window is
    full), then switch on noise of strength ``noise`` on the log drive gains and count the
    ticks until CS first drops below ``threshold``. Runs that have not escaped after
    ``horizon`` ticks are *censored*: they are reported separately and not averaged in
    as if they had escaped at the horizon. The mean over escaped runs is therefore
    conditional on escaping within the horizon; ``restricted_mean`` (the mean of
    min(T, horizon) over all runs) is a lower bound of the unconditional MFPT; and
    ``censored_mean`` = sum of min(T, horizon) over all runs / number of escapes is the
    maximum-likelihood MFPT for exponentially distributed escape times with right
    censoring (the usual estimator when escape is a rare, memoryless event).

Both restart from snapshots (``Swarm.snapshot``) that hold everything the swarm's future
depends on, the measure's dwell-time memory included, so an unperturbed restart continues
exactly as the original swarm would: a synchronized swarm kicked by 0 gives BS = 1.

Samples run in parallel through a ``concurrent.futures``-style executor (anything with
``submit(fn, *args)`` returning futures with ``result()``): by default the package's one
process pool, :class:`resonance_engine.dist.LocalExecutor` (spawn start method), or a
Dask ``client.get_executor()`` to spread them over a cluster. The factory must then be
picklable (a module-level function or ``functools.partial``, e.g.
``partial(Swarm.from_snapshot, swarm.snapshot())``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from resonance_engine.errors import ConfigError

__all__ = ["BasinStability", "FirstPassage", "basin_stability", "mean_first_passage_time"]

#: () -> a synchronized swarm (anything with perturb, reset_coordinator, run, tick,
#: noise, seed_noise, config.window and coordinator.cs, like
#: :class:`~resonance_engine.swarm.Swarm`).
SwarmFactory = Callable[[], Any]


@dataclass(frozen=True)
class BasinStability:
    """Result of :func:`basin_stability`.

    Attributes
    ----------
    value : float
        Fraction of perturbed runs whose CS returned to >= threshold.
    stderr : float
        sqrt(value (1 - value) / n_samples).
    n_samples, successes : int
    final_cs : tuple of float
        CS at the horizon of every sample.
    baseline_cs : float
        CS at the horizon of the same swarm run without perturbation (NaN if not run).
    threshold, perturbation : float
    horizon : int
    """

    value: float
    stderr: float
    n_samples: int
    successes: int
    final_cs: tuple[float, ...]
    baseline_cs: float
    threshold: float
    perturbation: float
    horizon: int


@dataclass(frozen=True)
class FirstPassage:
    """Result of :func:`mean_first_passage_time` (times in ticks).

    Attributes
    ----------
    mean_time : float
        Mean first passage time over the runs that escaped (NaN if none did).
    stderr : float
        Standard error of that mean (NaN with fewer than 2 escapes).
    restricted_mean : float
        Mean of min(T, horizon) over all runs: a lower bound of the MFPT.
    censored_mean : float
        Sum of min(T, horizon) over all runs / n_escaped: the maximum-likelihood MFPT of
        exponential escape times with right censoring (NaN if no run escaped).
    n_runs, n_escaped, n_censored : int
    times : tuple of int or None
        First passage tick of each run, None for censored runs.
    noise, threshold : float
    horizon : int
    """

    mean_time: float
    stderr: float
    restricted_mean: float
    censored_mean: float
    n_runs: int
    n_escaped: int
    n_censored: int
    times: tuple[int | None, ...]
    noise: float
    threshold: float
    horizon: int


def _seeds(seed: int, n: int) -> list[int]:
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


def _default_executor(n_tasks: int) -> Executor:
    # the one process pool (rebuilds itself when a worker dies, workers end with their
    # parent); imported here because dist sits above swarm in the layer order
    from resonance_engine.dist.executor import LocalExecutor

    return LocalExecutor(max(1, min(n_tasks, os.cpu_count() or 1)))


def _run_all(
    executor: Executor | None, fn: Callable[..., Any], tasks: list[tuple[Any, ...]]
) -> list[Any]:
    own = executor is None
    pool = _default_executor(len(tasks)) if executor is None else executor
    try:
        futures = [pool.submit(fn, *task) for task in tasks]
        return [f.result() for f in futures]
    finally:
        if own:
            pool.shutdown()


def basin_sample(
    swarm_factory: SwarmFactory, perturbation: float, horizon: int, seed: int
) -> float:
    """One basin-stability sample: perturb, run ``horizon`` ticks, return the final CS."""
    swarm = swarm_factory()
    try:
        if horizon < swarm.config.window:
            raise ConfigError(
                f"basin-stability horizon {horizon} is shorter than the CS window "
                f"{swarm.config.window}; use horizon >= window"
            )
        swarm.perturb(perturbation, np.random.default_rng(seed))
        swarm.reset_coordinator()
        swarm.run(horizon)
        return float(swarm.coordinator.cs)
    finally:
        close = getattr(swarm, "close", None)
        if close is not None:
            close()


def basin_stability(
    swarm_factory: SwarmFactory,
    n_samples: int = 20,
    perturbation: float = 0.5,
    horizon: int = 128,
    executor: Executor | None = None,
    threshold: float = 0.7,
    seed: int = 0,
    baseline: bool = True,
) -> BasinStability:
    """Fraction of perturbed synchronized swarms that return to CS >= ``threshold``.

    Parameters
    ----------
    swarm_factory : callable
        () -> a synchronized swarm (picklable when the executor is a process pool).
    n_samples : int
        Perturbed runs, >= 1.
    perturbation : float
        Standard deviation of the kick to each agent's log drive gain.
    horizon : int
        Ticks after the kick (>= the CS window).
    executor : concurrent.futures.Executor, optional
        Where samples run; default a process pool with one worker per core (spawn).
    threshold : float
        CS at or above which a run counts as back in the synchronized state.
    seed : int
        Seed of the kicks (each sample gets its own stream).
    baseline : bool
        Also run the swarm once without a kick, to report the CS it would have had.
    """
    if not isinstance(n_samples, int) or n_samples < 1:
        raise ConfigError(f"n_samples must be an integer >= 1, got {n_samples!r}")
    if not (math.isfinite(perturbation) and perturbation >= 0):
        raise ConfigError(f"perturbation must be finite and >= 0, got {perturbation!r}")
    tasks = [(swarm_factory, perturbation, horizon, s) for s in _seeds(seed, n_samples)]
    if baseline:
        tasks.append((swarm_factory, 0.0, horizon, 0))
    cs = _run_all(executor, basin_sample, tasks)
    final = cs[:n_samples]
    successes = sum(1 for c in final if math.isfinite(c) and c >= threshold)
    p = successes / n_samples
    return BasinStability(
        value=p,
        stderr=math.sqrt(p * (1 - p) / n_samples),
        n_samples=n_samples,
        successes=successes,
        final_cs=tuple(final),
        baseline_cs=cs[-1] if baseline else math.nan,
        threshold=threshold,
        perturbation=perturbation,
        horizon=horizon,
    )


def passage_sample(
    swarm_factory: SwarmFactory, noise: float, horizon: int, threshold: float, seed: int
) -> int | None:
    """One MFPT run: settle one window, add noise, return the escape tick or None."""
    swarm = swarm_factory()
    try:
        swarm.noise = 0.0
        swarm.run(swarm.config.window)
        swarm.noise = noise
        swarm.seed_noise(seed)
        for t in range(1, horizon + 1):
            swarm.tick()
            cs = swarm.coordinator.cs
            if math.isfinite(cs) and cs < threshold:
                return t
        return None
    finally:
        close = getattr(swarm, "close", None)
        if close is not None:
            close()


def mean_first_passage_time(
    swarm_factory: SwarmFactory,
    noise: float,
    horizon: int = 256,
    n_runs: int = 10,
    threshold: float = 0.7,
    executor: Executor | None = None,
    seed: int = 0,
) -> FirstPassage:
    """Mean time (ticks) until CS first drops below ``threshold`` under noise.

    See the module docstring for the censoring rule. Parameters as in
    :func:`basin_stability`; ``noise`` is the per-tick standard deviation added to every
    agent's log drive gain.
    """
    if not isinstance(n_runs, int) or n_runs < 1:
        raise ConfigError(f"n_runs must be an integer >= 1, got {n_runs!r}")
    if not isinstance(horizon, int) or horizon < 1:
        raise ConfigError(f"horizon must be an integer >= 1, got {horizon!r}")
    if not (math.isfinite(noise) and noise >= 0):
        raise ConfigError(f"noise must be finite and >= 0, got {noise!r}")
    tasks = [(swarm_factory, noise, horizon, threshold, s) for s in _seeds(seed, n_runs)]
    times: list[int | None] = _run_all(executor, passage_sample, tasks)
    escaped = np.array([t for t in times if t is not None], dtype=float)
    censored = n_runs - escaped.size
    mean = float(escaped.mean()) if escaped.size else math.nan
    stderr = float(escaped.std(ddof=1) / math.sqrt(escaped.size)) if escaped.size > 1 else math.nan
    observed = [horizon if t is None else t for t in times]
    restricted = float(np.mean(observed))
    censored_mean = float(np.sum(observed) / escaped.size) if escaped.size else math.nan
    return FirstPassage(
        mean, stderr, restricted, censored_mean, n_runs, int(escaped.size), int(censored),
        tuple(times), noise, threshold, horizon,
    )
